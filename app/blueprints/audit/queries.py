"""Read side of the audit log: one filtered select shared by the page, the CSV and the API."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, func, select

from app.core.models import AuditEntry
from app.extensions import db


@dataclass(frozen=True)
class AuditFilter:
    """What to show. `action` ending in "." is a prefix ("auth." = every auth event);
    dates are whole UTC days, `date_to` included."""

    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def as_dict(self) -> dict:
        """The filters in use, JSON-safe (for the audit entry of an export)."""
        return {
            key: value.isoformat() if isinstance(value, date) else value
            for key, value in asdict(self).items()
            if value not in (None, "")
        }

    @property
    def active(self) -> bool:
        return bool(self.as_dict())


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def filtered_entries(filters: AuditFilter) -> Select:
    """Audit entries matching `filters`, newest first."""
    query = select(AuditEntry)
    if filters.actor:
        query = query.where(
            func.lower(AuditEntry.actor_label).contains(filters.actor.lower(), autoescape=True)
        )
    if filters.action:
        if filters.action.endswith("."):
            query = query.where(AuditEntry.action.startswith(filters.action, autoescape=True))
        else:
            query = query.where(AuditEntry.action == filters.action)
    if filters.object_type:
        query = query.where(AuditEntry.target_type == filters.object_type)
    if filters.object_id:
        query = query.where(AuditEntry.target_id == filters.object_id)
    if filters.date_from:
        query = query.where(AuditEntry.occurred_at >= start_of_day(filters.date_from))
    if filters.date_to:
        query = query.where(AuditEntry.occurred_at < start_of_day(filters.date_to + timedelta(days=1)))
    return query.order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())


def export_rows(filters: AuditFilter, batch_size: int = 1000):
    """Rows (not entities) of the filtered log, fetched in batches through a server-side
    cursor where the database has one, so an export of any size runs in constant memory."""
    columns = (
        AuditEntry.occurred_at,
        AuditEntry.actor_label,
        AuditEntry.action,
        AuditEntry.target_type,
        AuditEntry.target_id,
        AuditEntry.summary,
        AuditEntry.ip_address,
        AuditEntry.request_id,
        AuditEntry.data,
    )
    query = filtered_entries(filters).with_only_columns(*columns)
    return db.session.execute(query.execution_options(yield_per=batch_size))


def known_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))


def known_object_types() -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEntry.target_type)
            .where(AuditEntry.target_type.is_not(None))
            .distinct()
            .order_by(AuditEntry.target_type)
        )
    )


def action_groups(actions: list[str]) -> list[tuple[str, list[str]]]:
    """[("auth", ["auth.login", ...]), ...]: the filter's select offers each group as a prefix."""
    groups: dict[str, list[str]] = {}
    for action in actions:
        groups.setdefault(action.split(".", 1)[0], []).append(action)
    return sorted(groups.items())


def get_entry(entry_id: int) -> AuditEntry | None:
    return db.session.get(AuditEntry, entry_id)
