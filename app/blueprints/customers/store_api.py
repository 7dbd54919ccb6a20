"""Storefront API: sign-up, customer tokens, password reset, the signed-in customer's profile.

Sign-up, sign-in and the password reset are public and rate limited per client IP
(`LOGIN_RATE_LIMIT`, each endpoint counted on its own). Everything under `/me` needs a
customer token and acts on that token's customer only: there is no customer id in those
paths to tamper with, and an address id of another customer is as unknown as a missing one.
"""

from flask import current_app, url_for
from flask.views import MethodView
from flask_login import current_user

from app.blueprints.auth import tokens
from app.blueprints.customers import accounts, consents, services, store_api_bp
from app.blueprints.customers.models import Customer

# Addresses and consent states look the same to staff and to the customer: one schema each.
from app.blueprints.customers.schemas import AddressCreateSchema, AddressSchema, ConsentStateSchema
from app.blueprints.customers.store_schemas import (
    CustomerSessionSchema,
    PasswordResetConfirmSchema,
    PasswordResetRequestSchema,
    ProfileUpdateSchema,
    RegistrationSchema,
    StoreConsentChangeSchema,
    StoreCustomerProfileSchema,
    StoreMessageSchema,
    TokenRequestSchema,
)
from app.core.api import ProblemSchema
from app.core.errors import PROBLEM_JSON, PermissionDenied, error_response
from app.core.permissions import public, require_customer
from app.core.transaction import transaction
from app.extensions import limiter

bp = store_api_bp
BEARER = [{"bearerAuth": []}]
PROBLEM = {"schema": ProblemSchema, "content_type": PROBLEM_JSON}
# Token responses must never be stored by a cache on the way (RFC 6749 5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
SIGN_IN_FAILED = "That email and password do not match a customer account."
RESET_REQUESTED = (
    "If an account uses that address, we have sent it a link to choose a new password. "
    f"The link works for {accounts.RESET_MAX_AGE // 60} minutes."
)


def login_rate_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def signed_in_customer() -> Customer:
    """The customer behind the token. A blocked customer's token is refused even if
    blocking did not revoke it."""
    customer = services.get_customer(current_user.customer_id)
    if customer.status == "blocked":
        raise PermissionDenied("This account is blocked.", code="customer_blocked")
    return customer


def session_body(customer: Customer, token, secret: str) -> dict:
    return {"token": secret, "token_type": "Bearer", "expires_at": token.expires_at, "customer": customer}


def phone_inputs(phones: list[dict]) -> list[services.PhoneInput]:
    return [services.PhoneInput(number=p["number"], kind=p["kind"]) for p in phones]


@bp.route("/customers")
class Customers(MethodView):
    @public
    @limiter.limit(login_rate_limit)
    @bp.arguments(RegistrationSchema)
    @bp.response(201, CustomerSessionSchema)
    @bp.alt_response(409, **PROBLEM, description="An account with this email exists")
    @bp.alt_response(429, **PROBLEM, description="Too many attempts from this address")
    def post(self, data):
        """Sign up, and get a customer token right away

        Creates the account, records the consents ticked at sign-up in the consent
        ledger and answers like `POST /auth/token`, so the storefront is signed in
        without a second request. The token is issued in the same transaction as the
        account (no second password check: the password was only just hashed).

        An email that already has a record, with or without a password, is a 409
        `customer_exists`: the person is sent to the password reset, which proves they
        own the address, instead of taking over the record by signing up."""
        phones = phone_inputs(data.pop("phones"))
        purposes = data.pop("consents")
        wording = data.pop("consent_wording_version") or ""
        password = data.pop("password")
        with transaction():
            customer = accounts.register(
                data, password, consent_purposes=purposes, wording_version=wording, phones=phones
            )
            token, secret = tokens.issue_customer_token(customer.id)
        headers = {**NO_STORE, "Location": url_for("store_customers_api.Me")}
        return session_body(customer, token, secret), headers


@bp.route("/auth/token")
class CustomerTokens(MethodView):
    @public
    @limiter.limit(login_rate_limit)
    @bp.arguments(TokenRequestSchema)
    @bp.response(200, CustomerSessionSchema)
    @bp.alt_response(401, **PROBLEM, description="Wrong email or password")
    @bp.alt_response(429, **PROBLEM, description="Too many attempts from this address")
    def post(self, data):
        """Sign in: email and password for a customer bearer token

        Wrong password, unknown email, an account without a password or a blocked one
        all get the same 401 body, after the same hashing work."""
        with transaction():
            result = accounts.sign_in(data["email"], data["password"])
        if result is None:
            return error_response(
                401,
                detail=SIGN_IN_FAILED,
                code="invalid_credentials",
                headers={"WWW-Authenticate": 'Bearer realm="store"'},
            )
        customer, secret, token = result
        return session_body(customer, token, secret), NO_STORE


@bp.route("/auth/password-reset")
class PasswordResetRequest(MethodView):
    @public
    @limiter.limit(login_rate_limit)
    @bp.arguments(PasswordResetRequestSchema)
    @bp.response(202, StoreMessageSchema)
    @bp.alt_response(429, **PROBLEM, description="Too many attempts from this address")
    def post(self, data):
        """Mail a link to choose a new password

        The answer is the same whether or not the email has an account."""
        with transaction():
            accounts.request_password_reset(data["email"])
        return {"detail": RESET_REQUESTED}


@bp.route("/auth/password-reset/confirm")
class PasswordResetConfirm(MethodView):
    @public
    @limiter.limit(login_rate_limit)
    @bp.arguments(PasswordResetConfirmSchema)
    @bp.response(204)
    @bp.alt_response(429, **PROBLEM, description="Too many attempts from this address")
    def post(self, data):
        """Set a new password with the token from the mailed link

        The link works once and for a limited time; using it signs the customer out
        everywhere (every customer token stops working). An unusable link is a 422 on
        `token`, a weak password a 422 on `password`."""
        with transaction():
            accounts.reset_password(data["token"], data["password"])


@bp.route("/me")
class Me(MethodView):
    @require_customer
    @bp.response(200, StoreCustomerProfileSchema)
    @bp.doc(security=BEARER)
    def get(self):
        """The signed-in customer's profile"""
        return signed_in_customer()

    @require_customer
    @bp.arguments(ProfileUpdateSchema)
    @bp.response(200, StoreCustomerProfileSchema)
    @bp.doc(security=BEARER)
    def patch(self, data):
        """Change the signed-in customer's profile

        Only the fields sent change. Status, email and purchase figures cannot be set
        here (422 naming the field); changing the email address is not offered yet."""
        phones = data.pop("phones", None)
        with transaction():
            customer = signed_in_customer()
            services.update_customer(
                customer, data, actor=customer, phones=None if phones is None else phone_inputs(phones)
            )
        return customer


@bp.route("/me/addresses")
class MyAddresses(MethodView):
    @require_customer
    @bp.response(200, AddressSchema(many=True))
    @bp.doc(security=BEARER)
    def get(self):
        """The signed-in customer's addresses"""
        return signed_in_customer().addresses

    @require_customer
    @bp.arguments(AddressCreateSchema)
    @bp.response(201, AddressSchema)
    @bp.doc(security=BEARER)
    def post(self, data):
        """Add an address to the signed-in customer"""
        with transaction():
            customer = signed_in_customer()
            address = services.add_address(customer, data, actor=customer)
        return address


@bp.route("/me/addresses/<int:address_id>")
class MyAddress(MethodView):
    @require_customer
    @bp.response(204)
    @bp.doc(security=BEARER)
    def delete(self, address_id):
        """Remove one of the signed-in customer's addresses (another's is a 404)"""
        with transaction():
            customer = signed_in_customer()
            services.remove_address(customer, address_id, actor=customer)


@bp.route("/me/consents")
class MyConsents(MethodView):
    @require_customer
    @bp.response(200, ConsentStateSchema(many=True))
    @bp.doc(security=BEARER)
    def get(self):
        """The signed-in customer's consent per purpose now (never asked: not granted)"""
        return list(consents.current(signed_in_customer()).values())

    @require_customer
    @bp.arguments(StoreConsentChangeSchema)
    @bp.response(201, ConsentStateSchema)
    @bp.doc(security=BEARER)
    def post(self, data):
        """Grant or withdraw consent for one purpose

        Each change is a new entry in the consent ledger (when, from where, under which
        wording); withdrawing is as easy as granting."""
        with transaction():
            customer = signed_in_customer()
            event = consents.record(
                customer,
                data["purpose"],
                granted=data["granted"],
                source="storefront",
                wording_version=data["wording_version"],
                actor=customer,
            )
        return consents.ConsentState(
            event.purpose, event.granted, event.occurred_at, event.source, event.wording_version
        )
