"""Reading an order's tracking: what the customer may see of where their order is.

`order_tracking(order)` gathers, in a fixed number of SQL statements however many events
there are, the order's stage (placed -> paid -> shipped -> out for delivery -> delivered,
or cancelled), its shipments with their lines and tracking events (newest first), the
order-level milestones a customer may see and the estimated delivery. The customer API,
the public tracking page and the staff order page all read this one model.

Customer-safe by construction: order events are selected column by column (kind, status,
time) for the milestones only, so staff notes, hold reasons, payment details and actor
names are never loaded. The shipping address is reduced to city and country.

`last_changed` is when anything shown here last changed (a milestone, a shipment, a
tracking event, the order row); with the newest ids it makes `etag`, the ETag of every
tracking answer, so a page or a storefront polling for news gets a 304 while nothing
happened. A staff note changes neither.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlsplit

from babel.dates import format_date
from flask import current_app
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from app.blueprints.fulfilment.models import Shipment, TrackingEvent
from app.blueprints.orders import checkout
from app.blueprints.orders.lifecycle import STATUS_LABELS
from app.blueprints.orders.order_models import Order, OrderEvent
from app.core.errors import NotFound
from app.extensions import db

TRACKING_STATUS_LABELS = {
    "label_created": "Label created",
    "picked_up": "Picked up by the carrier",
    "in_transit": "On its way",
    "out_for_delivery": "Out for delivery",
    "delivered": "Delivered",
    "exception": "Delivery problem",
}
# The customer's stepper, in order; `cancelled` replaces what is left of it.
STAGES = ("placed", "paid", "shipped", "out_for_delivery", "delivered")
STAGE_LABELS = {
    "placed": "Order placed",
    "paid": "Paid",
    "shipped": "Shipped",
    "out_for_delivery": "Out for delivery",
    "delivered": "Delivered",
    "cancelled": "Cancelled",
}
FINAL_STAGES = ("delivered", "cancelled")
# Order timeline entries a customer may see: placing, and these status changes.
MILESTONE_LABELS = {
    "placed": "Order placed",
    "paid": "Payment received",
    "partially_shipped": "Part of your order has shipped",
    "shipped": "Shipped",
    "delivered": "Delivered",
    "cancelled": "Cancelled",
}
# A parcel with years of scans is still one page: the newest events per order.
EVENTS_LIMIT = 300


@dataclass(frozen=True)
class TrackingLine:
    sku: str
    name: str
    title: str
    quantity: int


@dataclass(frozen=True)
class TrackingUpdate:
    """One tracking event of a parcel."""

    id: int
    status: str
    status_label: str
    description: str
    location: str
    source: str  # the provider code or "staff": shown to staff only
    occurred_at: datetime


@dataclass(frozen=True)
class ShipmentTracking:
    number: str
    carrier: str
    service: str
    tracking_number: str
    tracking_url: str
    status: str
    status_label: str
    shipped_at: datetime
    estimated_delivery: date | None
    delivered_at: datetime | None
    lines: list[TrackingLine]
    events: list[TrackingUpdate]  # newest first

    @property
    def delivered(self) -> bool:
        return self.status == "delivered"

    @property
    def has_problem(self) -> bool:
        return self.status == "exception"


@dataclass(frozen=True)
class Milestone:
    """A customer-visible entry of the order's own timeline."""

    kind: str  # placed, paid, partially_shipped, shipped, delivered, cancelled
    label: str
    occurred_at: datetime


@dataclass(frozen=True)
class Step:
    """One step of the stepper: reached (with when, if known) or still ahead."""

    stage: str
    label: str
    done: bool
    current: bool
    at: datetime | None


@dataclass(frozen=True)
class OrderTracking:
    number: str
    status: str
    status_label: str
    stage: str
    stage_label: str
    placed_at: datetime
    estimated_delivery: date | None
    ship_to: dict  # {"city", "country"}: no more of the address than that
    shipments: list[ShipmentTracking]
    milestones: list[Milestone]  # newest first
    steps: list[Step]
    last_changed: datetime
    etag: str

    @property
    def final(self) -> bool:
        """Delivered or cancelled: nothing more will happen, pages stop asking."""
        return self.stage in FINAL_STAGES

    @property
    def has_problem(self) -> bool:
        return any(shipment.has_problem for shipment in self.shipments)


def order_for_tracking(number: str, *, customer_id: int | None = None, token: str | None = None) -> Order:
    """The order `number` if the caller may follow it: it is the signed-in customer's own,
    or `token` is its tracking token. Anything else (another customer's order, a wrong or
    missing token, no such order) is the same NotFound, so order numbers cannot be probed."""
    order = db.session.scalar(select(Order).where(Order.number == number).options(selectinload(Order.lines)))
    if order is not None:
        if customer_id is not None and order.customer_id == customer_id:
            return order
        # Tokens are URL-safe ASCII; compare_digest refuses to compare anything else.
        if token and token.isascii() and checkout.tracking_token_matches(order, token):
            return order
    raise NotFound("No such order.", code="order_not_found")


def order_tracking(order: Order) -> OrderTracking:
    """Everything the tracking views show of `order`: four statements (shipments, their
    lines, tracking events, milestones) besides the order and its lines."""
    shipments = list(
        db.session.scalars(
            select(Shipment)
            .where(Shipment.order_id == order.id)
            .options(selectinload(Shipment.lines))
            .order_by(Shipment.sequence)
        )
    )
    events = list(
        db.session.scalars(
            select(TrackingEvent)
            .where(TrackingEvent.order_id == order.id)
            .order_by(TrackingEvent.occurred_at.desc(), TrackingEvent.id.desc())
            .limit(EVENTS_LIMIT)
        )
    )
    milestones, newest_milestone_id = customer_milestones(order)
    lines_by_id = {line.id: line for line in order.lines}
    shipment_views = [shipment_tracking(s, lines_by_id, events) for s in shipments]
    stage = stage_of(order, shipment_views)
    changed_at = last_changed(order, shipments, events, milestones)
    return OrderTracking(
        number=order.number,
        status=order.status,
        status_label=STATUS_LABELS.get(order.status, order.status),
        stage=stage,
        stage_label=STAGE_LABELS[stage],
        placed_at=order.placed_at,
        estimated_delivery=estimated_delivery(shipment_views),
        ship_to=destination(order.shipping_address),
        shipments=shipment_views,
        milestones=milestones,
        steps=steps_of(order, stage, shipment_views, milestones),
        last_changed=changed_at,
        etag=etag_of(changed_at, shipments, events, newest_milestone_id),
    )


def shipment_tracking(shipment: Shipment, lines_by_id: dict, events: list[TrackingEvent]) -> ShipmentTracking:
    lines = [
        TrackingLine(line.sku, line.name, line.title, shipped.quantity)
        for shipped in shipment.lines
        if (line := lines_by_id.get(shipped.order_line_id)) is not None
    ]
    updates = [
        TrackingUpdate(
            id=event.id,
            status=event.status,
            status_label=TRACKING_STATUS_LABELS.get(event.status, event.status),
            description=event.description,
            location=event.location,
            source=event.source,
            occurred_at=event.occurred_at,
        )
        for event in events
        if event.shipment_id == shipment.id
    ]
    return ShipmentTracking(
        number=shipment.number,
        carrier=shipment.carrier,
        service=shipment.service,
        tracking_number=shipment.tracking_number,
        tracking_url=web_link(shipment.tracking_url),
        status=shipment.status,
        status_label=TRACKING_STATUS_LABELS.get(shipment.status, shipment.status),
        shipped_at=shipment.created_at,
        estimated_delivery=shipment.estimated_delivery,
        delivered_at=shipment.delivered_at,
        lines=lines,
        events=updates,
    )


def customer_milestones(order: Order) -> tuple[list[Milestone], int]:
    """The order's milestones, newest first, each kind once (when first reached: an order
    released from a hold is not "paid" twice); and the newest such event's id."""
    rows = db.session.execute(
        select(OrderEvent.id, OrderEvent.kind, OrderEvent.to_status, OrderEvent.created_at)
        .where(
            OrderEvent.order_id == order.id,
            or_(
                OrderEvent.kind == "placed",
                and_(OrderEvent.kind == "status", OrderEvent.to_status.in_(tuple(MILESTONE_LABELS))),
            ),
        )
        .order_by(OrderEvent.id)
    ).all()
    first_reached: dict[str, datetime] = {}
    for _id, kind, to_status, created_at in rows:
        first_reached.setdefault("placed" if kind == "placed" else to_status, created_at)
    milestones = [Milestone(kind, MILESTONE_LABELS[kind], at) for kind, at in first_reached.items()]
    milestones.reverse()
    return milestones, max((row[0] for row in rows), default=0)


def stage_of(order: Order, shipments: list[ShipmentTracking]) -> str:
    """Where the order is on the customer's stepper. Delivered means everything: every
    unit shipped and every parcel delivered (or staff marked the order delivered)."""
    if order.status == "cancelled":
        return "cancelled"
    if order.status in ("delivered", "completed"):
        return "delivered"
    everything_shipped = all(line.shipped_quantity >= line.quantity for line in order.lines)
    if shipments and everything_shipped and all(s.delivered for s in shipments):
        return "delivered"
    if any(s.status == "out_for_delivery" for s in shipments):
        return "out_for_delivery"
    if shipments or order.status in ("shipped", "partially_shipped"):
        return "shipped"
    if order.paid_at is not None or order.status in ("paid", "processing"):
        return "paid"
    return "placed"


def steps_of(
    order: Order, stage: str, shipments: list[ShipmentTracking], milestones: list[Milestone]
) -> list[Step]:
    """The stepper: each stage reached, the current one, and those ahead. A cancelled order
    shows what it reached, then "Cancelled"."""
    reached_at = stage_times(order, shipments, milestones)
    if stage == "cancelled":
        reached = [s for s in STAGES if reached_at.get(s) is not None]
        steps = [Step(s, STAGE_LABELS[s], True, False, reached_at[s]) for s in reached]
        return [*steps, Step("cancelled", STAGE_LABELS["cancelled"], True, True, reached_at.get("cancelled"))]
    position = STAGES.index(stage)
    return [
        Step(
            s,
            STAGE_LABELS[s],
            index <= position,
            index == position,
            reached_at.get(s) if index <= position else None,
        )
        for index, s in enumerate(STAGES)
    ]


def stage_times(order: Order, shipments: list[ShipmentTracking], milestones: list[Milestone]) -> dict:
    by_kind = {m.kind: m.occurred_at for m in milestones}
    out_for_delivery = [e.occurred_at for s in shipments for e in s.events if e.status == "out_for_delivery"]
    delivered = [s.delivered_at for s in shipments if s.delivered_at is not None]
    return {
        "placed": order.placed_at,
        "paid": order.paid_at or by_kind.get("paid"),
        "shipped": min((s.shipped_at for s in shipments), default=None)
        or by_kind.get("partially_shipped")
        or by_kind.get("shipped"),
        "out_for_delivery": min(out_for_delivery, default=None),
        "delivered": by_kind.get("delivered") or max(delivered, default=None),
        "cancelled": order.cancelled_at or by_kind.get("cancelled"),
    }


def estimated_delivery(shipments: list[ShipmentTracking]) -> date | None:
    """When the last parcel still on its way should arrive (None: all delivered, or no
    carrier said)."""
    return max(
        (s.estimated_delivery for s in shipments if not s.delivered and s.estimated_delivery),
        default=None,
    )


def web_link(url: str | None) -> str:
    """`url` if it is an http(s) link, else "": a tracking URL typed by staff or sent by a
    provider is shown to customers as a link, and must never be `javascript:` or the like."""
    url = (url or "").strip()
    return url if urlsplit(url).scheme in ("http", "https") else ""


def destination(address: dict | None) -> dict:
    address = address or {}
    return {"city": address.get("city") or "", "country": address.get("country") or ""}


def last_changed(
    order: Order, shipments: list[Shipment], events: list[TrackingEvent], milestones: list[Milestone]
) -> datetime:
    """When anything the tracking shows last changed: the order row, a shipment, a tracking
    event recorded (also one that happened long ago), a milestone."""
    times = [
        order.placed_at,
        order.updated_at,
        *(s.updated_at for s in shipments),
        *(e.recorded_at for e in events),
        *(m.occurred_at for m in milestones),
    ]
    return max(t for t in times if t is not None)


def etag_of(
    changed_at: datetime, shipments: list[Shipment], events: list[TrackingEvent], newest_milestone_id: int
) -> str:
    """The tag of a tracking answer: its time of change, and what was counted and the
    newest ids, so two changes within one clock tick still differ. Hashed: ids are store
    wide counters, and a customer has no business reading the store's volume from them."""
    newest_event = max((e.id for e in events), default=0)
    version = f"{changed_at.isoformat()}|{len(shipments)}|{len(events)}|{newest_event}|{newest_milestone_id}"
    return hashlib.blake2b(version.encode(), digest_size=12).hexdigest()


def delivery_date_label(day: date | None) -> str:
    """A delivery date as the customer reads it ("Friday 13 March 2026"), in the store's locale."""
    if day is None:
        return ""
    return format_date(day, format="EEEE d MMMM y", locale=current_app.config["DEFAULT_LOCALE"])
