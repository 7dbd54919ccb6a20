"""Who is calling: a staff session in the portal, a bearer token on the API.

The API never accepts the session cookie (so it needs no CSRF protection) and the
portal never accepts bearer tokens.
"""

from __future__ import annotations

from flask import g, request
from sqlalchemy import select

from app.blueprints.auth import services
from app.blueprints.auth.models import User
from app.core.errors import is_api_request
from app.extensions import db, login_manager


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
    return user


@login_manager.request_loader
def load_token_user(req) -> User | None:
    if not is_api_request():
        return None
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials:
        return None
    token = services.identify_bearer(credentials.strip())
    if token is None:
        return None
    g.api_token = token
    return token.user
