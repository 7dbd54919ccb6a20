"""Re-authentication before sensitive changes (email, password, MFA): the user proves
again who they are (password, and a code where MFA is on) within the last few minutes."""

from __future__ import annotations

import functools
import time

from flask import redirect, request, session, url_for

REAUTH_KEY = "reauthenticated_at"
REAUTH_WINDOW = 300  # seconds a confirmation stays valid


def recently_reauthenticated() -> bool:
    return time.time() - session.get(REAUTH_KEY, 0) <= REAUTH_WINDOW


def mark_reauthenticated() -> None:
    session[REAUTH_KEY] = time.time()


def forget_reauthentication() -> None:
    session.pop(REAUTH_KEY, None)


def require_recent_auth(view):
    """Send the user to confirm their identity first, then back to this page."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not recently_reauthenticated():
            # A form post cannot be replayed after the detour: come back to its page instead.
            back = request.full_path if request.method == "GET" else url_for("auth.account")
            return redirect(url_for("auth.confirm_identity", next=back))
        return view(*args, **kwargs)

    return wrapper
