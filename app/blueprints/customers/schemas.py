"""Marshmallow schemas of the staff customer API: query args, bodies in, resources out.

Every output schema lists its fields: a model attribute reaches a client only when it is
named here (so `password_hash` never does). Money is a decimal string beside `currency`;
times are ISO 8601 in UTC.
"""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from marshmallow import validate

from app.blueprints.customers import consents
from app.blueprints.customers.models import (
    CONSENT_PURPOSES,
    CONTACT_CHANNELS,
    DIRECTIONS,
    INTERACTION_KINDS,
    PHONE_KINDS,
    STATUSES,
)
from app.blueprints.customers.services import PhoneInput
from app.blueprints.customers.validation import COUNTRIES

SORTS = ("relevance", "created_at", "-created_at", "email", "last_name", "total_spent", "-total_spent")
# Consent sources staff and integrations may claim; "storefront" is the storefront's own.
API_CONSENT_SOURCES = ("api", "portal", "import")
# Fields a client sees on a customer but can never set: purchase figures are kept current
# from order events, the rest belongs to the system or to its own endpoint.
READ_ONLY_FIELDS = (
    "id",
    "name",
    "created_at",
    "updated_at",
    "merged_into_id",
    "currency",
    "order_count",
    "total_spent",
    "average_order_value",
    "first_order_at",
    "last_order_at",
    "rfm_recency",
    "rfm_frequency",
    "rfm_monetary",
    "lifetime_value",
    "predicted_lifetime_value",
    "addresses",
    "consents",
)
MAX_DB_INT = 2**31 - 1


def store_currency(_obj) -> str:
    return current_app.config["STORE_CURRENCY"]


def money(description: str = "") -> ma.fields.Decimal:
    return ma.fields.Decimal(
        as_string=True, places=2, metadata={"description": description or "Decimal string, see `currency`"}
    )


def db_id(**kwargs) -> ma.fields.Integer:
    return ma.fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_DB_INT), **kwargs)


# ---- query args ----------------------------------------------------------------------


class CustomerFilterSchema(ma.Schema):
    """Filters and order of the customer list."""

    class Meta:
        unknown = ma.EXCLUDE  # page and page_size belong to the pagination

    q = ma.fields.String(
        validate=validate.Length(max=100),
        metadata={
            "description": "The beginning of a name (first or last name first), email or company, "
            "case-insensitive; when nothing starts with it, any part of them. Digits also look inside "
            "phone numbers. The total of a search is counted up to 500 (501 means more)"
        },
    )
    status = ma.fields.String(validate=validate.OneOf(STATUSES))
    country = ma.fields.String(metadata={"description": "ISO 3166-1 alpha-2, e.g. NL"})
    tag = ma.fields.String(validate=validate.Length(max=50))
    created_after = ma.fields.AwareDateTime(
        metadata={"description": "ISO 8601 with offset (Z, or a URL-encoded +hh:mm), inclusive"}
    )
    created_before = ma.fields.AwareDateTime(
        metadata={"description": "ISO 8601 with offset (Z, or a URL-encoded +hh:mm), exclusive"}
    )
    sort = ma.fields.String(
        validate=validate.OneOf(SORTS),
        metadata={
            "description": "A leading '-' sorts descending. Default: `relevance` with `q` (the matched "
            "name, email or company A to Z), else `-created_at`"
        },
    )

    @ma.pre_load
    def drop_blanks(self, data, **_kwargs):
        # An empty query argument means "no filter", not "the empty string".
        return {
            key: value.strip() if isinstance(value, str) else value
            for key in data
            if (value := data[key]) is not None and (not isinstance(value, str) or value.strip())
        }

    @ma.validates("country")
    def known_country(self, value, **_kwargs):
        if value.upper() not in COUNTRIES:
            raise ma.ValidationError("Not an ISO 3166 country code (like NL, DE, US).")

    @ma.validates_schema
    def dates_in_order(self, data, **_kwargs):
        after, before = data.get("created_after"), data.get("created_before")
        if after and before and after >= before:
            raise ma.ValidationError("Must be after created_after.", "created_before")

    @ma.post_load
    def normalize(self, data, **_kwargs):
        if "country" in data:
            data["country"] = data["country"].upper()
        if "tag" in data:
            data["tag"] = data["tag"].lower()
        return data


class CustomerFeedArgsSchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    after_id = ma.fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=MAX_DB_INT),
        metadata={"description": "The `next_after_id` of the previous batch; 0 (default) starts"},
    )
    limit = ma.fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


# ---- bodies in -------------------------------------------------------------------------


class StrictBoolean(ma.fields.Boolean):
    """Only JSON true or false: consent must be unambiguous, not "yes", 1 or "on"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class PhoneInSchema(ma.Schema):
    number = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=40),
        metadata={"description": "Any notation; stored as E.164, read as the customer's country"},
    )
    kind = ma.fields.String(load_default="mobile", validate=validate.OneOf(PHONE_KINDS))

    @ma.post_load
    def to_input(self, data, **_kwargs) -> PhoneInput:
        return PhoneInput(**data)


def text(max_length: int, **kwargs) -> ma.fields.String:
    return ma.fields.String(validate=validate.Length(max=max_length), **kwargs)


class CustomerUpdateSchema(ma.Schema):
    """A partial change: fields left out stay as they are; null clears an optional field."""

    email = ma.fields.String(validate=validate.Length(min=1, max=254))
    first_name = text(100, allow_none=True)
    last_name = text(100, allow_none=True)
    company = text(200, allow_none=True)
    vat_number = text(32, allow_none=True)
    date_of_birth = ma.fields.Date(allow_none=True, metadata={"description": "YYYY-MM-DD"})
    gender = text(40, allow_none=True, metadata={"description": "Self-described, free text"})
    country = text(2, allow_none=True, metadata={"description": "ISO 3166-1 alpha-2"})
    region = text(100, allow_none=True)
    city = text(100, allow_none=True)
    language = text(35, allow_none=True, metadata={"description": "BCP 47, e.g. en, nl-BE"})
    timezone = text(64, allow_none=True, metadata={"description": "IANA zone, e.g. Europe/Amsterdam"})
    acquisition_source = text(100, allow_none=True)
    acquisition_channel = text(100, allow_none=True)
    status = ma.fields.String(validate=validate.OneOf(STATUSES))
    preferred_channel = ma.fields.String(validate=validate.OneOf(CONTACT_CHANNELS))
    preferred_categories = ma.fields.List(text(100), validate=validate.Length(max=50))
    preferred_brands = ma.fields.List(text(100), validate=validate.Length(max=50))
    phones = ma.fields.List(
        ma.fields.Nested(PhoneInSchema),
        validate=validate.Length(max=10),
        metadata={"description": "Replaces all phones when given"},
    )
    tags = ma.fields.List(
        text(50), validate=validate.Length(max=50), metadata={"description": "Replaces all tags when given"}
    )

    @ma.pre_load
    def refuse_read_only(self, data, **_kwargs):
        if isinstance(data, dict):
            found = {name: ["Read-only field."] for name in READ_ONLY_FIELDS if name in data}
            if found:
                raise ma.ValidationError(found)
        return data


class CustomerCreateSchema(CustomerUpdateSchema):
    email = ma.fields.String(required=True, validate=validate.Length(min=1, max=254))


class AddressCreateSchema(ma.Schema):
    label = text(50, load_default="", metadata={"description": "e.g. Home, Office"})
    recipient = text(200, load_default="", metadata={"description": "Defaults to the customer's name"})
    line1 = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    line2 = text(200, load_default="")
    postal_code = text(20, load_default="")
    city = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    region = text(100, load_default="")
    country = ma.fields.String(
        required=True, validate=validate.Length(min=1, max=64), metadata={"description": "ISO 3166-1 alpha-2"}
    )
    is_default_billing = ma.fields.Boolean(load_default=False)
    is_default_shipping = ma.fields.Boolean(load_default=False)


class ConsentCreateSchema(ma.Schema):
    purpose = ma.fields.String(required=True, validate=validate.OneOf(CONSENT_PURPOSES))
    granted = StrictBoolean(
        required=True, metadata={"description": "true or false; false records a withdrawal"}
    )
    wording_version = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=32),
        metadata={"description": "Version of the text the person agreed to"},
    )
    source = ma.fields.String(load_default="api", validate=validate.OneOf(API_CONSENT_SOURCES))


class InteractionCreateSchema(ma.Schema):
    kind = ma.fields.String(required=True, validate=validate.OneOf(INTERACTION_KINDS))
    direction = ma.fields.String(load_default="outbound", validate=validate.OneOf(DIRECTIONS))
    subject = text(200, load_default="")
    body = text(20_000, load_default="", metadata={"description": "Plain text or Markdown"})
    occurred_at = ma.fields.AwareDateTime(
        metadata={"description": "ISO 8601 with offset; defaults to now, never in the future"}
    )
    duration_minutes = ma.fields.Integer(strict=True, validate=validate.Range(min=0, max=24 * 60))
    outcome = text(200, load_default="")
    follow_up_on = ma.fields.Date(metadata={"description": "YYYY-MM-DD, on or after the interaction"})
    order_id = db_id()
    ticket_id = db_id()
    opportunity_id = db_id()
    external_ref = ma.fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={
            "description": "The id in the phone, mail or chat system. Posting the same reference for "
            "the same customer again returns the stored interaction (200) instead of a second one."
        },
    )
    staff_email = ma.fields.Email(
        validate=validate.Length(max=254),
        metadata={
            "description": "The agent the interaction belongs to (an active staff user); "
            "defaults to the token's user"
        },
    )


# ---- resources out ---------------------------------------------------------------------


class PhoneSchema(ma.Schema):
    number = ma.fields.String(metadata={"description": "E.164"})
    kind = ma.fields.String()


class CustomerSchema(ma.Schema):
    """A customer as lists show it."""

    id = ma.fields.Integer()
    email = ma.fields.String()
    first_name = ma.fields.String()
    last_name = ma.fields.String()
    name = ma.fields.String()
    company = ma.fields.String(allow_none=True)
    country = ma.fields.String(allow_none=True)
    city = ma.fields.String(allow_none=True)
    language = ma.fields.String(allow_none=True)
    status = ma.fields.String()
    phones = ma.fields.List(ma.fields.Nested(PhoneSchema))
    tags = ma.fields.List(ma.fields.String(), attribute="tag_names")
    order_count = ma.fields.Integer()
    total_spent = money()
    currency = ma.fields.Function(store_currency, metadata={"description": "ISO 4217"})
    last_order_at = ma.fields.AwareDateTime(allow_none=True)
    merged_into_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "Set when merged into another customer"}
    )
    created_at = ma.fields.AwareDateTime()
    updated_at = ma.fields.AwareDateTime()


class CustomerFeedSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(CustomerSchema))
    next_after_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "Pass as after_id for the next batch; null at the end"}
    )


class AddressSchema(ma.Schema):
    id = ma.fields.Integer()
    label = ma.fields.String()
    recipient = ma.fields.String()
    line1 = ma.fields.String()
    line2 = ma.fields.String()
    postal_code = ma.fields.String()
    city = ma.fields.String()
    region = ma.fields.String()
    country = ma.fields.String(metadata={"description": "ISO 3166-1 alpha-2"})
    is_default_billing = ma.fields.Boolean()
    is_default_shipping = ma.fields.Boolean()


class ConsentStateSchema(ma.Schema):
    purpose = ma.fields.String()
    granted = ma.fields.Boolean()
    since = ma.fields.AwareDateTime(
        allow_none=True, metadata={"description": "When it was last given or withdrawn"}
    )
    source = ma.fields.String(allow_none=True)
    wording_version = ma.fields.String(allow_none=True)


class CurrentConsents(ma.fields.List):
    """The state of every purpose now, read from the consent ledger at dump time."""

    def __init__(self, **kwargs):
        super().__init__(ma.fields.Nested(ConsentStateSchema), **kwargs)

    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        return list(consents.current(obj).values())


class CustomerDetailSchema(CustomerSchema):
    """One customer with addresses, current consents and purchase figures."""

    vat_number = ma.fields.String(allow_none=True)
    date_of_birth = ma.fields.Date(allow_none=True)
    gender = ma.fields.String(allow_none=True)
    region = ma.fields.String(allow_none=True)
    timezone = ma.fields.String(allow_none=True)
    acquisition_source = ma.fields.String(allow_none=True)
    acquisition_channel = ma.fields.String(allow_none=True)
    preferred_channel = ma.fields.String()
    preferred_categories = ma.fields.List(ma.fields.String())
    preferred_brands = ma.fields.List(ma.fields.String())
    addresses = ma.fields.List(ma.fields.Nested(AddressSchema))
    consents = CurrentConsents(dump_only=True)
    average_order_value = money()
    lifetime_value = money()
    predicted_lifetime_value = money()
    first_order_at = ma.fields.AwareDateTime(allow_none=True)
    rfm_recency = ma.fields.Integer(allow_none=True, metadata={"description": "1 (long ago) .. 5 (recent)"})
    rfm_frequency = ma.fields.Integer(allow_none=True)
    rfm_monetary = ma.fields.Integer(allow_none=True)


class ConsentEventSchema(ma.Schema):
    id = ma.fields.Integer()
    customer_id = ma.fields.Integer()
    purpose = ma.fields.String()
    granted = ma.fields.Boolean()
    occurred_at = ma.fields.AwareDateTime()
    source = ma.fields.String()
    wording_version = ma.fields.String()
    recorded_by_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "Staff user who recorded it"}
    )


class InteractionSchema(ma.Schema):
    id = ma.fields.Integer()
    customer_id = ma.fields.Integer()
    kind = ma.fields.String()
    direction = ma.fields.String()
    subject = ma.fields.String()
    body = ma.fields.String()
    occurred_at = ma.fields.AwareDateTime()
    duration_minutes = ma.fields.Integer(allow_none=True)
    outcome = ma.fields.String()
    staff_id = ma.fields.Integer(allow_none=True)
    staff_email = ma.fields.Function(lambda i: i.staff.email if i.staff else None, allow_none=True)
    staff_name = ma.fields.Function(lambda i: i.staff.name if i.staff else None, allow_none=True)
    follow_up_on = ma.fields.Date(allow_none=True)
    follow_up_done_at = ma.fields.AwareDateTime(allow_none=True)
    order_id = ma.fields.Integer(allow_none=True)
    ticket_id = ma.fields.Integer(allow_none=True)
    opportunity_id = ma.fields.Integer(allow_none=True)
    external_ref = ma.fields.String(allow_none=True)
    created_at = ma.fields.AwareDateTime()
