"""Who is calling: a staff session in the portal, a bearer token on the API.

The API never accepts the session cookie (so it needs no CSRF protection) and the
portal never accepts bearer tokens; tokens in URLs are never accepted for staff.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, g, request
from sqlalchemy import select

from app.blueprints.auth import session_flow, tokens
from app.blueprints.auth.models import User
from app.core.errors import is_api_request
from app.core.transaction import in_transaction, transaction
from app.extensions import db, login_manager


@dataclass(frozen=True)
class CustomerPrincipal:
    """The storefront customer behind a customer token. Holds no staff permission."""

    customer_id: int
    token_id: int
    is_staff: bool = False
    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False

    def get_id(self) -> str:
        return f"customer:{self.customer_id}"

    def has_permission(self, code: str) -> bool:
        return False


@login_manager.user_loader
def load_session_user(session_id: str) -> User | None:
    if is_api_request():
        return None
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.scalar(select(User).where(User.id == int(user_id)))
    # A bumped session_version ends every session that was opened before it.
    if user is None or not user.active or user.session_version != int(version):
        return None
    if session_flow.current_session_row(user) is None:
        return None  # ended, timed out, or never opened by a sign-in
    return user


@login_manager.request_loader
def load_token_identity(req):
    if not is_api_request():
        return None
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    token = tokens.identify_bearer(credentials.strip())
    if token is None:
        return None
    g.api_token = token
    tokens.note_use(token)
    if token.kind == "customer":
        return CustomerPrincipal(customer_id=token.customer_id, token_id=token.id)
    return token.user


def save_last_use(response):
    """Persist when a token or session was last used, if the request itself wrote nothing.
    A flag, not the rows' dirtiness: a query later in the request may have flushed them."""
    if g.get("last_use_noted") and not in_transaction():
        with transaction():
            pass
    return response


def init_identity(app: Flask) -> None:
    app.after_request(save_last_use)
    app.before_request(session_flow.enforce_session_rules)
