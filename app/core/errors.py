"""The DomainError family and the one path that turns any error into a response.

Services raise typed errors with a stable code. Whatever goes wrong, the response is
decided in `error_response()`: `application/problem+json` (RFC 9457) for requests under
`/api/`, an HTML page for the portal. A 500 never carries a trace.
"""

from __future__ import annotations

import json
from http import HTTPStatus

from flask import Response, render_template, request
from werkzeug.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"


class DomainError(Exception):
    """A rule of the business said no. Subclasses fix the HTTP status."""

    status = 400
    code = "bad_request"

    def __init__(self, detail: str, *, code: str | None = None, errors: dict | None = None):
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.code
        self.errors = errors


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class InvalidInput(DomainError):
    """Field-level problems: `errors` maps field names to lists of messages."""

    status = 422
    code = "invalid_input"


class PermissionDenied(DomainError):
    status = 403
    code = "permission_denied"


class ServiceUnavailable(DomainError):
    """Something we depend on (Redis, a provider) cannot be reached right now."""

    status = 503
    code = "service_unavailable"


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def status_title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def flatten_field_errors(messages, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow/webargs nested messages into {"field.sub": [messages]}."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            flat.update(flatten_field_errors(value, name))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        flat[prefix or "_request"] = list(messages)
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            flat.update(flatten_field_errors(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        flat[prefix or "_request"] = [str(messages)]
    return flat


def webargs_errors(messages) -> dict[str, list[str]]:
    """webargs nests messages by location ({"json": {...}, "query": {...}}): drop that level."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for location, value in messages.items():
            if isinstance(value, dict):
                flat.update(flatten_field_errors(value))
            else:
                flat.update(flatten_field_errors(value, location))
    return flat


def problem_response(
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    code: str | None = None,
    errors: dict | None = None,
    headers: dict | None = None,
) -> Response:
    body = {
        "type": f"urn:crm:problem:{code}" if code else "about:blank",
        "title": title or status_title(status),
        "status": status,
        "detail": detail or status_title(status),
    }
    if code:
        body["code"] = code
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_page(status: int, *, title: str | None = None, detail: str | None = None, headers=None):
    html = render_template(
        "errors/error.html",
        status=status,
        title=title or status_title(status),
        detail=detail,
    )
    response = Response(html, status=status, mimetype="text/html")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_response(status: int, *, detail=None, code=None, errors=None, headers=None, title=None):
    """The single place that decides JSON problem or HTML page."""
    if is_api_request():
        return problem_response(status, title=title, detail=detail, code=code, errors=errors, headers=headers)
    return error_page(status, title=title, detail=detail, headers=headers)


HTTP_DETAILS = {
    400: "The request could not be understood.",
    401: "Authentication is required.",
    403: "You do not have permission to do this.",
    404: "Nothing is here.",
    405: "This method is not allowed here.",
    413: "The request body is larger than the server accepts.",
    415: "This content type is not accepted here.",
    429: "Too many requests; slow down and try again later.",
    500: "Something went wrong on our side. It has been logged.",
}


def handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = None
    if "errors" in data:
        errors = flatten_field_errors(data["errors"])
    elif "messages" in data:
        errors = webargs_errors(data["messages"])
    headers = dict(data.get("headers") or {})
    if hasattr(error, "get_headers"):
        for name, value in error.get_headers():
            if name.lower() not in ("content-type", "content-length"):
                headers.setdefault(name, value)
    detail = data.get("message") or HTTP_DETAILS.get(status)
    if status == 400 and getattr(error, "description", None) and "CSRF" in error.description:
        detail = "The form expired or was sent from elsewhere. Reload the page and try again."
    if status == 422 and not detail:
        detail = "Some fields are not valid."
    return error_response(status, detail=detail, errors=errors, headers=headers)


def handle_domain_error(error: DomainError) -> Response:
    return error_response(error.status, detail=error.detail, code=error.code, errors=error.errors)
