"""Permission registry and the decorators every endpoint declares itself with.

Each domain defines its permission codes (`define_permission`) in code; roles are
records that hold codes. A view is either `@require_permission(code)` or `@public`,
and a test walks the URL map to make sure nothing is neither.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from flask import g, request
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
security_log = logging.getLogger("app.security")


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


def log_denial(needed: str) -> None:
    """Failed authorization attempts go to the security log (ASVS V16.3.2)."""
    token = g.get("api_token")
    security_log.warning(
        "permission denied: %s needs %s on %s %s",
        current_user.get_id(),
        needed,
        request.method,
        request.path,
        extra={"token_id": getattr(token, "id", None)},
    )


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
                log_denial(code)
                raise PermissionDenied(f"This needs the permission “{code}”.")
            return view(*args, **kwargs)

        wrapper.required_permission = code
        return wrapper

    return decorator


def require_login(view):
    """For what every signed-in staff member may use (their own account, the dashboard).
    A customer token is not a staff identity and is refused."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return unauthenticated_response()
        if not getattr(current_user, "is_staff", False):
            log_denial("authenticated")
            raise PermissionDenied("This needs a staff account.")
        return view(*args, **kwargs)

    wrapper.required_permission = "authenticated"
    return wrapper


def require_customer(view):
    """For storefront endpoints that act for the customer behind a customer token."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return unauthenticated_response()
        if getattr(current_user, "customer_id", None) is None:
            log_denial("customer")
            raise PermissionDenied("This needs a customer token.")
        return view(*args, **kwargs)

    wrapper.required_permission = "customer"
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
