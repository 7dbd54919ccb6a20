"""CSV exports written line by line, so an export of any size runs in constant memory,
with every cell a spreadsheet would run as a formula neutralised (CSV injection)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def cell_text(cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, datetime):
        return cell.astimezone(UTC).isoformat()
    return str(cell)


def neutralize(cell) -> str:
    """The cell as text; one a spreadsheet would evaluate gets a leading apostrophe
    (phone numbers in E.164 too: "+31..." is read as a formula)."""
    text = cell_text(cell)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def csv_lines(header: Iterable[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """The header, then one CSV line per row of cells; only one line is held in memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells) -> str:
        writer.writerow(cells)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    yield line(list(header))
    for row in rows:
        yield line([neutralize(cell) for cell in row])
