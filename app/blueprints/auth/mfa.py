"""TOTP multi-factor authentication (ASVS V6.5/V6.6).

The secret is encrypted at rest; a code is accepted once (the time step it matched is
remembered, so a code cannot be replayed within its window); ten single-use recovery
codes are shown once and stored as Argon2 hashes.
"""

from __future__ import annotations

import logging
import secrets
import time

import pyotp
from flask import current_app
from sqlalchemy import select

from app.blueprints.auth import passwords
from app.blueprints.auth.models import MfaRecoveryCode, User
from app.core import audit, crypto
from app.core.errors import Conflict, InvalidInput
from app.core.timeutil import utcnow
from app.extensions import db

log = logging.getLogger(__name__)
RECOVERY_CODE_COUNT = 10
VALID_WINDOW = 1  # one 30-second step either side, for clocks that drift
CODE_FIELD = "code"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=current_app.config["STORE_NAME"])


def qr_code_svg(uri: str) -> str:
    """An inline SVG of the QR code, rendered on the server (no third party sees the secret)."""
    import segno  # only when someone sets up MFA: ~10 MB that web workers need not hold

    return segno.make(uri, error="m").svg_inline(scale=5, dark="#14213a")


def _matching_step(secret: str, code: str, last_step: int | None) -> int | None:
    """The time step `code` belongs to, if it is valid now and newer than `last_step`."""
    code = code.strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    current = int(time.time()) // totp.interval
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def enable(user: User, secret: str, code: str, *, actor, replace: bool = False) -> list[str]:
    """Turn MFA on once the user proved their authenticator works; returns the recovery
    codes (shown once). With `replace`, a new device takes the place of the old one."""
    if user.mfa_enabled and not replace:
        raise Conflict("Two-factor authentication is already on.", code="mfa_already_enabled")
    step = _matching_step(secret, code, None)
    if step is None:
        raise InvalidInput(
            "That code is not right; check the time on your device.", errors={CODE_FIELD: ["Wrong code."]}
        )
    user.mfa_secret_encrypted = crypto.encrypt(secret)
    user.mfa_enabled_at = utcnow()
    user.mfa_last_step = step
    codes = replace_recovery_codes(user)
    summary = "Authenticator replaced" if replace else "Two-factor authentication turned on"
    audit.record("auth.mfa_enabled", actor=actor, target=user, summary=summary)
    return codes


def turn_off(user: User, *, actor) -> None:
    """A user turning their own MFA off; refused while one of their roles requires it
    (an administrator's reset, which uses `disable`, is not bound by this)."""
    if user.mfa_required:
        raise Conflict(
            "One of your roles requires two-factor authentication; it cannot be turned off.",
            code="mfa_required",
        )
    disable(user, actor=actor)


def disable(user: User, *, actor) -> None:
    user.mfa_secret_encrypted = None
    user.mfa_enabled_at = None
    user.mfa_last_step = None
    db.session.execute(MfaRecoveryCode.__table__.delete().where(MfaRecoveryCode.user_id == user.id))
    audit.record(
        "auth.mfa_disabled", actor=actor, target=user, summary="Two-factor authentication turned off"
    )


def replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(MfaRecoveryCode.__table__.delete().where(MfaRecoveryCode.user_id == user.id))
    codes = [
        f"{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}"
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    for code in codes:
        db.session.add(MfaRecoveryCode(user_id=user.id, code_hash=passwords.hash_password(code)))
    db.session.flush()
    return codes


def regenerate_recovery_codes(user: User, *, actor) -> list[str]:
    codes = replace_recovery_codes(user)
    audit.record("auth.mfa_recovery_codes_replaced", actor=actor, target=user, summary="New recovery codes")
    return codes


def unused_recovery_codes(user: User) -> int:
    query = select(MfaRecoveryCode).where(
        MfaRecoveryCode.user_id == user.id, MfaRecoveryCode.used_at.is_(None)
    )
    return len(list(db.session.scalars(query)))


def verify_second_factor(user: User, code: str) -> str | None:
    """Which factor proved the user ("authenticator" for a current TOTP code not used
    before, "recovery code" for an unused one, spent by this), or None."""
    if not user.mfa_enabled or not code:
        return None
    try:
        secret = crypto.decrypt(user.mfa_secret_encrypted)
    except crypto.DecryptionError:
        # A key was dropped from DATA_ENCRYPTION_KEY too early: fail closed, loudly.
        log.error("cannot decrypt the TOTP secret of user %s: check DATA_ENCRYPTION_KEY", user.id)
        secret = None
    step = _matching_step(secret, code, user.mfa_last_step) if secret else None
    if step is not None:
        user.mfa_last_step = step
        return "authenticator"
    return "recovery code" if _spend_recovery_code(user, code.strip().lower()) else None


def reencrypt_secrets() -> int:
    """Re-encrypt every stored TOTP secret with the current key; returns how many."""
    users = db.session.scalars(select(User).where(User.mfa_secret_encrypted.is_not(None)))
    count = 0
    for user in users:
        user.mfa_secret_encrypted = crypto.reencrypt(user.mfa_secret_encrypted)
        count += 1
    return count


def _spend_recovery_code(user: User, code: str) -> bool:
    if len(code) != 14:
        return False
    query = select(MfaRecoveryCode).where(
        MfaRecoveryCode.user_id == user.id, MfaRecoveryCode.used_at.is_(None)
    )
    for stored in db.session.scalars(query):
        if passwords.verify_password(stored.code_hash, code):
            stored.used_at = utcnow()
            audit.record("auth.mfa_recovery_code_used", actor=user, target=user, summary="Recovery code used")
            return True
    return False


crypto.register_reencryption("two-factor secret(s)", reencrypt_secrets)
