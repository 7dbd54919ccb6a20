"""Reading a CSV file to import, whatever it holds: UTF-8 with or without a byte order
mark, comma, semicolon or tab separated, the first line naming the columns.

A domain's import describes its columns with a `Header` (the column that must be there
and tells the delimiter, the columns it understands, the export-only ones it ignores);
`inspect_file()` then reads the whole file once, cheaply, so that whatever makes it
unimportable (not UTF-8, not CSV, unknown or missing columns, binary content) is found
before any row is written, and `data_rows()` streams its rows, skipping those already
imported when a run resumes. Only one row is held in memory at a time.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from app.core import csv_stream
from app.core.errors import InvalidInput

DELIMITERS = (",", ";", "\t")
MAX_HEADER_CHARS = 64 * 1024
ROW = "_row"  # the error key of a problem with the row as a whole


class UnreadableFile(Exception):
    """The file as a whole cannot be imported; nothing of it is written."""


@dataclass(frozen=True)
class Header:
    """The columns an import understands."""

    key: str  # required; the delimiter is the one that makes this column appear
    columns: tuple[str, ...]  # every column the import reads, the key among them
    ignored: tuple[str, ...] = ()  # columns an export adds that an import cannot set
    # Further rules on the names as a whole ("product_slug or product_name"): each returns
    # a problem ("no product_slug or product_name column") or None.
    checks: tuple[Callable[[tuple[str, ...]], str | None], ...] = field(default=())


@dataclass(frozen=True)
class FileLayout:
    delimiter: str
    columns: tuple[str, ...]
    rows: int  # data rows that are not blank


# --- Reading the file -------------------------------------------------------------------


@contextmanager
def open_text(path: str) -> Iterator[io.TextIOWrapper]:
    try:
        raw = open(path, "rb")  # noqa: SIM115  (closed by the wrapper)
    except OSError as exc:
        raise UnreadableFile("The file cannot be opened; upload it again.") from exc
    with io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
        yield text


def column_name(raw: str) -> str:
    """ "First Name", "first-name" and "first_name" all name the column first_name."""
    return re.sub(r"[\s-]+", "_", raw.strip().lower())


def plural(names: list[str]) -> str:
    return "s" if len(names) > 1 else ""


def read_header(text: io.TextIOWrapper, header: Header) -> tuple[str, tuple[str, ...]]:
    """The delimiter and the column names, from the first line: the delimiter is the one
    that makes the key column appear (the most columns if several do)."""
    line = text.readline(MAX_HEADER_CHARS)
    if not line.strip():
        raise UnreadableFile(
            f"The file is empty: its first line must name the columns, one of them {header.key}."
        )
    best: tuple[str, tuple[str, ...]] | None = None
    for delimiter in DELIMITERS:
        names = tuple(column_name(name) for name in next(csv.reader([line], delimiter=delimiter), []))
        if header.key in names and (best is None or len(names) > len(best[1])):
            best = (delimiter, names)
    if best is None:
        raise UnreadableFile(
            "The first line must name the columns, separated by commas or semicolons, and one of "
            f"them must be {header.key}. Columns an import understands: {', '.join(header.columns)}."
        )
    names = best[1]
    problems = []
    if "" in names:
        problems.append(f"column {names.index('') + 1} has no name")
    unknown = [name for name in names if name and name not in header.columns and name not in header.ignored]
    if unknown:
        problems.append(f"unknown column{plural(unknown)} {', '.join(unknown)}")
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        problems.append(f"repeated column{plural(repeated)} {', '.join(repeated)}")
    problems.extend(problem for check in header.checks if (problem := check(names)))
    if problems:
        raise UnreadableFile(
            f"The header row has {'; '.join(problems)}. Columns an import understands: "
            f"{', '.join(header.columns)}."
        )
    return best


def is_blank(cells: list[str]) -> bool:
    return not any(cell.strip() for cell in cells)


RowCheck = Callable[[int, list[str], tuple[str, ...]], None]  # (row number, cells, columns)


def inspect_file(path: str, header: Header, *, check_row: RowCheck | None = None) -> FileLayout:
    """The first, cheap pass over the whole file: that it decodes, parses and names known
    columns, and how many rows it holds. `check_row` may refuse the file for a row
    (raising UnreadableFile). Whatever would make the file unimportable is found here,
    before any row is written."""
    try:
        with open_text(path) as text:
            delimiter, columns = read_header(text, header)
            rows = 0
            for number, cells in enumerate(csv.reader(text, delimiter=delimiter), start=2):
                if any("\0" in cell for cell in cells):
                    raise UnreadableFile(
                        f"Row {number} holds NUL characters: this is not a text file, or it is UTF-16 "
                        "text. Save it as “CSV UTF-8” and import it again."
                    )
                if is_blank(cells):
                    continue
                rows += 1
                if check_row is not None:
                    check_row(number, cells, columns)
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            "The file is not UTF-8 text. Save it as “CSV UTF-8” (comma or semicolon separated) and "
            "import it again."
        ) from exc
    except csv.Error as exc:
        raise UnreadableFile(f"The file is not readable as CSV: {exc}.") from exc
    return FileLayout(delimiter=delimiter, columns=columns, rows=rows)


def data_rows(path: str, layout: FileLayout, *, skip: int = 0) -> Iterator[tuple[int, list[str]]]:
    """(row number as a spreadsheet shows it, cells) of each non-blank row after the first `skip`."""
    with open_text(path) as text:
        text.readline(MAX_HEADER_CHARS)  # the header, read as read_header() read it
        seen = 0
        for number, cells in enumerate(csv.reader(text, delimiter=layout.delimiter), start=2):
            if is_blank(cells):
                continue
            seen += 1
            if seen > skip:
                yield number, cells


# --- One row ----------------------------------------------------------------------------


def cell_text(cell: str) -> str:
    """The value of a cell, without the apostrophe an export puts before a cell a
    spreadsheet would run as a formula ("'+31…"): an export imports back unchanged."""
    text = cell.strip()
    if text[:1] == "'" and text[1:2] in csv_stream.FORMULA_TRIGGERS:
        text = text[1:].strip()
    return text


def cell_at(cells: list[str], index: int) -> str:
    return cell_text(cells[index]) if index < len(cells) else ""


def row_values(columns: tuple[str, ...], cells: list[str]) -> dict[str, str]:
    """The row's cells by column name (missing trailing cells are empty). A row with more
    cells than the header has columns is refused: its values may be shifted."""
    if len(cells) > len(columns) and not is_blank(cells[len(columns) :]):
        raise InvalidInput(
            "The row has more cells than the header has columns.",
            errors={ROW: [f"The row has {len(cells)} cells; the header names {len(columns)} columns."]},
        )
    values = dict.fromkeys(columns, "")
    values.update((name, cell_text(cell)) for name, cell in zip(columns, cells, strict=False))
    return values
