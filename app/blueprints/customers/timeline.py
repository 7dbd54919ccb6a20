"""The customer timeline: everything that happened with a customer, newest first, a page at
a time with a keyset cursor.

Customers own three sources (interactions, consent events, profile changes). Domains to the
right add theirs with `register_timeline_source()` at import (orders: the customer's
orders), so the timeline shows them without customers importing those domains. Every
source is one branch of a single UNION (each cut to a page on its own (customer, time)
index), then each source's records are loaded by id: a page costs one statement plus one
per source on it, whatever the history's length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, literal_column, or_, select, union_all
from sqlalchemy.orm import joinedload

from app.blueprints.auth.models import User
from app.blueprints.customers.models import INTERACTION_KINDS, ConsentEvent, Customer, Interaction
from app.core.models import AuditEntry
from app.extensions import db

TIMELINE_KINDS = (*INTERACTION_KINDS, "consent", "profile")
# Sources of timeline entries; the number also breaks ties between entries of one instant.
INTERACTION, CONSENT, PROFILE = 3, 2, 1
# Consent changes are audited too; the ledger already shows them.
PROFILE_ACTIONS_SHOWN_ELSEWHERE = ("customer.consent_granted", "customer.consent_withdrawn")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TimelineSource:
    """Entries another domain adds to the timeline: rows of `model` whose `customer_column`
    is the customer, at `time_column`, all of one `kind`. A (customer, time) index on the
    model keeps its branch cheap."""

    number: int  # tags its entries and cursors, breaks ties (built-in sources are 1..3)
    kind: str  # the value of the "Show" filter, e.g. "order"
    label: str  # the filter's and the entry badge's text, e.g. "Order"
    model: type
    customer_column: Any
    time_column: Any
    template: str  # renders one entry; gets `entry` and `item`
    load: Callable[[list[int]], dict[int, Any]]  # records by id, in one statement
    permission: str | None = None  # who may see these entries (None: whoever sees the timeline)
    url: Callable[[Any], str] | None = None  # the record's own page
    list_url: Callable[[int], str] | None = None  # all of them for one customer ("All orders")
    list_label: str = ""


SOURCES: dict[int, TimelineSource] = {}


def register_timeline_source(source: TimelineSource) -> TimelineSource:
    if source.number in (INTERACTION, CONSENT, PROFILE):
        raise ValueError(f"timeline source number {source.number} is a built-in one")
    known = SOURCES.get(source.number)
    if known is not None and known.kind != source.kind:
        raise ValueError(f"timeline source number {source.number} is taken by {known.kind}")
    if source.kind in TIMELINE_KINDS or any(
        other.kind == source.kind and other.number != source.number for other in SOURCES.values()
    ):
        raise ValueError(f"timeline kind {source.kind} is registered twice")
    SOURCES[source.number] = source
    return source


def visible_sources(can: Callable[[str], bool]) -> list[TimelineSource]:
    """The registered sources a viewer may see, `can(permission)` telling."""
    return [s for s in SOURCES.values() if s.permission is None or can(s.permission)]


def timeline_kinds(sources: Iterable[TimelineSource] | None = None) -> tuple[str, ...]:
    extra = SOURCES.values() if sources is None else sources
    return (*TIMELINE_KINDS, *(source.kind for source in extra))


@dataclass(frozen=True)
class TimelineEntry:
    kind: str  # an interaction kind, "consent", "profile" or a registered source's kind
    source: int  # INTERACTION, CONSENT, PROFILE or a registered source's number
    occurred_at: datetime
    item: Any  # Interaction | ConsentEvent | AuditEntry | a registered source's record
    recorded_by: str | None = None  # who recorded a consent event

    @property
    def cursor(self) -> str:
        micros = (self.occurred_at - EPOCH) // timedelta(microseconds=1)
        return f"{micros}.{self.source}.{self.item.id}"

    @property
    def registered(self) -> TimelineSource | None:
        return SOURCES.get(self.source)

    @property
    def url(self) -> str | None:
        source = self.registered
        return source.url(self.item) if source is not None and source.url is not None else None


@dataclass(frozen=True)
class TimelinePage:
    entries: list[TimelineEntry]
    next_cursor: str | None  # where the next (older) page starts; None on the last page
    sources: list[TimelineSource] = field(default_factory=list)  # the registered ones shown


def parse_cursor(cursor: str | None) -> tuple[datetime, int, int] | None:
    """(occurred_at, source, id) of the last entry already shown; None to start at the newest."""
    parts = (cursor or "").split(".")
    if len(parts) != 3 or not all(part.lstrip("-").isdigit() for part in parts):
        return None
    micros, source, item_id = (int(part) for part in parts)
    try:
        return EPOCH + timedelta(microseconds=micros), source, item_id
    except OverflowError:
        return None


def _older_than(cursor, source: int, occurred_at, item_id):
    """Entries of `source` after `cursor` in the timeline order (time, source, id, all
    descending), written per source so each branch can use its (customer, time) index."""
    at, cursor_source, cursor_id = cursor
    if source < cursor_source:
        return occurred_at <= at
    if source > cursor_source:
        return occurred_at < at
    return or_(occurred_at < at, (occurred_at == at) & (item_id < cursor_id))


def _branch(source: int, id_column, time_column, kind_column, conditions, cursor, limit: int):
    # Constants of this module, inlined: PostgreSQL cannot type bound parameters in a UNION.
    query = select(
        literal_column(str(source), Integer).label("source"),
        id_column.label("id"),
        time_column.label("occurred_at"),
        kind_column.label("kind"),
    ).where(*conditions)
    if cursor is not None:
        query = query.where(_older_than(cursor, source, time_column, id_column))
    # Each branch is cut to one page before the merge, so a customer with thousands of
    # events costs the same as one with a few.
    return select(query.order_by(time_column.desc(), id_column.desc()).limit(limit).subquery())


def _constant(text: str):
    return literal_column(f"'{text}'", String)


def timeline(
    customer_id: int,
    *,
    kind: str = "",
    before: str | None = None,
    limit: int = 25,
    sources: Iterable[TimelineSource] | None = None,
) -> TimelinePage:
    """Interactions, consent events, profile changes and the entries of the registered
    `sources` (default: all; pass `visible_sources(...)` for a viewer) of a customer, newest
    first, one page after the `before` cursor. One merged select of (source, id, time)
    rows, then the records of each source on the page by id."""
    cursor = parse_cursor(before)
    extra = list(SOURCES.values() if sources is None else sources)
    kind = kind if kind in timeline_kinds(extra) else ""
    branches = []
    if kind in ("", *INTERACTION_KINDS):
        conditions = [Interaction.customer_id == customer_id]
        if kind:
            conditions.append(Interaction.kind == kind)
        branches.append(
            _branch(
                INTERACTION,
                Interaction.id,
                Interaction.occurred_at,
                Interaction.kind,
                conditions,
                cursor,
                limit + 1,
            )
        )
    if kind in ("", "consent"):
        conditions = [ConsentEvent.customer_id == customer_id]
        branches.append(
            _branch(
                CONSENT,
                ConsentEvent.id,
                ConsentEvent.occurred_at,
                _constant("consent"),
                conditions,
                cursor,
                limit + 1,
            )
        )
    if kind in ("", "profile"):
        conditions = [
            AuditEntry.target_type == Customer.__name__,
            AuditEntry.target_id == str(customer_id),
            AuditEntry.action.startswith("customer."),
            AuditEntry.action.not_in(PROFILE_ACTIONS_SHOWN_ELSEWHERE),
        ]
        branches.append(
            _branch(
                PROFILE,
                AuditEntry.id,
                AuditEntry.occurred_at,
                _constant("profile"),
                conditions,
                cursor,
                limit + 1,
            )
        )
    for source in extra:
        if kind in ("", source.kind):
            conditions = [source.customer_column == customer_id]
            branches.append(
                _branch(
                    source.number,
                    source.model.id,
                    source.time_column,
                    _constant(source.kind),
                    conditions,
                    cursor,
                    limit + 1,
                )
            )
    merged = (branches[0] if len(branches) == 1 else union_all(*branches)).subquery()
    rows = db.session.execute(
        select(merged)
        .order_by(merged.c.occurred_at.desc(), merged.c.source.desc(), merged.c.id.desc())
        .limit(limit + 1)
    ).all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    records = _load_records(rows, extra)
    entries = [
        TimelineEntry(row.kind, row.source, row.occurred_at, *records[(row.source, row.id)])
        for row in rows
        if (row.source, row.id) in records
    ]
    return TimelinePage(entries, entries[-1].cursor if has_more and entries else None, extra)


def _load_records(rows, sources: list[TimelineSource]) -> dict[tuple[int, int], tuple]:
    ids: dict[int, list[int]] = {}
    for row in rows:
        ids.setdefault(row.source, []).append(row.id)
    records: dict[tuple[int, int], tuple] = {}
    if ids.get(INTERACTION):
        # The staff member is joined in (only the name is shown: their roles are not loaded).
        query = (
            select(Interaction)
            .where(Interaction.id.in_(ids[INTERACTION]))
            .options(joinedload(Interaction.staff).lazyload(User.roles))
        )
        for item in db.session.scalars(query):
            records[(INTERACTION, item.id)] = (item,)
    if ids.get(CONSENT):
        query = (
            select(ConsentEvent, User.name)
            .outerjoin(User, User.id == ConsentEvent.recorded_by_id)
            .where(ConsentEvent.id.in_(ids[CONSENT]))
        )
        for item, name in db.session.execute(query):
            records[(CONSENT, item.id)] = (item, name)
    if ids.get(PROFILE):
        for item in db.session.scalars(select(AuditEntry).where(AuditEntry.id.in_(ids[PROFILE]))):
            records[(PROFILE, item.id)] = (item,)
    for source in sources:
        if ids.get(source.number):
            for item_id, item in source.load(ids[source.number]).items():
                records[(source.number, item_id)] = (item,)
    return records
