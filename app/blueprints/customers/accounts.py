"""Storefront accounts: sign-up, sign-in with a customer token, password reset by email.

A record that already exists for an email (a lead from an import or a phone order) is
never taken over by signing up: the person is sent to the password reset, which proves
they own the address before a password is set.
"""

from __future__ import annotations

import hashlib

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.blueprints.auth import authentication, passwords, tokens
from app.blueprints.customers import consents, services, validation
from app.blueprints.customers.models import Customer
from app.core import audit
from app.core.errors import Conflict, InvalidInput
from app.core.mail import send_mail
from app.core.timeutil import utcnow
from app.extensions import db

RESET_MAX_AGE = 3600


def register(
    data: dict, password: str, *, consent_purposes: list[str], wording_version: str, ip=None, phones=()
) -> Customer:
    email = validation.email(data.get("email") or "")
    name = f"{data.get('first_name') or ''}{data.get('last_name') or ''}"
    passwords.check_new_password(password, email=email, name=name)
    if services.find_by_email(email) is not None:
        raise Conflict(
            "An account with this email exists: sign in, or reset the password to set one.",
            code="customer_exists",
            errors={"email": ["Already has an account."]},
        )
    customer = services.create_customer(
        {**data, "email": email, "status": "active"}, actor=None, phones=phones
    )
    customer.password_hash = passwords.hash_password(password)
    for purpose in consent_purposes:
        consents.record(
            customer,
            purpose,
            granted=True,
            source="storefront",
            wording_version=wording_version,
            actor=None,
            ip=ip,
        )
    audit.record(
        "customer.registered", actor=customer, target=customer, summary="Signed up on the storefront"
    )
    return customer


def sign_in(email: str, password: str):
    """(customer, token secret, token) for a right email and password, else None. Unknown
    emails cost the same hashing work as wrong passwords. Consecutive failures lock the
    account as staff accounts are locked (exponential, capped), so a password cannot be
    guessed from many addresses; the emailed reset link lifts the lock."""
    customer = services.find_by_email(email)
    if (
        customer is None
        or customer.password_hash is None
        or customer.status == "blocked"
        or customer.merged_into_id is not None
    ):
        passwords.verify_password(None, password)
        return None
    now = utcnow()
    if customer.locked_until is not None and customer.locked_until > now:
        passwords.verify_password(None, password)
        return None
    if not passwords.verify_password(customer.password_hash, password):
        customer.failed_logins += 1
        if customer.failed_logins >= authentication.LOCK_AFTER:
            customer.locked_until = now + authentication.lock_duration(customer.failed_logins)
            audit.record("customer.locked", actor=None, target=customer, summary="Storefront sign-in locked")
        return None
    customer.failed_logins = 0
    customer.locked_until = None
    if passwords.needs_rehash(customer.password_hash):
        customer.password_hash = passwords.hash_password(password)
    token, secret = tokens.issue_customer_token(customer.id)
    audit.record("customer.signed_in", actor=customer, target=customer, summary="Signed in on the storefront")
    return customer, secret, token


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="customer-password-reset")


def _fingerprint(customer: Customer) -> str:
    return hashlib.sha256((customer.password_hash or "no-password").encode()).hexdigest()[:20]


def reset_token(customer: Customer) -> str:
    return _serializer().dumps({"customer": customer.id, "pw": _fingerprint(customer)})


def request_password_reset(email: str) -> None:
    """Mail a reset link when the email belongs to a customer; say nothing either way."""
    customer = services.find_by_email(email)
    # A merged record lives on in its survivor; it never gets a password of its own again.
    if customer is None or customer.status == "blocked" or customer.merged_into_id is not None:
        return
    link = current_app.config["STOREFRONT_RESET_URL"].format(token=reset_token(customer))
    send_mail(
        customer.email,
        "Choose a new password",
        "customer_password_reset",
        customer=customer,
        link=link,
        minutes=RESET_MAX_AGE // 60,
    )
    audit.record("customer.password_reset_requested", actor=None, target=customer, summary="Reset link sent")


def customer_for_reset_token(token: str) -> Customer | None:
    try:
        data = _serializer().loads(token, max_age=RESET_MAX_AGE)
    except (SignatureExpired, BadSignature):
        return None
    customer = db.session.get(Customer, data.get("customer")) if isinstance(data, dict) else None
    if customer is None or customer.status == "blocked" or customer.merged_into_id is not None:
        return None
    if data.get("pw") != _fingerprint(customer):
        return None
    return customer


def reset_password(token: str, new_password: str) -> Customer:
    customer = customer_for_reset_token(token)
    if customer is None:
        raise InvalidInput("This reset link is not valid any more.", errors={"token": ["Expired or used."]})
    passwords.check_new_password(new_password, email=customer.email, name=customer.name)
    customer.password_hash = passwords.hash_password(new_password)
    customer.failed_logins = 0
    customer.locked_until = None
    if customer.status == "lead":
        customer.status = "active"
    tokens.revoke_customer_tokens(customer.id)
    audit.record(
        "customer.password_reset", actor=customer, target=customer, summary="Password reset by email link"
    )
    return customer
