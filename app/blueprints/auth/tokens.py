"""Bearer tokens, one mechanism for both kinds (ASVS V7/V8):

- staff/integration tokens act for a user, limited to scopes that are permission codes
  the user holds (checked again on every call, so losing a permission limits the token);
- customer tokens act for one storefront customer and see only that customer's data.

Only the SHA-256 of a token is stored: a 256-bit random secret needs no slow hash.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import g
from sqlalchemy import select

from app.blueprints.auth.models import ApiToken, User
from app.core import audit
from app.core.errors import InvalidInput, NotFound, PermissionDenied
from app.core.permissions import PERMISSIONS
from app.core.timeutil import utcnow
from app.extensions import db

TOKEN_PREFIX = "crm_"  # noqa: S105  (a public marker, not a secret)
CUSTOMER_TOKEN_LIFETIME = timedelta(days=30)
# last_used_at is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=5)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _new_secret() -> tuple[str, str, str]:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return secret, secret[: len(TOKEN_PREFIX) + 6], hash_token(secret)


def validate_scopes(user: User, scopes: list[str], within_scopes: list[str] | None) -> list[str]:
    unknown = [s for s in scopes if s not in PERMISSIONS]
    if unknown:
        raise InvalidInput("Unknown scope(s).", errors={"scopes": [f"Unknown: {', '.join(unknown)}"]})
    if within_scopes is not None and not set(scopes) <= set(within_scopes):
        beyond = sorted(set(scopes) - set(within_scopes))
        raise InvalidInput(
            "A token cannot create a token with more scopes than its own.",
            errors={"scopes": [f"Not in the calling token: {', '.join(beyond)}"]},
        )
    not_held = [s for s in scopes if not user.has_permission(s)]
    if not_held:
        raise InvalidInput(
            "A token cannot carry permissions its user does not hold.",
            errors={"scopes": [f"{user.email} lacks: {', '.join(not_held)}"]},
        )
    return sorted(set(scopes))


def create_api_token(
    user: User,
    *,
    name: str,
    scopes: list[str],
    expires_at: datetime | None,
    actor,
    within_scopes: list[str] | None = None,
) -> tuple[ApiToken, str]:
    """A staff/integration token for `user` limited to `scopes`, each one the user must
    hold (and, when a token asks, each one that token holds). Returns the token and its
    secret, which is shown once and never stored."""
    if not name.strip():
        raise InvalidInput("Name the token after what uses it.", errors={"name": ["Enter a name."]})
    scopes = validate_scopes(user, scopes, within_scopes)
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput(
            "The expiry date is in the past.", errors={"expires_at": ["Must be in the future."]}
        )
    secret, prefix, digest = _new_secret()
    token = ApiToken(
        kind="staff",
        user=user,
        name=name.strip(),
        prefix=prefix,
        token_hash=digest,
        scopes=scopes,
        expires_at=expires_at,
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        "token.created",
        actor=actor,
        target=token,
        summary=f"Token {token.name} for {user.email}",
        scopes=scopes,
    )
    return token, secret


def issue_customer_token(customer_id: int, *, name: str = "storefront") -> tuple[ApiToken, str]:
    """A token that acts for one customer only, valid for CUSTOMER_TOKEN_LIFETIME."""
    secret, prefix, digest = _new_secret()
    token = ApiToken(
        kind="customer",
        customer_id=customer_id,
        name=name,
        prefix=prefix,
        token_hash=digest,
        scopes=[],
        expires_at=utcnow() + CUSTOMER_TOKEN_LIFETIME,
    )
    db.session.add(token)
    db.session.flush()
    return token, secret


def identify_bearer(raw: str) -> ApiToken | None:
    """The usable token for this secret (a staff token also needs an active user), or None."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(raw)))
    now = utcnow()
    if token is None or not token.is_usable(now):
        return None
    if token.kind == "staff" and (token.user is None or not token.user.active):
        return None
    return token


def note_use(token: ApiToken) -> None:
    """Record when a token was last used, at a coarse resolution to spare writes."""
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        token.last_used_at = now
        g.last_use_noted = True  # saved after the request (identity.save_last_use)


def tokens_of(user: User) -> list[ApiToken]:
    query = (
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.kind == "staff").order_by(ApiToken.id)
    )
    return list(db.session.scalars(query))


def own_token(user: User, token_id: int) -> ApiToken:
    """The user's token; someone else's token is as unknown as a missing one."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("No such token.")
    return token


def revoke_api_token(token: ApiToken, *, actor, within_scopes: list[str] | None = None) -> ApiToken:
    """Revoke a token at once. A token asking may only revoke tokens no stronger than itself."""
    if within_scopes is not None and not set(token.scopes) <= set(within_scopes):
        raise PermissionDenied("A token cannot revoke a token with more scopes than its own.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record("token.revoked", actor=actor, target=token, summary=f"Revoked token {token.name}")
    return token


def revoke_all_tokens(user: User, *, actor) -> int:
    count = 0
    for token in tokens_of(user):
        if token.revoked_at is None:
            revoke_api_token(token, actor=actor)
            count += 1
    return count


def revoke_customer_tokens(customer_id: int) -> int:
    """Every live token of a customer stops working (password reset, blocking, merge)."""
    query = select(ApiToken).where(
        ApiToken.kind == "customer", ApiToken.customer_id == customer_id, ApiToken.revoked_at.is_(None)
    )
    revoked = 0
    for token in db.session.scalars(query):
        token.revoked_at = utcnow()
        revoked += 1
    return revoked
