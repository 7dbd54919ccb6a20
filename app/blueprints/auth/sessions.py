"""Server-side portal sessions (ASVS V7): created at sign-in with 256 random bits,
checked on every request, ended at sign-out, on demand, or when they time out.

Idle timeout: PERMANENT_SESSION_LIFETIME since the last request. Absolute timeout:
SESSION_ABSOLUTE_HOURS since sign-in. Both are enforced from the database row, so a
copied cookie is worth nothing once its session has ended.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, g, has_request_context, request
from sqlalchemy import select, update

from app.blueprints.auth.models import User, UserSession
from app.core.timeutil import utcnow
from app.extensions import db

# last_seen_at is written at most this often, not on every request.
TOUCH_RESOLUTION = timedelta(minutes=1)


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def idle_seconds() -> int:
    lifetime = current_app.config["PERMANENT_SESSION_LIFETIME"]
    return int(lifetime.total_seconds() if isinstance(lifetime, timedelta) else lifetime)


def create(user: User, *, factors: str) -> str:
    """A new session for `user`; returns the raw id for the cookie (never stored)."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    row = UserSession(
        user_id=user.id,
        token_hash=_digest(raw),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"]),
        factors=factors,
    )
    if has_request_context():
        row.ip_address = request.remote_addr
        row.user_agent = (request.user_agent.string or "")[:255]
    db.session.add(row)
    db.session.flush()
    return raw


def find_live(raw: str | None) -> UserSession | None:
    """The live session behind a cookie's id, touched; None when ended or timed out."""
    if not raw or len(raw) > 100:
        return None
    row = db.session.scalar(select(UserSession).where(UserSession.token_hash == _digest(raw)))
    now = utcnow()
    if row is None or not row.is_live(now, idle_seconds()):
        return None
    if now - row.last_seen_at > TOUCH_RESOLUTION:
        row.last_seen_at = now
        g.last_use_noted = True  # saved after the request (identity.save_last_use)
    return row


def end(row: UserSession, reason: str) -> None:
    if row.ended_at is None:
        row.ended_at = utcnow()
        row.ended_reason = reason


def end_by_raw(raw: str | None, reason: str) -> None:
    if raw:
        row = db.session.scalar(select(UserSession).where(UserSession.token_hash == _digest(raw)))
        if row is not None:
            end(row, reason)


def end_all(user: User, reason: str, *, except_raw: str | None = None) -> int:
    """End every live session of `user` (but the one with `except_raw`, if given)."""
    query = update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    if except_raw:
        query = query.where(UserSession.token_hash != _digest(except_raw))
    result = db.session.execute(query.values(ended_at=utcnow(), ended_reason=reason))
    return result.rowcount


def live_sessions(user: User) -> list[UserSession]:
    now = utcnow()
    query = (
        select(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None), UserSession.expires_at > now)
        .order_by(UserSession.last_seen_at.desc())
    )
    return [row for row in db.session.scalars(query) if row.is_live(now, idle_seconds())]


def is_current(row: UserSession, raw: str | None) -> bool:
    return raw is not None and row.token_hash == _digest(raw)
