"""Re-authentication before sensitive changes (email, password, MFA, a new API token):
the user proves again who they are (password, and a code where MFA is on) within the last
few minutes."""

from __future__ import annotations

import functools
import time
from urllib.parse import urlsplit

from flask import flash, redirect, request, session, url_for

REAUTH_KEY = "reauthenticated_at"
REAUTH_WINDOW = 300  # seconds a confirmation stays valid


def recently_reauthenticated() -> bool:
    return time.time() - session.get(REAUTH_KEY, 0) <= REAUTH_WINDOW


def mark_reauthenticated() -> None:
    session[REAUTH_KEY] = time.time()


def forget_reauthentication() -> None:
    session.pop(REAUTH_KEY, None)


def form_page() -> str:
    """The page a form was posted from, as a same-site path (the confirmation's `next`
    takes nothing else), or the account page."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path.startswith("/"):
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return url_for("auth.account")


def require_recent_auth(view):
    """Send the user to confirm their identity first, then back to this page."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not recently_reauthenticated():
            if request.method == "GET":
                back = request.full_path
            else:
                # A form post cannot be replayed after the detour: back to its page, to send again.
                back = form_page()
                flash("Confirm it is you first, then send the form again.", "info")
            return redirect(url_for("auth.confirm_identity", next=back))
        return view(*args, **kwargs)

    return wrapper
