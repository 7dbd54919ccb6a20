"""The customer list as CSV: written row by row, so an export of any size runs in constant
memory, with every cell a spreadsheet would run as a formula neutralised. Taking customer
data out of the system is audited with the filter that chose it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC

from app.blueprints.customers.queries import EXPORT_SEPARATOR, CustomerFilter
from app.core import audit, csv_stream
from app.core.models import AuditEntry

COLUMNS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "company",
    "phones",
    "status",
    "country",
    "region",
    "city",
    "language",
    "acquisition_source",
    "tags",
    "order_count",
    "total_spent",
    "last_order_at",
    "created_at",
)


def sorted_list(folded: str | None) -> str:
    """Phones or tags folded by the database (in no promised order), sorted."""
    return EXPORT_SEPARATOR.join(sorted(folded.split(EXPORT_SEPARATOR))) if folded else ""


def row_cells(row) -> list[str]:
    cells = [
        row.id,
        row.email,
        row.first_name,
        row.last_name,
        row.company,
        sorted_list(row.phones),
        row.status,
        row.country,
        row.region,
        row.city,
        row.language,
        row.acquisition_source,
        sorted_list(row.tags),
        row.order_count,
        row.total_spent,
        row.last_order_at.astimezone(UTC).isoformat() if row.last_order_at else "",
        row.created_at.astimezone(UTC).isoformat() if row.created_at else "",
    ]
    return cells


def csv_lines(rows: Iterable) -> Iterator[str]:
    """The header, then one CSV line per customer."""
    return csv_stream.csv_lines(COLUMNS, (row_cells(row) for row in rows))


def record_export(filters: CustomerFilter, *, actor, format: str = "csv") -> AuditEntry:
    """Whoever takes customer data out of the system leaves a trace, with what they took."""
    described = ", ".join(f"{key}={value}" for key, value in filters.as_dict().items()) or "all customers"
    return audit.record(
        "customers.exported",
        actor=actor,
        summary=f"Exported customers as {format.upper()} ({described})"[:500],
        filter=filters.as_dict(),
        format=format,
    )
