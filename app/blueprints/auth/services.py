"""Use cases of staff identity. Services never commit: the caller's transaction() does."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select

from app.blueprints.auth.models import ApiToken, Role, RolePermission, User
from app.core import audit
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.permissions import BUILT_IN_ROLES, PERMISSIONS, default_permissions
from app.core.timeutil import utcnow
from app.extensions import db

hasher = PasswordHasher()  # Argon2id with the library's current recommended parameters
# Verified against when the email is unknown, so both answers take about as long.
DUMMY_HASH = hasher.hash("not-a-real-password-just-for-timing")
TOKEN_PREFIX = "crm_"  # noqa: S105  (a public marker, not a secret)
MIN_PASSWORD, MAX_PASSWORD = 12, 128


def normalize_email(raw: str) -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidInput("The email address is not valid.", errors={"email": [str(exc)]}) from exc


def check_password_rules(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            f"Passwords are {MIN_PASSWORD} to {MAX_PASSWORD} characters long.",
            errors={"password": [f"Use {MIN_PASSWORD} to {MAX_PASSWORD} characters."]},
        )


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None. Unknown emails cost the
    same hashing work as wrong passwords, so timing does not reveal which it was."""
    user = find_user_by_email(email)
    if user is None:
        _verify(DUMMY_HASH, password)
        return None
    if not _verify(user.password_hash, password) or not user.active:
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    user.last_login_at = utcnow()
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def ensure_built_in_roles() -> list[Role]:
    """Create the built-in roles and grant any default permission they are missing.
    Idempotent: permissions an admin removed from a role on purpose stay removed only
    for codes that are no longer defaults."""
    roles = []
    for name, description in BUILT_IN_ROLES.items():
        role = db.session.scalar(select(Role).where(Role.name == name))
        if role is None:
            role = Role(name=name, description=description, built_in=True)
            db.session.add(role)
        missing = default_permissions(name) - role.permission_codes
        for code in sorted(missing):
            role.permissions.append(RolePermission(code=code))
        roles.append(role)
    db.session.flush()
    return roles


def roles_named(names: list[str]) -> list[Role]:
    roles = list(db.session.scalars(select(Role).where(Role.name.in_(names))))
    unknown = set(names) - {r.name for r in roles}
    if unknown:
        raise InvalidInput(
            f"Unknown role(s): {', '.join(sorted(unknown))}.", errors={"roles": ["Unknown role."]}
        )
    return roles


def create_user(*, email: str, name: str, password: str, role_names: list[str], actor) -> User:
    email = normalize_email(email)
    check_password_rules(password)
    if find_user_by_email(email) is not None:
        raise Conflict(f"A user with the email {email} already exists.", code="email_taken")
    user = User(email=email, name=name.strip(), password_hash=hasher.hash(password))
    user.roles = roles_named(role_names)
    db.session.add(user)
    db.session.flush()
    audit.record("user.created", actor=actor, target=user, summary=f"Created user {email}", roles=role_names)
    return user


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_api_token(
    user: User,
    *,
    name: str,
    scopes: list[str],
    expires_at: datetime | None,
    actor,
    within_scopes: list[str] | None = None,
) -> tuple[ApiToken, str]:
    """A new token for `user` limited to `scopes`, each one the user must hold (and, when
    a token asks, each one that token holds). Returns the token and its secret, which is
    shown once and never stored."""
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
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput(
            "The expiry date is in the past.", errors={"expires_at": ["Must be in the future."]}
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=name.strip(),
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        token_hash=hash_token(secret),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        "token.created", actor=actor, target=token, summary=f"Token {name} for {user.email}", scopes=scopes
    )
    return token, secret


def identify_bearer(raw: str) -> ApiToken | None:
    """The usable token for this secret with an active user, or None."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(raw)))
    now = utcnow()
    if token is None or not token.is_usable(now) or not token.user.active:
        return None
    return token


def tokens_of(user: User) -> list[ApiToken]:
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)))


def own_token(user: User, token_id: int) -> ApiToken:
    """The user's token; someone else's token is as unknown as a missing one."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("No such token.")
    return token


def revoke_api_token(token: ApiToken, *, actor) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record("token.revoked", actor=actor, target=token, summary=f"Revoked token {token.name}")
    return token
