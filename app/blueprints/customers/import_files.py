"""The customer import's CSV file: reading, sniffing and checking it, and parsing its rows.

The format is the customer export's: a header row naming the columns (email required,
the others in COLUMNS, in any order; the export's read-only columns are accepted and
ignored, any other name refuses the file), comma, semicolon or tab separated, UTF-8 with
or without a byte order mark. Empty cells change nothing.

A file that cannot be read (not UTF-8, not CSV, no email column, unknown columns, consent
values without a wording version) raises UnreadableFile from inspect_file(), before any
row is written. A row that does not check out raises InvalidInput from parse_row(), with
its messages per column (ROW for the row as a whole). Nothing here touches the database;
writing the rows is app.blueprints.customers.imports' work.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from app.blueprints.customers import validation
from app.blueprints.customers.models import STATUSES, Customer
from app.core import csv_stream
from app.core.errors import InvalidInput

TEXT_COLUMNS = (
    "first_name",
    "last_name",
    "company",
    "vat_number",
    "region",
    "city",
    "gender",
    "acquisition_source",
    "acquisition_channel",
)
CHECKED_COLUMNS = {
    "country": validation.country,
    "language": validation.language,
    "timezone": validation.timezone,
}
COLUMNS = (  # in the export's order
    "email",
    "first_name",
    "last_name",
    "company",
    "vat_number",
    "phones",
    "status",
    "country",
    "region",
    "city",
    "language",
    "timezone",
    "date_of_birth",
    "gender",
    "acquisition_source",
    "acquisition_channel",
    "tags",
    "marketing_email_consent",
)
# Figures the export adds that an import cannot set: an edited export imports back.
EXPORT_ONLY_COLUMNS = ("id", "order_count", "total_spent", "last_order_at", "created_at")
DELIMITERS = (",", ";", "\t")
PHONE_SEPARATOR = re.compile(r"\s*[|;]\s*")
TAG_SEPARATOR = re.compile(r"\s*[|,;]\s*")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
CONSENT_VALUES = {
    **dict.fromkeys(("yes", "y", "true", "1"), True),
    **dict.fromkeys(("no", "n", "false", "0"), False),
}
MAX_HEADER_CHARS = 64 * 1024
ROW = "_row"  # the error key of a problem with the row as a whole


class UnreadableFile(Exception):
    """The file as a whole cannot be imported; nothing of it is written."""


@dataclass(frozen=True)
class FileLayout:
    delimiter: str
    columns: tuple[str, ...]
    rows: int  # data rows that are not blank


@dataclass(frozen=True)
class RowInput:
    email: str
    data: dict  # non-empty profile values, checked and normalised
    phones: list[str] | None
    tags: list[str] | None
    consent: bool | None


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
    return re.sub(r"[\s-]+", "_", raw.strip().lower())


def read_header(text: io.TextIOWrapper) -> tuple[str, tuple[str, ...]]:
    """The delimiter and the column names, from the first line: the delimiter is the one
    that makes a column named email appear (the most columns if several do)."""
    line = text.readline(MAX_HEADER_CHARS)
    if not line.strip():
        raise UnreadableFile("The file is empty: its first line must name the columns, one of them email.")
    best: tuple[str, tuple[str, ...]] | None = None
    for delimiter in DELIMITERS:
        names = tuple(column_name(name) for name in next(csv.reader([line], delimiter=delimiter), []))
        if "email" in names and (best is None or len(names) > len(best[1])):
            best = (delimiter, names)
    if best is None:
        raise UnreadableFile(
            "The first line must name the columns, separated by commas or semicolons, and one of "
            "them must be email."
        )
    names = best[1]
    problems = []
    if "" in names:
        problems.append(f"column {names.index('') + 1} has no name")
    unknown = [name for name in names if name and name not in COLUMNS and name not in EXPORT_ONLY_COLUMNS]
    if unknown:
        problems.append(f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        problems.append(f"repeated column{'s' if len(repeated) > 1 else ''} {', '.join(repeated)}")
    if problems:
        raise UnreadableFile(
            f"The header row has {'; '.join(problems)}. Columns an import understands: {', '.join(COLUMNS)}."
        )
    return best


def is_blank(cells: list[str]) -> bool:
    return not any(cell.strip() for cell in cells)


def inspect_file(path: str, *, consent_wording: str | None) -> FileLayout:
    """The first, cheap pass over the whole file: that it decodes, parses and names known
    columns, and how many rows it holds. Whatever would make it unimportable is found here,
    before any row is written."""
    try:
        with open_text(path) as text:
            delimiter, columns = read_header(text)
            # Consent is recorded with the wording people agreed to: without one, refuse now.
            needs_wording = "marketing_email_consent" in columns and not consent_wording
            consent_at = columns.index("marketing_email_consent") if needs_wording else None
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
                if consent_at is not None and cell_at(cells, consent_at):
                    raise UnreadableFile(
                        f"Row {number} records marketing email consent: give the consent wording "
                        "version people agreed to, and import again."
                    )
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
        read_header(text)
        seen = 0
        for number, cells in enumerate(csv.reader(text, delimiter=layout.delimiter), start=2):
            if is_blank(cells):
                continue
            seen += 1
            if seen > skip:
                yield number, cells


# --- One row ----------------------------------------------------------------------------


def cell_text(cell: str) -> str:
    """The value of a cell, without the apostrophe the export puts before a cell a
    spreadsheet would run as a formula ("'+31…")."""
    text = cell.strip()
    if text[:1] == "'" and text[1:2] in csv_stream.FORMULA_TRIGGERS:
        text = text[1:].strip()
    return text


def cell_at(cells: list[str], index: int) -> str:
    return cell_text(cells[index]) if index < len(cells) else ""


def parse_row(columns: tuple[str, ...], cells: list[str]) -> RowInput:
    """The row's non-empty values, checked and normalised; every problem at once."""
    if len(cells) > len(columns) and not is_blank(cells[len(columns) :]):
        raise InvalidInput(
            "The row has more cells than the header has columns.",
            errors={ROW: [f"The row has {len(cells)} cells; the header names {len(columns)} columns."]},
        )
    values = {name: cell_text(cell) for name, cell in zip(columns, cells, strict=False)}
    problems: dict[str, list[str]] = {}
    data: dict = {}

    def check(name: str, parse):
        try:
            return parse(values[name])
        except InvalidInput as error:
            problems.update(error.errors or {name: [error.detail]})
            return None

    email = check("email", validation.email) if values.get("email") else None
    if not values.get("email"):
        problems["email"] = ["An email address is required."]
    for name in TEXT_COLUMNS:
        if values.get(name):
            limit = Customer.__table__.c[name].type.length
            if len(values[name]) > limit:
                problems[name] = [f"At most {limit} characters."]
            else:
                data[name] = values[name]
    for name, validate in CHECKED_COLUMNS.items():
        if values.get(name):
            data[name] = check(name, validate)
    if values.get("status"):
        status = values["status"].lower()
        if status in STATUSES:
            data["status"] = status
        else:
            problems["status"] = [f"Choose one of: {', '.join(STATUSES)}."]
    if values.get("date_of_birth"):
        data["date_of_birth"] = check("date_of_birth", birth_date)
    tags = check("tags", split_tags) if values.get("tags") else None
    consent = None
    if values.get("marketing_email_consent"):
        consent = CONSENT_VALUES.get(values["marketing_email_consent"].lower())
        if consent is None:
            problems["marketing_email_consent"] = ["Use yes, no, or leave the cell empty."]
    if problems:
        raise InvalidInput("The row is not valid.", errors=problems)
    phones = [p for p in PHONE_SEPARATOR.split(values["phones"]) if p] if values.get("phones") else None
    return RowInput(email=email, data=data, phones=phones, tags=tags, consent=consent)


def split_tags(raw: str) -> list[str]:
    return validation.tags(TAG_SEPARATOR.split(raw))


def birth_date(raw: str) -> date:
    try:
        if not ISO_DATE.fullmatch(raw):
            raise ValueError(raw)
        value = date.fromisoformat(raw)
    except ValueError as exc:
        raise validation.invalid("date_of_birth", f"“{raw}” is not a date like 1990-04-23.") from exc
    return validation.birth_date(value)
