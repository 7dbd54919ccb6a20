"""What an HTMX request asks for: portal views answer a fragment or the whole page."""

from __future__ import annotations

from flask import request


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def wants_fragment(target: str) -> bool:
    """An HTMX request that swaps the element with id `target` (not a history restore,
    which needs the whole page)."""
    return (
        is_htmx()
        and request.headers.get("HX-History-Restore-Request") != "true"
        and request.headers.get("HX-Target") == target
    )
