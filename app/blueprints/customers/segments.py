"""Saved segments: rules as validated data, compiled to one SQL query.

The use cases of segments (never committing, every change audited) and the read side
other domains build on: campaigns and promotions target a segment through
`members_query(segment)` (a `select(Customer)`, one SQL query, merged customers left out)
and `member_condition(segment)` (the same as a WHERE clause).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.exc import IntegrityError

from app.blueprints.customers import segment_models  # noqa: F401  (the tables register)
from app.blueprints.customers.models import Customer
from app.blueprints.customers.segment_models import SEGMENT_KINDS, Segment, SegmentMember
from app.blueprints.customers.segment_rules import compile_rules, validate_rules
from app.core import audit, csv_stream, events
from app.core.errors import Conflict, InvalidInput, NotFound
from app.extensions import db

MAX_MEMBERS_PER_CHANGE = 1000
AUDITED = ("name", "description", "rules")


# --- Reading ----------------------------------------------------------------------------


def get_segment(segment_id: int) -> Segment:
    segment = db.session.get(Segment, segment_id)
    if segment is None:
        raise NotFound("No such segment.")
    return segment


def segments_query():
    return select(Segment).order_by(func.lower(Segment.name), Segment.id)


def member_condition(segment: Segment) -> ColumnElement[bool]:
    """Who belongs to `segment`, as a WHERE clause over Customer (merged records excluded)."""
    if segment.is_static:
        picked = select(SegmentMember.customer_id).where(SegmentMember.segment_id == segment.id)
        condition = Customer.id.in_(picked)
    else:
        condition = compile_rules(segment.rules)
    return condition & Customer.merged_into_id.is_(None)


def members_query(segment: Segment):
    """The segment's customers as one `select(Customer)`, by name."""
    return (
        select(Customer)
        .where(member_condition(segment))
        .order_by(Customer.last_name, Customer.first_name, Customer.id)
    )


def count_members(rules, *, path: str = "") -> int:
    """How many live customers match `rules` (checked first, errors named from `path`):
    one SELECT COUNT, nothing saved."""
    condition = compile_rules(rules, path=path) & Customer.merged_into_id.is_(None)
    return db.session.scalar(select(func.count(Customer.id)).where(condition))


def member_count(segment: Segment) -> int:
    return db.session.scalar(select(func.count(Customer.id)).where(member_condition(segment)))


def member_counts(segments: Iterable[Segment]) -> dict[int, int | None]:
    """The member count of each segment, all in one statement (a scalar subquery each).
    A segment whose rules no longer check (a field was withdrawn) counts None."""
    counts: dict[int, int | None] = {}
    columns = []
    for segment in segments:
        try:
            condition = member_condition(segment)
        except InvalidInput:
            counts[segment.id] = None
            continue
        subquery = select(func.count(Customer.id)).where(condition).scalar_subquery()
        columns.append(subquery.label(f"segment_{segment.id}"))
    if columns:
        row = db.session.execute(select(*columns)).one()
        counts.update({int(key.removeprefix("segment_")): value for key, value in row._mapping.items()})
    return counts


# --- Changing ---------------------------------------------------------------------------


def _clean_name(name, segment: Segment | None = None) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise InvalidInput("A segment needs a name.", errors={"name": ["Required."]})
    if len(name) > 100:
        raise InvalidInput("The name is too long.", errors={"name": ["At most 100 characters."]})
    clash = db.session.scalar(select(Segment).where(func.lower(Segment.name) == name.lower()))
    if clash is not None and clash is not segment:
        raise Conflict(
            "Another segment has this name.",
            code="segment_name_taken",
            errors={"name": ["Another segment has this name."]},
        )
    return name


def _clean_description(description) -> str:
    description = (description or "").strip()
    if len(description) > 2000:
        problem = "At most 2000 characters."
        raise InvalidInput("The description is too long.", errors={"description": [problem]})
    return description


def collect(errors: dict, check, *args, **kwargs):
    """Run one check; its field errors join `errors` so all problems are told at once."""
    try:
        return check(*args, **kwargs)
    except InvalidInput as error:
        errors.update(error.errors or {"_request": [error.detail]})
        return None


def create_segment(*, name, actor, kind: str = "dynamic", rules=None, description: str = "") -> Segment:
    """A new segment. Names are unique (any case); a dynamic segment needs valid rules, a
    static one has none (its members are picked by hand)."""
    errors: dict[str, list[str]] = {}
    if kind not in SEGMENT_KINDS:
        errors["kind"] = [f"Choose one of: {', '.join(SEGMENT_KINDS)}."]
    elif kind == "dynamic" and rules is None:
        errors["rules"] = ["A dynamic segment needs rules."]
    elif kind == "static" and rules is not None:
        errors["rules"] = ["A static segment has no rules; add its members instead."]
    elif kind == "dynamic":
        rules = collect(errors, validate_rules, rules, path="rules")
    description = collect(errors, _clean_description, description)
    name = collect(errors, _clean_name, name)
    if errors:
        raise InvalidInput("Some fields are not valid.", errors=errors)
    segment = Segment(
        name=name,
        description=description,
        kind=kind,
        rules=rules,
        created_by_id=actor.id if getattr(actor, "is_staff", False) else None,
    )
    db.session.add(segment)
    db.session.flush()
    audit.record(
        "segment.created",
        actor=actor,
        target=segment,
        summary=f"Created {kind} segment {segment.name}",
        kind=kind,
        rules=segment.rules,
    )
    events.emit("segment.created", segment_id=segment.id)
    return segment


def update_segment(segment: Segment, *, actor, name=None, description=None, rules=None) -> dict:
    """Change what is given (all checked before anything changes); the kind of a segment
    never changes. Returns the changes."""
    errors: dict[str, list[str]] = {}
    changes = {}
    if name is not None:
        changes["name"] = collect(errors, _clean_name, name, segment)
    if description is not None:
        changes["description"] = collect(errors, _clean_description, description)
    if rules is not None and segment.is_static:
        errors["rules"] = ["A static segment has no rules."]
    elif rules is not None:
        changes["rules"] = collect(errors, validate_rules, rules, path="rules")
    if errors:
        raise InvalidInput("Some fields are not valid.", errors=errors)
    before = audit.snapshot(segment, AUDITED)
    for field, value in changes.items():
        setattr(segment, field, value)
    db.session.flush()
    entry = audit.record_change(
        "segment.updated",
        actor=actor,
        target=segment,
        before=before,
        after=audit.snapshot(segment, AUDITED),
        summary=f"Updated segment {segment.name}",
    )
    if entry is None:
        return {}
    events.emit("segment.updated", segment_id=segment.id)
    return entry.data["changes"]


@contextmanager
def name_race_is_a_conflict():
    """Two requests may both pass the name check; the unique index then refuses the second,
    which is the same 409 as the check's. Wrap the entrypoint's transaction with it."""
    try:
        yield
    except IntegrityError as error:
        text = str(error.orig).lower()
        if "segments.name" not in text and "uq_segments_name" not in text:
            raise
        raise Conflict(
            "Another segment has this name.",
            code="segment_name_taken",
            errors={"name": ["Another segment has this name."]},
        ) from error


def delete_segment(segment: Segment, *, actor) -> None:
    """Delete a segment (and, for a static one, its member list); customers stay."""
    audit.record(
        "segment.deleted",
        actor=actor,
        target=segment,
        summary=f"Deleted {segment.kind} segment {segment.name}",
        rules=segment.rules,
    )
    segment_id = segment.id
    db.session.delete(segment)
    db.session.flush()
    events.emit("segment.deleted", segment_id=segment_id)


def _require_static(segment: Segment) -> None:
    if not segment.is_static:
        raise Conflict(
            "Members of a dynamic segment follow from its rules; they cannot be picked by hand.",
            code="segment_not_static",
        )


def add_members(segment: Segment, customer_ids: Iterable[int], *, actor) -> int:
    """Add customers to a static segment; ones already in it are skipped. Returns how many
    were added. Unknown or merged customers are refused, all named at once."""
    _require_static(segment)
    wanted = list(dict.fromkeys(customer_ids))
    if len(wanted) > MAX_MEMBERS_PER_CHANGE:
        raise InvalidInput(
            "Too many customers at once.",
            errors={"customer_ids": [f"At most {MAX_MEMBERS_PER_CHANGE} at a time."]},
        )
    live = set(
        db.session.scalars(
            select(Customer.id).where(Customer.id.in_(wanted), Customer.merged_into_id.is_(None))
        )
    )
    missing = [customer_id for customer_id in wanted if customer_id not in live]
    if missing:
        raise InvalidInput(
            "Some customers do not exist.",
            errors={"customer_ids": [f"No such customers: {', '.join(map(str, missing))}."]},
        )
    present = set(
        db.session.scalars(
            select(SegmentMember.customer_id).where(
                SegmentMember.segment_id == segment.id, SegmentMember.customer_id.in_(wanted)
            )
        )
    )
    new = [customer_id for customer_id in wanted if customer_id not in present]
    db.session.add_all(SegmentMember(segment_id=segment.id, customer_id=cid) for cid in new)
    db.session.flush()
    if new:
        audit.record(
            "segment.members_added",
            actor=actor,
            target=segment,
            summary=f"Added {len(new)} customer(s) to {segment.name}",
            customer_ids=new,
        )
        events.emit("segment.updated", segment_id=segment.id)
    return len(new)


def add_members_by_email(segment: Segment, emails: Iterable[str], *, actor) -> tuple[int, list[str]]:
    """Add the customers with these emails; returns (added, emails of no live customer)."""
    _require_static(segment)
    wanted = list(dict.fromkeys(e.strip().lower() for e in emails if e and e.strip()))
    if not wanted:
        raise InvalidInput("Give at least one email address.", errors={"emails": ["Required."]})
    found = dict(
        db.session.execute(
            select(Customer.email, Customer.id).where(
                Customer.email.in_(wanted), Customer.merged_into_id.is_(None)
            )
        ).all()
    )
    added = add_members(segment, list(found.values()), actor=actor) if found else 0
    return added, [email for email in wanted if email not in found]


def remove_members(segment: Segment, customer_ids: Iterable[int], *, actor) -> int:
    """Take customers out of a static segment; returns how many were in it."""
    _require_static(segment)
    ids = list(dict.fromkeys(customer_ids))
    picked = SegmentMember.segment_id == segment.id
    removed = db.session.execute(
        delete(SegmentMember).where(picked, SegmentMember.customer_id.in_(ids))
    ).rowcount
    if removed:
        audit.record(
            "segment.members_removed",
            actor=actor,
            target=segment,
            summary=f"Removed {removed} customer(s) from {segment.name}",
            customer_ids=ids,
        )
        events.emit("segment.updated", segment_id=segment.id)
    return removed


# --- CSV export -------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "id",  # the customer export's name, so a segment export can be imported again
    "email",
    "first_name",
    "last_name",
    "company",
    "country",
    "city",
    "language",
    "status",
    "order_count",
    "total_spent",
    "last_order_at",
)


def record_export(segment: Segment, *, actor) -> None:
    audit.record("segment.exported", actor=actor, target=segment, summary=f"Exported segment {segment.name}")


def export_rows(segment: Segment, batch_size: int = 1000):
    """Rows (not entities) of the members, fetched in batches, for an export of any size."""
    query = members_query(segment).with_only_columns(
        Customer.id,
        Customer.email,
        Customer.first_name,
        Customer.last_name,
        Customer.company,
        Customer.country,
        Customer.city,
        Customer.language,
        Customer.status,
        Customer.order_count,
        Customer.total_spent,
        Customer.last_order_at,
    )
    return db.session.execute(query.execution_options(yield_per=batch_size))


def csv_lines(rows: Iterable) -> Iterator[str]:
    """The header, then one CSV line per member."""
    return csv_stream.csv_lines(EXPORT_COLUMNS, rows)


# The portal pages and the API register their routes on the package's blueprints.
from app.blueprints.customers import segment_api as _segment_api  # noqa: E402,F401
from app.blueprints.customers import segment_views as _segment_views  # noqa: E402,F401
