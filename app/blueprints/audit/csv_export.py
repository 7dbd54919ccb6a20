"""The audit log as CSV, written row by row so an export of any size runs in constant memory."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC

from app.core import csv_stream
from app.core.csv_stream import neutralize  # noqa: F401  (part of this module's interface)

COLUMNS = (
    "time",
    "actor",
    "action",
    "object_type",
    "object_id",
    "summary",
    "ip",
    "request_id",
    "changes",
    "data",
)


def as_json(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False) if value else ""


def row_cells(row) -> list[str]:
    occurred_at, actor, action, object_type, object_id, summary, ip, request_id, data = row
    data = dict(data or {})
    changes = data.pop("changes", None)
    cells = [
        occurred_at.astimezone(UTC).isoformat() if occurred_at else "",
        actor,
        action,
        object_type,
        object_id,
        summary,
        ip,
        request_id,
        as_json(changes),
        as_json(data),
    ]
    return cells


def csv_lines(rows: Iterable) -> Iterator[str]:
    """The header, then one CSV line per audit entry."""
    return csv_stream.csv_lines(COLUMNS, (row_cells(row) for row in rows))
