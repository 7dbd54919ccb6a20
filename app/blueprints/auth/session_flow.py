"""The portal session: opened only after every factor, bounded in time (ASVS V7).

- A new server-side session on sign-in (no fixation; see sessions.py for timeouts), and
  a new one again after re-authentication.
- With MFA on, the password step leaves only a short-lived "pending" mark; the session
  opens when the second factor is verified (mfa_views).
- Members of a role that requires MFA and have not enrolled may only enroll (or sign
  out) until they have.
"""

from __future__ import annotations

import time

from flask import g, redirect, request, session, url_for
from flask_login import current_user, login_user

from app.blueprints.auth import sessions
from app.blueprints.auth.models import User
from app.core import audit
from app.core.timeutil import utcnow
from app.extensions import db

PENDING_KEY = "mfa_pending"
PENDING_MAX_AGE = 300  # seconds to enter the second factor after the password
ENROLL_KEY = "mfa_enroll_required"
# Endpoints a user who must enroll in MFA may still reach.
ENROLLMENT_ALLOWED = {"auth.mfa_enroll", "auth.logout", "static"}
# Endpoints a user who must replace an initial password may still reach.
PASSWORD_CHANGE_ALLOWED = {"auth.change_password", "auth.confirm_identity", "auth.logout", "static"}


def start_sign_in(user: User) -> str:
    """After a correct password: open the session, or ask for the second factor.
    Returns the endpoint to send the browser to next."""
    if user.mfa_enabled:
        session.clear()
        session[PENDING_KEY] = {"user": user.id, "version": user.session_version, "at": time.time()}
        return "auth.mfa_challenge"
    open_session(user, factors="password")
    if user.mfa_required:
        session[ENROLL_KEY] = True
        return "auth.mfa_enroll"
    return ""


def pending_user() -> User | None:
    """The user who passed the password step and owes a second factor, if still valid."""
    pending = session.get(PENDING_KEY)
    if not pending or time.time() - pending.get("at", 0) > PENDING_MAX_AGE:
        return None
    user = db.session.get(User, pending.get("user"))
    if user is None or not user.active or user.session_version != pending.get("version"):
        return None
    return user


SESSION_ID_KEY = "sid"


def open_session(user: User, *, factors: str) -> None:
    session.clear()  # a fresh session on sign-in: no fixation
    login_user(user)
    session.permanent = True
    session[SESSION_ID_KEY] = sessions.create(user, factors=factors)
    # Having just proved who they are, the user may change their MFA settings right away
    # (enrollment at first sign-in) without being asked again.
    session["reauthenticated_at"] = time.time()
    user.last_login_at = utcnow()
    audit.record("auth.login", actor=user, target=user, summary=f"Signed in ({factors})")


def current_session_row(user: User):
    """The live server-side session this browser holds for `user`, or None."""
    row = sessions.find_live(session.get(SESSION_ID_KEY))
    if row is None or row.user_id != user.id:
        return None
    g.user_session = row
    return row


def rotate_session(user: User) -> None:
    """A new session id after re-authentication; the old one ends."""
    old = session.get(SESSION_ID_KEY)
    sessions.end_by_raw(old, "replaced after re-authentication")
    factors = "re-authenticated"
    session[SESSION_ID_KEY] = sessions.create(user, factors=factors)


def close_session(reason: str) -> None:
    sessions.end_by_raw(session.get(SESSION_ID_KEY), reason)


def enforce_session_rules():
    """Before each portal request: a user with an initial password changes it first; a
    user who must enroll in MFA stays on the enrollment page until they have."""
    if request.path.startswith("/api/") or not current_user.is_authenticated:
        return None
    if current_user.password_must_change and request.endpoint not in PASSWORD_CHANGE_ALLOWED:
        return redirect(url_for("auth.change_password"))
    if not session.get(ENROLL_KEY):
        return None
    if current_user.mfa_enabled:
        session.pop(ENROLL_KEY, None)
        return None
    if request.endpoint not in ENROLLMENT_ALLOWED:
        return redirect(url_for("auth.mfa_enroll"))
    return None
