"""Marshmallow schemas of the storefront customer API.

Input schemas reject unknown fields (marshmallow's default, RAISE), so what a customer
may set is decided here, field by field: a body carrying `status`, `email` or a
purchase figure is a 422 naming that field, never silently half-applied. Lengths match
the columns, so no input reaches the database longer than it can hold; the meaning of
values (phone numbers, countries, languages, password rules) is checked by the services.
"""

import marshmallow as ma
from flask import current_app
from marshmallow import ValidationError, validate, validates_schema

from app.blueprints.customers.models import CONSENT_PURPOSES, CONTACT_CHANNELS, PHONE_KINDS
from app.blueprints.customers.schemas import StrictBoolean


def text(max_length: int, *, min_length: int | None = None, **kwargs) -> ma.fields.String:
    return ma.fields.String(validate=validate.Length(min=min_length, max=max_length), **kwargs)


def required_text(max_length: int, **kwargs) -> ma.fields.String:
    return text(max_length, min_length=1, required=True, **kwargs)


def language_field(**kwargs) -> ma.fields.String:
    return ma.fields.String(
        allow_none=True,
        validate=validate.Length(max=35),
        metadata={"description": "BCP 47, like nl or pt-BR"},
        **kwargs,
    )


EMAIL = {"format": "email", "description": "Compared case-insensitively"}


# --- shared pieces --------------------------------------------------------------------


class StorePhoneSchema(ma.Schema):
    number = required_text(
        40,
        metadata={
            "description": "Stored in E.164 (+31612345678); a number without a country code "
            "is read as the customer's country"
        },
    )
    kind = ma.fields.String(load_default="mobile", validate=validate.OneOf(PHONE_KINDS))


class StoreCustomerProfileSchema(ma.Schema):
    """The signed-in customer as they may see themselves. Internal figures (segments,
    RFM scores, predicted value, tags, acquisition data) are not part of it."""

    id = ma.fields.Integer()
    email = ma.fields.String(metadata={"format": "email"})
    first_name = ma.fields.String()
    last_name = ma.fields.String()
    company = ma.fields.String(allow_none=True)
    vat_number = ma.fields.String(allow_none=True)
    date_of_birth = ma.fields.Date(allow_none=True)
    gender = ma.fields.String(allow_none=True)
    country = ma.fields.String(allow_none=True, metadata={"description": "ISO 3166-1 alpha-2"})
    region = ma.fields.String(allow_none=True)
    city = ma.fields.String(allow_none=True)
    language = ma.fields.String(allow_none=True, metadata={"description": "BCP 47, like nl or pt-BR"})
    timezone = ma.fields.String(allow_none=True, metadata={"description": "IANA, like Europe/Amsterdam"})
    preferred_channel = ma.fields.String()
    preferred_categories = ma.fields.List(ma.fields.String())
    preferred_brands = ma.fields.List(ma.fields.String())
    phones = ma.fields.List(ma.fields.Nested(StorePhoneSchema))
    status = ma.fields.String(metadata={"description": "lead, active, inactive or blocked; read-only"})
    order_count = ma.fields.Integer(metadata={"description": "Read-only"})
    total_spent = ma.fields.Decimal(
        as_string=True, places=2, metadata={"description": "Decimal string in `currency`; read-only"}
    )
    currency = ma.fields.Function(
        lambda _customer: current_app.config["STORE_CURRENCY"], metadata={"description": "ISO 4217"}
    )
    created_at = ma.fields.AwareDateTime()


class CustomerSessionSchema(ma.Schema):
    """A customer bearer token with the customer it acts for. The token is shown in this
    response only; send it as `Authorization: Bearer <token>` (never in a URL)."""

    token = ma.fields.String()
    token_type = ma.fields.String(metadata={"description": "Always Bearer"})
    expires_at = ma.fields.AwareDateTime()
    customer = ma.fields.Nested(StoreCustomerProfileSchema)


class StoreMessageSchema(ma.Schema):
    detail = ma.fields.String()


# --- sign-up, sign-in, password reset -------------------------------------------------


class RegistrationSchema(ma.Schema):
    class Meta:
        description = (
            "A new storefront account. `consents` lists the purposes the person ticked at "
            "sign-up (nothing ticked: nothing granted), under `consent_wording_version`."
        )

    email = required_text(254, metadata=EMAIL)
    password = ma.fields.String(
        required=True,
        load_only=True,
        metadata={"description": "12 to 128 characters, not a common password, not the email or name"},
    )
    first_name = required_text(100)
    last_name = required_text(100)
    phones = ma.fields.List(
        ma.fields.Nested(StorePhoneSchema), load_default=list, validate=validate.Length(max=5)
    )
    language = language_field(load_default=None)
    country = text(64, load_default=None, allow_none=True, metadata={"description": "ISO 3166-1 alpha-2"})
    consents = ma.fields.List(
        ma.fields.String(validate=validate.OneOf(CONSENT_PURPOSES)),
        load_default=list,
        validate=validate.Length(max=len(CONSENT_PURPOSES)),
        metadata={"description": f"Purposes granted: {', '.join(CONSENT_PURPOSES)}"},
    )
    consent_wording_version = ma.fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=32),
        metadata={"description": "Version of the consent text shown; required with consents"},
    )

    @validates_schema
    def wording_goes_with_consents(self, data, **_kwargs):
        if data.get("consents") and not data.get("consent_wording_version"):
            raise ValidationError(
                "Say which consent wording the person agreed to.", field_name="consent_wording_version"
            )


class TokenRequestSchema(ma.Schema):
    email = required_text(254, metadata=EMAIL)
    password = ma.fields.String(required=True, load_only=True, validate=validate.Length(max=1024))


class PasswordResetRequestSchema(ma.Schema):
    email = required_text(254, metadata=EMAIL)


class PasswordResetConfirmSchema(ma.Schema):
    token = required_text(512, metadata={"description": "The `token` parameter of the link in the mail"})
    password = ma.fields.String(required=True, load_only=True, metadata={"description": "The new password"})


# --- the signed-in customer -----------------------------------------------------------


class ProfileUpdateSchema(ma.Schema):
    class Meta:
        description = (
            "Profile fields the customer may change; only those sent are changed, null clears "
            "an optional field. Any other field (status, email, purchase figures) is refused "
            "with a 422. Changing the email address is not possible here yet."
        )

    first_name = text(100, min_length=1)
    last_name = text(100, min_length=1)
    company = text(200, allow_none=True)
    vat_number = text(32, allow_none=True)
    date_of_birth = ma.fields.Date(allow_none=True)
    gender = text(40, allow_none=True, metadata={"description": "Self-described, free text"})
    country = text(64, allow_none=True, metadata={"description": "ISO 3166-1 alpha-2"})
    region = text(100, allow_none=True)
    city = text(100, allow_none=True)
    language = language_field()
    timezone = text(64, allow_none=True)
    preferred_channel = ma.fields.String(validate=validate.OneOf(CONTACT_CHANNELS))
    preferred_categories = ma.fields.List(text(100), validate=validate.Length(max=50))
    preferred_brands = ma.fields.List(text(100), validate=validate.Length(max=50))
    phones = ma.fields.List(
        ma.fields.Nested(StorePhoneSchema),
        validate=validate.Length(max=5),
        metadata={"description": "Replaces all phone numbers; [] removes them"},
    )


class StoreConsentChangeSchema(ma.Schema):
    purpose = ma.fields.String(required=True, validate=validate.OneOf(CONSENT_PURPOSES))
    granted = StrictBoolean(required=True, metadata={"description": "true grants, false withdraws"})
    wording_version = required_text(32, metadata={"description": "Version of the consent text shown"})
