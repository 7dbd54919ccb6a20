"""Permission registry and the decorators every endpoint declares itself with.

Each domain defines its permission codes (`define_permission`) in code; roles are
records that hold codes. A view is either `@require_permission(code)` or `@public`,
and a test walks the URL map to make sure nothing is neither.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from flask import g
from flask_login import current_user

from app.core.errors import PermissionDenied, error_response, is_api_request


@dataclass(frozen=True)
class Permission:
    code: str
    description: str
    group: str
    # Built-in roles (besides admin, which holds every permission) granted this by default.
    default_roles: tuple[str, ...] = ()


PERMISSIONS: dict[str, Permission] = {}


BUILT_IN_ROLES = {
    "admin": "Runs the system: users, roles, settings, audit",
    "sales": "Leads, opportunities, customers and phone orders",
    "support": "Tickets, returns, live chat and the knowledge base",
    "marketing": "Segments, campaigns, promotions and analytics",
}


def define_permission(code: str, description: str, group: str, default_roles: tuple[str, ...] = ()) -> str:
    """Declare a permission code once, at import of the domain that owns it."""
    existing = PERMISSIONS.get(code)
    if existing and existing.description != description:
        raise ValueError(f"permission {code} is defined twice with different descriptions")
    unknown = set(default_roles) - set(BUILT_IN_ROLES)
    if unknown:
        raise ValueError(f"permission {code} names unknown built-in roles {sorted(unknown)}")
    PERMISSIONS[code] = Permission(code, description, group, tuple(default_roles))
    return code


def default_permissions(role_name: str) -> set[str]:
    if role_name == "admin":
        return set(PERMISSIONS)
    return {p.code for p in PERMISSIONS.values() if role_name in p.default_roles}


def permissions_by_group() -> dict[str, list[Permission]]:
    grouped: dict[str, list[Permission]] = {}
    for permission in sorted(PERMISSIONS.values(), key=lambda p: (p.group, p.code)):
        grouped.setdefault(permission.group, []).append(permission)
    return grouped


def current_identity_can(code: str) -> bool:
    """True when the logged-in user (and the token they came with, if any) grants `code`."""
    if not current_user.is_authenticated or not current_user.has_permission(code):
        return False
    token = g.get("api_token")
    return token is None or token.allows(code)


def unauthenticated_response():
    if is_api_request():
        return error_response(
            401,
            detail="Send a valid bearer token in the Authorization header.",
            code="unauthenticated",
            headers={"WWW-Authenticate": 'Bearer realm="api"'},
        )
    from app.extensions import login_manager

    return login_manager.unauthorized()


def require_permission(code: str):
    """Allow the view only to an authenticated identity that holds `code`."""
    if code not in PERMISSIONS:
        raise ValueError(f"unknown permission {code!r}: define it with define_permission()")

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return unauthenticated_response()
            if not current_identity_can(code):
                raise PermissionDenied(f"This needs the permission “{code}”.")
            return view(*args, **kwargs)

        wrapper.required_permission = code
        return wrapper

    return decorator


def require_login(view):
    """For pages every signed-in staff member may use (their own account, the dashboard)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return unauthenticated_response()
        return view(*args, **kwargs)

    wrapper.required_permission = "authenticated"
    return wrapper


def public(view):
    """Mark a view as reachable without any identity, on purpose."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        return view(*args, **kwargs)

    wrapper.is_public = True
    return wrapper


def access_declaration(view) -> str | None:
    """'public', a permission code, or None when the view declares nothing."""
    if getattr(view, "is_public", False):
        return "public"
    return getattr(view, "required_permission", None)
