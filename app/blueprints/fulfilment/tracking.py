"""Tracking events: what happened to a parcel, from a provider's webhook or a staff member.

`record_tracking_event` is the one way in. It appends the event (events are history: every
one is kept, also one that arrives late), puts it on the order's timeline (an OrderEvent of
kind "tracking"), and moves the shipment by these rules:

- Statuses go forward only: label_created < picked_up < in_transit < out_for_delivery <
  delivered. A late "in transit" after "out for delivery" is kept as an event, the shipment
  stays out for delivery. Carriers' webhooks overtake each other; this keeps the latest word.
- `delivered` is final: it sets `delivered_at`, and nothing moves a delivered shipment.
  When every shipment of an order is delivered and nothing is left to ship (the order is
  `shipped`), the order becomes `delivered`.
- `exception` (address unknown, damaged, returned) can come at any point before delivery
  and opens a delivery issue for support (one open issue per shipment; a second exception
  adds to it). After an exception any status may follow (the carrier re-routed the parcel),
  unless it happened before the exception.
- An exception that happened before an event already recorded is history, not news.

The order's row is locked first, so two webhooks (or a webhook and a staff member) about
the shipments of one order are applied one after the other: the second sees the first.
`shipment.tracking` is emitted after commit for news: an event that is the shipment's
current state (not one kept as history only, nor a repeat of "delivered"), so a late "out
for delivery" never mails a customer whose parcel arrived. `status_changed` in its payload
tells a new status from another event of the same one (a second hub scan).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select

from app.blueprints.fulfilment import delivery_issues
from app.blueprints.fulfilment.models import TRACKING_STATUSES, Shipment, TrackingEvent
from app.blueprints.fulfilment.providers import PROVIDERS
from app.blueprints.orders import lifecycle
from app.blueprints.orders.order_models import Order, OrderEvent
from app.core import audit
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.events import emit
from app.core.timeutil import utcnow
from app.extensions import db

# The way forward; `exception` stands apart (see the module doc).
FORWARD = ("label_created", "picked_up", "in_transit", "out_for_delivery", "delivered")
RANK = {status: rank for rank, status in enumerate(FORWARD)}
STATUS_LABELS = {
    "label_created": "Label created",
    "picked_up": "Picked up",
    "in_transit": "In transit",
    "out_for_delivery": "Out for delivery",
    "delivered": "Delivered",
    "exception": "Exception",
}
STAFF_SOURCE = "staff"
MAX_DESCRIPTION, MAX_LOCATION = 500, 200


def shipment_by_number(number: str, *, for_update: bool = False) -> Shipment:
    """The shipment numbered `number` ("100042-1"); with `for_update`, its order's row is
    locked first (as every change of a shipment does)."""
    shipment = db.session.scalar(select(Shipment).where(Shipment.number == number))
    if shipment is None:
        raise NotFound("No such shipment.", code="shipment_not_found")
    if for_update:
        lock_order_of(shipment)
    return shipment


def lock_order_of(shipment: Shipment) -> Order:
    """Take the order's row lock (until the commit), then re-read the shipment as committed
    by whoever held the lock before."""
    db.session.flush()
    order = db.session.get(Order, shipment.order_id, with_for_update=True, populate_existing=True)
    db.session.refresh(shipment)
    return order


def source_label(source: str, actor=None) -> str:
    """Who reported it, in words: the provider's name, or the staff member."""
    if source == STAFF_SOURCE:
        return audit.actor_label(actor)
    provider = PROVIDERS.get(source)
    return provider.label if provider is not None else source


def latest_occurred_at(shipment: Shipment) -> datetime | None:
    return db.session.scalar(
        select(func.max(TrackingEvent.occurred_at)).where(TrackingEvent.shipment_id == shipment.id)
    )


def status_after(current: str, status: str, *, occurred_at: datetime, latest: datetime | None) -> str:
    """The shipment's status once an event with `status`, which happened at `occurred_at`,
    is recorded; `latest` is when the newest event recorded before it happened."""
    if current == "delivered":
        return current
    if status == "delivered":
        return status
    happened_after_the_rest = latest is None or occurred_at >= latest
    if status == "exception" or current == "exception":
        return status if happened_after_the_rest else current
    return status if RANK[status] > RANK[current] else current


def clean_text(value: str | None, limit: int, field: str) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise InvalidInput(f"At most {limit} characters.", errors={field: [f"At most {limit} characters."]})
    return value


def record_tracking_event(
    shipment: Shipment,
    status: str,
    *,
    source: str,
    occurred_at: datetime | None = None,
    description: str = "",
    location: str = "",
    actor=None,
    estimated_delivery: date | None = None,
) -> TrackingEvent:
    """Record what happened to the parcel and apply it (see the module doc). `source` is the
    provider's code or "staff"; `actor` is the staff member, None for a provider."""
    if status not in TRACKING_STATUSES:
        raise InvalidInput("Unknown tracking status.", errors={"status": ["Unknown status."]})
    description = clean_text(description, MAX_DESCRIPTION, "description")
    location = clean_text(location, MAX_LOCATION, "location")
    occurred_at = (occurred_at or utcnow()).astimezone(UTC)
    order = lock_order_of(shipment)
    latest = latest_occurred_at(shipment)
    before = shipment.status
    shipment.status = status_after(before, status, occurred_at=occurred_at, latest=latest)
    current = shipment.status == status  # else kept as history only
    event = TrackingEvent(
        shipment_id=shipment.id,
        order_id=shipment.order_id,
        status=status,
        source=source,
        occurred_at=occurred_at,
        description=description,
        location=location,
    )
    db.session.add(event)
    db.session.flush()
    if current and estimated_delivery is not None:
        shipment.estimated_delivery = estimated_delivery
    put_on_timeline(order, shipment, event, actor=actor, current=current)
    if current and status == "exception":
        delivery_issues.open_or_add_to_issue(shipment, event, actor=actor, by=source_label(source, actor))
    if shipment.status == "delivered" and before != "delivered":
        shipment.delivered_at = occurred_at
        deliver_order_when_all_arrived(order, actor=actor, by=source_label(source, actor))
    db.session.flush()
    if current and before != "delivered":  # after delivery nothing is news (a second scan)
        emit(
            "shipment.tracking",
            shipment_id=shipment.id,
            tracking_event_id=event.id,
            status=status,
            status_changed=shipment.status != before,
        )
    return event


def put_on_timeline(order: Order, shipment: Shipment, event: TrackingEvent, *, actor, current: bool):
    """The event as an OrderEvent, so staff follow the parcel on the order's timeline."""
    said = STATUS_LABELS[event.status]
    if event.description:
        said += f": {event.description}"
    if event.location:
        said += f" ({event.location})"
    if not current:
        said += f". Reported late: the shipment stays {STATUS_LABELS[shipment.status].lower()}."
    entry = lifecycle.record_event(
        order,
        "tracking",
        actor=actor,
        note=f"Shipment {shipment.number}: {said}",
        shipment_id=shipment.id,
        shipment_number=shipment.number,
        tracking_event_id=event.id,
        status=event.status,
        source=event.source,
        occurred_at=event.occurred_at,
        location=event.location,
        current=current,
    )
    if actor is None:
        entry.actor_label = source_label(event.source)[:255]
    return entry


def deliver_order_when_all_arrived(order: Order, *, actor, by: str) -> None:
    """The order becomes delivered once its last shipment arrives and nothing is left to
    ship (an order still partially shipped waits for the rest)."""
    if order.status != "shipped":
        return
    statuses = db.session.scalars(select(Shipment.status).where(Shipment.order_id == order.id)).all()
    if not statuses or any(status != "delivered" for status in statuses):
        return
    lifecycle.mark_delivered(order, actor=actor, note=f"Every shipment has arrived (reported by {by}).")
    if actor is None:
        label_carrier_delivery(order, by)


def label_carrier_delivery(order: Order, by: str) -> None:
    # The orders timeline names an actor-less change "system"; say which carrier it was.
    db.session.flush()
    event = db.session.scalar(
        select(OrderEvent)
        .where(
            OrderEvent.order_id == order.id, OrderEvent.kind == "status", OrderEvent.to_status == "delivered"
        )
        .order_by(OrderEvent.id.desc())
        .limit(1)
    )
    if event is not None:
        event.actor_label = by[:255]


def record_staff_tracking_event(
    shipment: Shipment,
    *,
    actor,
    status: str,
    description: str = "",
    location: str = "",
    occurred_at: datetime | None = None,
) -> TrackingEvent:
    """A tracking event entered by a staff member (a carrier without webhooks, a phone call
    with the courier). A delivered shipment takes no more: it cannot move back. Audited."""
    lock_order_of(shipment)
    if shipment.status == "delivered":
        raise Conflict(
            f"Shipment {shipment.number} is delivered; its tracking is complete.", code="shipment_delivered"
        )
    if status == "label_created":
        raise InvalidInput(
            "A label is created with the shipment.",
            errors={"status": ["Choose what happened to the parcel."]},
        )
    if occurred_at is not None and occurred_at > utcnow():
        raise InvalidInput("That is in the future.", errors={"occurred_at": ["Must not be in the future."]})
    event = record_tracking_event(
        shipment,
        status,
        source=STAFF_SOURCE,
        occurred_at=occurred_at,
        description=description,
        location=location,
        actor=actor,
    )
    audit.record(
        "shipment.tracking_recorded",
        actor=actor,
        target=shipment,
        summary=f"Shipment {shipment.number}: {STATUS_LABELS[status].lower()} recorded by hand",
        status=status,
        description=event.description,
        location=event.location,
        shipment_status=shipment.status,
    )
    return event


def tracking_events_of(shipment: Shipment):
    """The shipment's events, newest first (a select, for pagination)."""
    return (
        select(TrackingEvent)
        .where(TrackingEvent.shipment_id == shipment.id)
        .order_by(TrackingEvent.occurred_at.desc(), TrackingEvent.id.desc())
    )
