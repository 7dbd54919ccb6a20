"""Use cases of staff users and built-in roles. Services never commit: the caller's
transaction() does. Sign-in lives in authentication.py, tokens in tokens.py."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select

from app.blueprints.auth import passwords, sessions
from app.blueprints.auth.models import Role, RolePermission, User
from app.core import audit
from app.core.errors import Conflict, InvalidInput
from app.core.permissions import BUILT_IN_ROLES, default_permissions
from app.core.timeutil import utcnow
from app.extensions import db


def normalize_email(raw: str, field: str = "email") -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidInput("The email address is not valid.", errors={field: [str(exc)]}) from exc


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def ensure_built_in_roles(actor=None) -> list[Role]:
    """Create the built-in roles and grant each default permission it was never offered
    (new permissions arrive with new domains). A default an admin removed stays removed.
    Idempotent; run by `flask crm sync-roles` after every upgrade."""
    roles = []
    for name, description in BUILT_IN_ROLES.items():
        role = db.session.scalar(select(Role).where(Role.name == name))
        if role is None:
            role = Role(name=name, description=description, built_in=True, defaults_applied=[])
            db.session.add(role)
        defaults = default_permissions(name)
        offered = set(role.defaults_applied or [])
        granted = sorted(defaults - offered - role.permission_codes)
        for code in granted:
            role.permissions.append(RolePermission(code=code))
        role.defaults_applied = sorted(offered | defaults)
        if granted and role.id is not None:
            audit.record(
                "role.defaults_granted",
                actor=actor,
                target=role,
                summary="Default permissions of new features",
                added=granted,
            )
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
    """A new active staff user. The email is unique (case-insensitively) and the password
    must pass the password rules."""
    email = normalize_email(email)
    if not name.strip():
        raise InvalidInput("A name is required.", errors={"name": ["Enter the person's name."]})
    passwords.check_new_password(password, email=email, name=name)
    if find_user_by_email(email) is not None:
        raise Conflict(
            f"A user with the email {email} already exists.",
            code="email_taken",
            errors={"email": ["Another user has this email address."]},
        )
    user = User(
        email=email,
        name=name.strip(),
        password_hash=passwords.hash_password(password),
        password_changed_at=utcnow(),
        # Chosen by someone else (an admin in the portal): the user replaces it at first sign-in.
        password_must_change=getattr(actor, "is_staff", False),
    )
    user.roles = roles_named(role_names)
    db.session.add(user)
    db.session.flush()
    audit.record("user.created", actor=actor, target=user, summary=f"Created user {email}", roles=role_names)
    return user


def set_password(user: User, new_password: str, *, actor, reason: str) -> User:
    """Replace the password and end every session the user has open (tokens stay:
    they are revoked on their own)."""
    passwords.check_new_password(new_password, email=user.email, name=user.name)
    user.password_hash = passwords.hash_password(new_password)
    user.password_changed_at = utcnow()
    user.password_must_change = False
    user.failed_logins = 0
    user.locked_until = None
    end_all_sessions(user, reason="password changed")
    audit.record("auth.password_changed", actor=actor, target=user, summary=f"Password changed ({reason})")
    return user


def end_all_sessions(user: User, reason: str = "ended by an administrator") -> int:
    """Every open portal session of the user ends now; returns how many were open."""
    user.session_version += 1  # also spends a pending second-factor step
    return sessions.end_all(user, reason)
