"""Use cases of a user managing their own account."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.blueprints.auth import passwords, services, sessions
from app.blueprints.auth.models import User, UserSession
from app.core import audit
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.mail import send_mail
from app.extensions import db


def update_profile(user: User, *, name: str, timezone: str | None, actor) -> User:
    timezone = (timezone or "").strip() or None
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidInput(
                "Unknown time zone.",
                errors={"timezone": ["Use a name like Europe/Amsterdam or America/New_York."]},
            ) from exc
    before = {"name": user.name, "timezone": user.timezone}
    user.name = name.strip()
    user.timezone = timezone
    after = {"name": user.name, "timezone": user.timezone}
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if changes:
        audit.record(
            "user.profile_updated", actor=actor, target=user, summary="Profile updated", changes=changes
        )
    return user


def change_email(user: User, new_email: str, *, actor) -> User:
    """A new sign-in address; the old one is told, so a hijack does not go unnoticed."""
    email = services.normalize_email(new_email)
    existing = services.find_user_by_email(email)
    if existing is not None and existing.id != user.id:
        raise Conflict(
            "Another user has that email address.", code="email_taken", errors={"email": ["Already in use."]}
        )
    old = user.email
    if old == email:
        return user
    user.email = email
    send_mail(old, "Your sign-in email address was changed", "email_changed", user=user, old_email=old)
    audit.record(
        "user.email_changed",
        actor=actor,
        target=user,
        summary=f"Email {old} → {email}",
        changes={"email": [old, email]},
    )
    return user


def change_password(user: User, current_password: str, new_password: str, *, actor) -> User:
    """A new password, given the current one (a hijacked open session is not enough)."""
    if not passwords.verify_password(user.password_hash, current_password):
        raise InvalidInput(
            "The current password is not right.",
            errors={"current_password": ["The current password is not right."]},
        )
    return services.set_password(user, new_password, actor=actor, reason="changed by the user")


def sign_out_everywhere(user: User, *, actor) -> None:
    count = services.end_all_sessions(user, reason="signed out everywhere")
    audit.record("user.sessions_ended", actor=actor, target=user, summary=f"Signed out everywhere ({count})")


def end_session(user: User, session_id: int, *, actor) -> UserSession:
    """End one of the user's own sessions (another device); someone else's is not found."""
    row = db.session.get(UserSession, session_id)
    if row is None or row.user_id != user.id:
        raise NotFound("No such session.")
    sessions.end(row, "ended by the user")
    audit.record(
        "user.session_ended", actor=actor, target=user, summary=f"Ended session on {row.user_agent[:60]}"
    )
    return row
