"""Signing in with email and password, with brute-force protection (ASVS V6.3).

Per account: after LOCK_AFTER consecutive failures the account is locked for an
exponentially growing delay, capped at MAX_LOCK, so nobody can be locked out forever;
the owner gets an unlock link by email and an admin can unlock. Per IP: the login route
is rate limited (views). Every failure looks the same from outside: same message,
similar time, whether the email exists, the password is wrong or the account is locked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.blueprints.auth import passwords
from app.blueprints.auth.models import User
from app.blueprints.auth.services import find_user_by_email
from app.core import audit
from app.core.errors import InvalidInput
from app.core.links import external_url
from app.core.mail import send_mail
from app.core.timeutil import utcnow
from app.extensions import db

LOCK_AFTER = 5
FIRST_LOCK = timedelta(minutes=1)
MAX_LOCK = timedelta(minutes=15)
UNLOCK_LINK_MAX_AGE = 24 * 3600


@dataclass(frozen=True)
class SignInResult:
    user: User | None
    outcome: str  # "ok", "bad_credentials", "locked", "inactive"

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def lock_duration(failures: int) -> timedelta:
    """1 minute at the 5th failure in a row, doubling with each further one, at most 15."""
    doublings = min(max(0, failures - LOCK_AFTER), 10)  # 2**10 minutes is past the cap already
    return min(FIRST_LOCK * (2**doublings), MAX_LOCK)


def authenticate(email: str, password: str) -> SignInResult:
    """Check a password sign-in and record its outcome (failures, lock, audit)."""
    user = find_user_by_email(email)
    if user is None:
        passwords.verify_password(None, password)  # same work as a real check
        audit.record("auth.login_failed", actor=None, summary="Unknown email", email=email[:254])
        return SignInResult(None, "bad_credentials")
    now = utcnow()
    if user.locked_until is not None and user.locked_until > now:
        passwords.verify_password(None, password)
        audit.record("auth.login_refused_locked", actor=None, target=user, summary="Sign-in while locked")
        return SignInResult(None, "locked")
    if not passwords.verify_password(user.password_hash, password):
        record_failure(user)
        return SignInResult(None, "bad_credentials")
    if not user.active:
        audit.record("auth.login_failed", actor=None, target=user, summary="Deactivated user")
        return SignInResult(None, "inactive")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    return SignInResult(user, "ok")


def is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > utcnow()


def record_failure(user: User, what: str = "Wrong password", action: str = "auth.login_failed") -> None:
    """A failed proof of identity (password, second factor, re-authentication): counted
    towards the account lock."""
    already_locked = is_locked(user)
    user.failed_logins += 1
    audit.record(action, actor=None, target=user, summary=what, failures=user.failed_logins)
    if user.failed_logins >= LOCK_AFTER and not already_locked:
        duration = lock_duration(user.failed_logins)
        user.locked_until = utcnow() + duration
        minutes = int(duration.total_seconds() // 60)
        audit.record(
            "auth.locked",
            actor=None,
            target=user,
            summary=f"Locked for {minutes} min",
            failures=user.failed_logins,
        )
        send_unlock_mail(user, duration)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="account-unlock")


def unlock_token(user: User) -> str:
    # Bound to the lock it lifts: once the account is unlocked, the link is spent.
    return _serializer().dumps({"user": user.id, "locked": user.locked_until.isoformat()})


def send_unlock_mail(user: User, duration: timedelta) -> None:
    link = external_url("auth.unlock", token=unlock_token(user))
    send_mail(
        user.email,
        "Your account was locked after failed sign-ins",
        "account_locked",
        user=user,
        minutes=int(duration.total_seconds() // 60),
        link=link,
    )


def unlock_with_token(token: str) -> User:
    try:
        data = _serializer().loads(token, max_age=UNLOCK_LINK_MAX_AGE)
    except (SignatureExpired, BadSignature) as exc:
        raise InvalidInput("This unlock link is not valid any more.", code="invalid_link") from exc
    user = db.session.get(User, data.get("user"))
    if user is None or user.locked_until is None or user.locked_until.isoformat() != data.get("locked"):
        raise InvalidInput("This unlock link is not valid any more.", code="invalid_link")
    unlock(user, actor=user, how="email link")
    return user


def unlock(user: User, *, actor, how: str) -> User:
    user.failed_logins = 0
    user.locked_until = None
    audit.record("auth.unlocked", actor=actor, target=user, summary=f"Unlocked by {how}")
    return user
