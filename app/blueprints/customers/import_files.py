"""The customer import's CSV file: reading, sniffing and checking it, and parsing its rows.

The format is the customer export's: a header row naming the columns (email required,
the others in COLUMNS, in any order; the export's read-only columns are accepted and
ignored, any other name refuses the file), comma, semicolon or tab separated, UTF-8 with
or without a byte order mark (reading any import file is app.core.csv_import's). Empty
cells change nothing.

A file that cannot be read (not UTF-8, not CSV, no email column, unknown columns, consent
values without a wording version) raises UnreadableFile from inspect_file(), before any
row is written. A row that does not check out raises InvalidInput from parse_row(), with
its messages per column (ROW for the row as a whole). Nothing here touches the database;
writing the rows is app.blueprints.customers.imports' work.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from app.blueprints.customers import validation
from app.blueprints.customers.models import STATUSES, Customer
from app.core import csv_import
from app.core.csv_import import ROW as ROW
from app.core.csv_import import FileLayout as FileLayout
from app.core.csv_import import UnreadableFile as UnreadableFile
from app.core.csv_import import cell_at as cell_at
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
HEADER = csv_import.Header(key="email", columns=COLUMNS, ignored=EXPORT_ONLY_COLUMNS)
PHONE_SEPARATOR = re.compile(r"\s*[|;]\s*")
TAG_SEPARATOR = re.compile(r"\s*[|,;]\s*")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
CONSENT_VALUES = {
    **dict.fromkeys(("yes", "y", "true", "1"), True),
    **dict.fromkeys(("no", "n", "false", "0"), False),
}


@dataclass(frozen=True)
class RowInput:
    email: str
    data: dict  # non-empty profile values, checked and normalised
    phones: list[str] | None
    tags: list[str] | None
    consent: bool | None


# --- Reading the file (the generic reading is app.core.csv_import's) -----------------------


def inspect_file(path: str, *, consent_wording: str | None) -> FileLayout:
    """The first, cheap pass over the whole file (csv_import.inspect_file). Consent is
    recorded with the wording people agreed to: consent values without one refuse it now."""

    def consent_needs_wording(number: int, cells: list[str], columns: tuple[str, ...]) -> None:
        if "marketing_email_consent" in columns and cell_at(cells, columns.index("marketing_email_consent")):
            raise UnreadableFile(
                f"Row {number} records marketing email consent: give the consent wording "
                "version people agreed to, and import again."
            )

    return csv_import.inspect_file(path, HEADER, check_row=None if consent_wording else consent_needs_wording)


def data_rows(path: str, layout: FileLayout, *, skip: int = 0) -> Iterator[tuple[int, list[str]]]:
    """(row number as a spreadsheet shows it, cells) of each non-blank row after the first `skip`."""
    return csv_import.data_rows(path, layout, skip=skip)


# --- One row ----------------------------------------------------------------------------


def parse_row(columns: tuple[str, ...], cells: list[str]) -> RowInput:
    """The row's non-empty values, checked and normalised; every problem at once."""
    values = csv_import.row_values(columns, cells)
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
