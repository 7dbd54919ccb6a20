"""The customer's mails about their parcels, and the event other channels listen to.

- `shipment.created` -> "Your order {number} has shipped" (the items in this parcel, the
  carrier, the carrier's tracking link, the link to our tracking page);
- `shipment.tracking` with `out_for_delivery`, `delivered` or `exception` -> one mail each
  ("out for delivery today", "delivered", "a problem with your delivery: we are on it").
  Other tracking statuses (label created, picked up, in transit) show on the tracking
  page only: a mail for every scan would be noise.

As in `orders/emails.py`: listeners only queue a job (`email` queue); the job locks the
order row, sends to the order's email and writes an `email` entry on the order's timeline
({"template", "to", "shipment_id", "status"}) in one transaction. That entry makes each
mail go out at most once per parcel and status, however often a provider announces the
same news or a job is retried.

After each of those news goes out, `order.tracking_updated` (order_id, shipment_id,
status: shipped, out_for_delivery, delivered, exception) is emitted once, after commit:
the hook for other channels (SMS, push, outbound webhooks) to tell the customer too.
"""

from __future__ import annotations

from sqlalchemy import select

from app.blueprints.fulfilment import tracking_queries
from app.blueprints.fulfilment.models import Shipment, TrackingEvent
from app.blueprints.orders import emails as order_emails
from app.blueprints.orders import lifecycle
from app.blueprints.orders.order_models import Order, OrderEvent
from app.core.events import Event, emit, subscribe
from app.core.jobs import enqueue
from app.core.mail import send_mail
from app.core.transaction import transaction
from app.extensions import db

SHIPPED = "shipped"
TEMPLATES = {
    SHIPPED: "fulfilment/tracking_shipped",
    "out_for_delivery": "fulfilment/tracking_out_for_delivery",
    "delivered": "fulfilment/tracking_delivered",
    "exception": "fulfilment/tracking_exception",
}
SUBJECTS = {
    SHIPPED: "Your order {number} has shipped",
    "out_for_delivery": "Your order {number} is out for delivery today",
    "delivered": "Your order {number} has been delivered",
    "exception": "A problem with the delivery of your order {number}: we are on it",
}
# One parcel of several: the subject must not say the whole order arrived.
PARCEL_SUBJECTS = {
    SHIPPED: "A parcel of your order {number} has shipped",
    "out_for_delivery": "A parcel of your order {number} is out for delivery today",
    "delivered": "A parcel of your order {number} has been delivered",
    "exception": "A problem with the delivery of a parcel of your order {number}: we are on it",
}
TRACKING_UPDATED = "order.tracking_updated"


def announced(order: Order) -> set[tuple[str, int]]:
    """(status, shipment id) of the parcel news this order's customer was already sent."""
    data = db.session.scalars(
        select(OrderEvent.data).where(OrderEvent.order_id == order.id, OrderEvent.kind == "email")
    )
    return {
        (entry.get("status"), entry.get("shipment_id"))
        for entry in data
        if entry and entry.get("template") in TEMPLATES.values()
    }


def is_stale(shipment: Shipment, status: str) -> bool:
    # Providers do not always deliver in order: "out for delivery" that arrives after the
    # parcel was delivered is old news.
    return status == "out_for_delivery" and shipment.status == "delivered"


def announce(
    order: Order, shipment: Shipment, status: str, tracking_event: TrackingEvent | None = None
) -> bool:
    """Mail the customer the news `status` of `shipment`, once (False: sent before, old
    news, or not news we mail), and emit `order.tracking_updated`. Call in a transaction
    with the order row locked."""
    if status not in TEMPLATES or (status, shipment.id) in announced(order) or is_stale(shipment, status):
        return False
    context = mail_context(order, shipment, tracking_event)
    subject = (PARCEL_SUBJECTS if context["partial"] else SUBJECTS)[status].format(number=order.number)
    send_mail(order.email, subject, TEMPLATES[status], **context)
    lifecycle.record_event(
        order,
        "email",
        note=subject,
        template=TEMPLATES[status],
        to=order.email,
        shipment_id=shipment.id,
        status=status,
    )
    emit(TRACKING_UPDATED, order_id=order.id, shipment_id=shipment.id, status=status)
    return True


def mail_context(order: Order, shipment: Shipment, tracking_event: TrackingEvent | None) -> dict:
    tracking = tracking_queries.order_tracking(order)
    parcel = next(s for s in tracking.shipments if s.number == shipment.number)
    return {
        **order_emails.mail_context(order),
        "tracking": tracking,
        "parcel": parcel,
        # More than this parcel to the order: the mails say "part of your order".
        "partial": len(tracking.shipments) > 1
        or any(line.shipped_quantity < line.quantity for line in order.lines),
        "event": tracking_event,
        "delivery_date": tracking_queries.delivery_date_label,
    }


# ---- the job and its listeners ---------------------------------------------------------------


def tracking_mail_job(shipment_id: int, status: str, tracking_event_id: int | None = None) -> None:
    """Job: the parcel news `status`, once."""
    with transaction():
        shipment = db.session.get(Shipment, shipment_id)
        if shipment is None:
            return
        order = db.session.get(Order, shipment.order_id, with_for_update=True, populate_existing=True)
        # The lock is taken: read the shipment as it is now, not as it was before the wait.
        db.session.refresh(shipment)
        event = db.session.get(TrackingEvent, tracking_event_id) if tracking_event_id else None
        announce(order, shipment, status, event)


@subscribe("shipment.created")
def mail_shipped(event: Event) -> None:
    enqueue(tracking_mail_job, event.payload["shipment_id"], SHIPPED, queue="email")


@subscribe("shipment.tracking")
def mail_tracking_news(event: Event) -> None:
    status = event.payload.get("status")
    if status in TEMPLATES and status != SHIPPED:
        enqueue(
            tracking_mail_job,
            event.payload["shipment_id"],
            status,
            event.payload.get("tracking_event_id"),
            queue="email",
        )
