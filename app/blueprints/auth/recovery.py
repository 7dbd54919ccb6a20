"""Password recovery by email (ASVS V6.4).

The request always gets the same answer. The link carries a signed token that expires
after an hour and is single use: it is bound to the password it replaces, so once the
password changes the link is spent. A reset ends every session and never signs the user
in, so MFA still applies at the next sign-in.
"""

from __future__ import annotations

import hashlib

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.blueprints.auth import services
from app.blueprints.auth.models import User
from app.core import audit
from app.core.links import external_url
from app.core.mail import send_mail
from app.extensions import db

RESET_MAX_AGE = 3600


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:20]


def reset_token(user: User) -> str:
    return _serializer().dumps({"user": user.id, "pw": _fingerprint(user)})


def request_password_reset(email: str) -> None:
    """Mail a reset link when an active account uses `email`; say nothing either way."""
    user = services.find_user_by_email(email)
    if user is None or not user.active:
        audit.record("auth.password_reset_requested", actor=None, summary="Unknown or inactive email")
        return
    link = external_url("auth.password_reset", token=reset_token(user))
    send_mail(
        user.email,
        "Choose a new password",
        "password_reset",
        user=user,
        link=link,
        minutes=RESET_MAX_AGE // 60,
    )
    audit.record("auth.password_reset_requested", actor=None, target=user, summary="Reset link sent")


def user_for_reset_token(token: str) -> User | None:
    try:
        data = _serializer().loads(token, max_age=RESET_MAX_AGE)
    except (SignatureExpired, BadSignature):
        return None
    user = db.session.get(User, data.get("user")) if isinstance(data, dict) else None
    if user is None or not user.active or data.get("pw") != _fingerprint(user):
        return None
    return user


def reset_password(user: User, new_password: str) -> User:
    services.set_password(user, new_password, actor=user, reason="reset by email link")
    audit.record("auth.password_reset", actor=user, target=user, summary="Password reset by email link")
    return user
