"""The audit log as CSV, written row by row so an export of any size runs in constant memory."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import UTC

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
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(cell) -> str:
    """The cell as text; one a spreadsheet would evaluate gets a leading apostrophe."""
    text = "" if cell is None else str(cell)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


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
    return [neutralize(cell) for cell in cells]


def csv_lines(rows: Iterable) -> Iterator[str]:
    """The header, then one CSV line per row; only one line is ever held in memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells) -> str:
        writer.writerow(cells)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    yield line(COLUMNS)
    for row in rows:
        yield line(row_cells(row))
