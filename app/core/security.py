"""Response hardening and request ids, applied to every response."""

from __future__ import annotations

import re
import uuid

from flask import Flask, g, request

from app.core.errors import error_response
from app.extensions import csrf

# No inline script anywhere: htmx and every enhancement load from /static.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Swagger UI sets style attributes from its own script; it still runs no inline script.
DOCS_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
BODY_METHODS = ("POST", "PUT", "PATCH")
JSON_TYPES = ("application/json", "application/merge-patch+json")
API_PREFIX = "/api/"


def assign_request_id() -> None:
    """Keep a well-formed id from the proxy in front of us, or make one."""
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if REQUEST_ID_PATTERN.match(incoming) else uuid.uuid4().hex


def protect_portal_forms() -> None:
    """CSRF on every portal write. The API is exempt because it accepts no cookies."""
    if not request.path.startswith("/api/"):
        csrf.protect()


def reject_non_json_api_bodies():
    """API bodies are JSON; say so clearly instead of parsing an empty payload."""
    path = request.path
    if not path.startswith("/api/") or path.startswith("/api/v1/hooks/"):
        return None
    if request.method in BODY_METHODS and request.content_length and request.mimetype not in JSON_TYPES:
        return error_response(
            415,
            detail=f"Send the body as application/json (got {request.mimetype or 'none'}).",
            code="unsupported_media_type",
        )
    return None


def add_security_headers(response):
    headers = response.headers
    csp = DOCS_CONTENT_SECURITY_POLICY if request.path == "/api/v1/docs" else CONTENT_SECURITY_POLICY
    headers.setdefault("Content-Security-Policy", csp)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    hsts = response_hsts_seconds()
    if hsts:
        headers.setdefault("Strict-Transport-Security", f"max-age={hsts}; includeSubDomains")
    if request.path.startswith(API_PREFIX):
        # API answers carry customers' data, carts, orders and tokens: none is stored by a
        # browser or a proxy unless its endpoint says otherwise (the catalog's public
        # max-age, tracking's ETag), errors and unrouted paths included.
        headers.setdefault("Cache-Control", "no-store")
    if "request_id" in g:
        headers["X-Request-ID"] = g.request_id
    if request.headers.get("HX-Request"):
        response.vary.add("HX-Request")
    return response


# Retry-After tells a client to wait (RFC 9110): only a 429 or a 503 means that.
RETRY_AFTER_STATUSES = (429, 503)


def drop_stray_retry_after(response):
    """flask-limiter adds Retry-After to every rate-limited answer, even a 200; clients
    that honour it would wait for nothing."""
    if response.status_code not in RETRY_AFTER_STATUSES:
        response.headers.pop("Retry-After", None)
    return response


def response_hsts_seconds() -> int:
    from flask import current_app

    return int(current_app.config.get("HSTS_SECONDS") or 0)


def init_security(app: Flask) -> None:
    from app.core.input_guard import reject_unusable_input

    app.before_request(assign_request_id)
    app.before_request(reject_non_json_api_bodies)
    app.before_request(reject_unusable_input)
    app.before_request(protect_portal_forms)
    app.after_request(add_security_headers)
    # After-request hooks run last-registered first, and the limiter (set up before us)
    # adds its headers in its own hook: put this one first in the list so it runs last.
    app.after_request_funcs.setdefault(None, []).insert(0, drop_stray_retry_after)
