"""Delivery issues: a task for support whenever a carrier reports an exception (address
unknown, damaged, returned to sender).

One open issue per shipment: the tracking service opens it on the first exception and adds
each further exception to its summary, under the order's row lock (so two webhooks at once
cannot open two). Support resolves it with a note saying what was done (re-sent, refunded,
address fixed); resolving is audited and on the order's timeline. A later exception on the
same shipment opens a new issue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, case, func, select

from app.blueprints.auth.models import User
from app.blueprints.fulfilment.models import DeliveryIssue, Shipment, TrackingEvent
from app.blueprints.orders import lifecycle
from app.blueprints.orders.order_models import Order
from app.core import audit
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.timeutil import utcnow
from app.extensions import db

MAX_SUMMARY = 500
MAX_RESOLUTION = lifecycle.MAX_NOTE


def open_issue_of(shipment: Shipment) -> DeliveryIssue | None:
    return db.session.scalar(
        select(DeliveryIssue)
        .where(DeliveryIssue.shipment_id == shipment.id, DeliveryIssue.status == "open")
        .order_by(DeliveryIssue.id)
        .limit(1)
    )


def exception_summary(event: TrackingEvent) -> str:
    said = event.description or "The carrier reported a problem"
    return f"{said} ({event.location})" if event.location else said


def added_to(summary: str, addition: str) -> str:
    """`summary` with a further exception after it, within the column's length (the oldest
    words are kept: they say how it started; the timeline has every event)."""
    combined = f"{summary} · then: {addition}" if summary else addition
    return combined if len(combined) <= MAX_SUMMARY else combined[: MAX_SUMMARY - 1] + "…"


def open_or_add_to_issue(shipment: Shipment, event: TrackingEvent, *, actor=None, by: str) -> DeliveryIssue:
    """The shipment's open issue with this exception added, or a new one (the caller holds
    the order's row lock). A new issue is on the order's timeline."""
    issue = open_issue_of(shipment)
    if issue is not None:
        issue.summary = added_to(issue.summary, exception_summary(event))
        return issue
    issue = DeliveryIssue(
        order_id=shipment.order_id,
        shipment_id=shipment.id,
        tracking_event_id=event.id,
        status="open",
        summary=added_to("", exception_summary(event)),
    )
    db.session.add(issue)
    db.session.flush()
    order = db.session.get(Order, shipment.order_id)
    entry = lifecycle.record_event(
        order,
        "delivery_issue",
        actor=actor,
        note=f"Delivery issue opened for shipment {shipment.number}: {issue.summary}",
        issue_id=issue.id,
        shipment_number=shipment.number,
        action="opened",
    )
    if actor is None:
        entry.actor_label = by[:255]
    return issue


def issue_by_id(issue_id: int, *, for_update: bool = False) -> DeliveryIssue:
    """The issue; with `for_update`, its order's row is locked first and the issue re-read."""
    issue = db.session.get(DeliveryIssue, issue_id)
    if issue is None:
        raise NotFound("No such delivery issue.", code="delivery_issue_not_found")
    if for_update:
        db.session.get(Order, issue.order_id, with_for_update=True, populate_existing=True)
        db.session.refresh(issue)
    return issue


def resolve_issue(issue: DeliveryIssue, *, actor, resolution: str) -> DeliveryIssue:
    """Close the task with what was done; a resolved issue stays resolved. The caller locks
    (`issue_by_id(..., for_update=True)`)."""
    resolution = (resolution or "").strip()
    if not resolution:
        raise InvalidInput("Say what was done.", errors={"resolution": ["Required."]})
    if len(resolution) > MAX_RESOLUTION:
        message = f"At most {MAX_RESOLUTION} characters."
        raise InvalidInput(message, errors={"resolution": [message]})
    if issue.status != "open":
        raise Conflict("This delivery issue is resolved already.", code="delivery_issue_resolved")
    issue.status, issue.resolution = "resolved", resolution
    issue.resolved_by_id, issue.resolved_at = actor.id, utcnow()
    shipment = db.session.get(Shipment, issue.shipment_id)
    order = db.session.get(Order, issue.order_id)
    lifecycle.record_event(
        order,
        "delivery_issue",
        actor=actor,
        note=f"Delivery issue of shipment {shipment.number} resolved: {resolution}",
        issue_id=issue.id,
        shipment_number=shipment.number,
        action="resolved",
    )
    audit.record(
        "delivery_issue.resolved",
        actor=actor,
        target=issue,
        summary=f"Resolved the delivery issue of shipment {shipment.number} (order {order.number})",
        resolution=resolution,
        order_number=order.number,
    )
    db.session.flush()
    return issue


# ---- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueFilters:
    status: str | None = None  # open, resolved; None: both, the open ones first
    created_from: date | None = None  # UTC days, inclusive
    created_to: date | None = None
    order_number: str | None = None


@dataclass(frozen=True)
class IssueView:
    """An issue with what a list shows beside it."""

    issue: DeliveryIssue
    shipment: Shipment
    order: Order
    resolved_by: str | None  # the staff member's email


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def filtered_issues(filters: IssueFilters) -> Select:
    """Issues matching `filters`, open ones first, then the newest (paginate it, then
    `issue_views` for the page). Runs on the (status, created_at) index."""
    query = select(DeliveryIssue)
    if filters.status:
        query = query.where(DeliveryIssue.status == filters.status)
    if filters.created_from:
        query = query.where(DeliveryIssue.created_at >= day_start(filters.created_from))
    if filters.created_to:
        query = query.where(DeliveryIssue.created_at < day_start(filters.created_to + timedelta(days=1)))
    if filters.order_number:
        order_id = select(Order.id).where(Order.number == filters.order_number).scalar_subquery()
        query = query.where(DeliveryIssue.order_id == order_id)
    open_first = case((DeliveryIssue.status == "open", 0), else_=1)
    return query.order_by(open_first, DeliveryIssue.created_at.desc(), DeliveryIssue.id.desc())


def issue_views(issues: list[DeliveryIssue]) -> list[IssueView]:
    """`issues` with their shipments, orders and resolvers: three queries for any page."""
    shipments = by_id(Shipment, {issue.shipment_id for issue in issues})
    orders = by_id(Order, {issue.order_id for issue in issues})
    resolver_ids = {issue.resolved_by_id for issue in issues if issue.resolved_by_id}
    resolvers = dict(db.session.execute(select(User.id, User.email).where(User.id.in_(resolver_ids))).all())
    return [
        IssueView(
            issue=issue,
            shipment=shipments[issue.shipment_id],
            order=orders[issue.order_id],
            resolved_by=resolvers.get(issue.resolved_by_id),
        )
        for issue in issues
    ]


def by_id(model, ids: set[int]) -> dict:
    if not ids:
        return {}
    return {row.id: row for row in db.session.scalars(select(model).where(model.id.in_(ids)))}


def open_issue_counts() -> tuple[int, datetime | None]:
    """How many issues are open, and since when the oldest waits (one query)."""
    count, oldest = db.session.execute(
        select(func.count(), func.min(DeliveryIssue.created_at)).where(DeliveryIssue.status == "open")
    ).one()
    return count, oldest
