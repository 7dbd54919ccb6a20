"""Input no view should ever see, refused once for every request before any view runs.

- A NUL character ("\\x00", "%00" in a URL, "\\u0000" in JSON). PostgreSQL's text types
  cannot store it and refuse any statement that carries one, so a NUL anywhere in a
  request would surface as a database error (a 500) in whichever query met it first.
  Nothing a person types contains one: a request that carries it is refused naming where
  (a 422 with field errors on the API, a 400 page in the portal).
- A JSON body nested deeper than MAX_JSON_DEPTH. No endpoint takes more than a few
  levels, and a few kilobytes of brackets would otherwise exhaust Python's recursion
  limit in the parser or in whatever walks the value (a 500): it is malformed, a 400.
"""

from __future__ import annotations

from flask import request

from app.core.errors import error_response

NUL = "\x00"
MESSAGE = "Must not contain NUL characters."
MAX_JSON_DEPTH = 32
TOO_DEEP = f"Nested more than {MAX_JSON_DEPTH} levels deep."


def nul_fields(value, path: str) -> list[str]:
    """The dotted paths in `value` (JSON: objects, lists, strings) holding a NUL."""
    if isinstance(value, str):
        return [path or "body"] if NUL in value else []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            found += [child] if NUL in str(key) else nul_fields(item, child)
        return found
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in nul_fields(item, f"{path}.{index}")]
    return []


def nested_deeper_than(value, limit: int) -> bool:
    """Whether `value` (parsed JSON) has containers more than `limit` levels deep; walked
    without recursion, so that any depth can be measured."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def json_too_deep() -> bool:
    if not request.is_json:
        return False
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # the parser gave up first: deeper than Python's own limit
        return True
    return nested_deeper_than(body, MAX_JSON_DEPTH)


def fields_holding_nul() -> list[str]:
    found = ["path"] if NUL in request.path else []
    for source in (request.args, request.form):
        for key, values in source.lists():
            if NUL in key or any(NUL in value for value in values):
                found.append(key.replace(NUL, "\\0"))
    found += [f"header {name}" for name, value in request.headers.items() if NUL in value]
    if request.is_json:
        found += nul_fields(request.get_json(silent=True), "")
    return found


def reject_unusable_input():
    """The before-request hook: a too deeply nested JSON body, then NUL characters."""
    if json_too_deep():
        return error_response(400, detail="The request could not be understood.", errors={"json": [TOO_DEEP]})
    return reject_nul_characters()


def reject_nul_characters():
    found = fields_holding_nul()
    if not found:
        return None
    if request.path.startswith("/api/"):
        return error_response(
            422,
            detail="The request holds a NUL character, which no field may contain.",
            code="invalid_input",
            errors={field: [MESSAGE] for field in found},
        )
    return error_response(400, detail="The request holds a NUL character, which no field may contain.")
