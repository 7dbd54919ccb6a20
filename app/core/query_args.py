"""Query-string filters as API list endpoints read them."""

from __future__ import annotations

from collections.abc import Iterable


def cleaned_query_args(data, list_fields: Iterable[str] = ()) -> dict:
    """The arguments with blanks dropped (an empty argument means "no filter"), text
    trimmed, and each of `list_fields` a list: "status=paid,processing" or a repeated
    parameter is several values. For a marshmallow `pre_load` of a filter schema."""
    list_fields = set(list_fields)
    cleaned = {}
    for key, value in data.items():
        if key in list_fields:
            values = value if isinstance(value, list) else [value]
            parts = [p.strip() for v in values if isinstance(v, str) for p in v.split(",") if p.strip()]
            if parts:
                cleaned[key] = parts
        elif isinstance(value, str):
            if value.strip():
                cleaned[key] = value.strip()
        elif value is not None:
            cleaned[key] = value
    return cleaned
