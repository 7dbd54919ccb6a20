"""Building blocks of the returns tests: orders delivered through a shipment (or marked
delivered by staff without one), and a return moved to a given state through the
returns service, each step in its own transaction like an entry point."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from app.blueprints.fulfilment import return_queries, returns
from app.blueprints.fulfilment.models import ReturnRequest, Shipment, ShipmentLine
from app.blueprints.inventory import reservations
from app.blueprints.orders import lifecycle, order_queries, payments
from app.blueprints.orders.order_models import Order, OrderEvent
from app.core.timeutil import utcnow
from app.core.transaction import transaction
from app.extensions import db
from tests.orders.checkout_helpers import place_order_directly


class Staff:
    """A staff actor without a user row (the services store no id for it)."""

    email = "returns-desk@example.com"
    is_staff = True
    id = None

    def __str__(self) -> str:
        return self.email


def shipped_order(shop, lines, *, staff, customer=None, email="ada@example.org") -> Order:
    """Placed, paid and shipped: every unit out of the shop's location through the ledger
    and counted shipped on its line (what a shipment does, without the shipment row)."""
    order = place_order_directly(lines, customer=customer, email=email)
    with transaction():
        order = order_queries.order_by_number(order.number, for_update=True)
        payments.mark_paid(order, actor=staff)
        for line in order.lines:
            reservations.ship(
                line.variant_id, shop.location.id, line.quantity, reference=order.reference, actor=staff
            )
        lifecycle.record_shipped_units(order, {line.id: line.quantity for line in order.lines}, actor=staff)
    return order


def add_shipment(order: Order, location, units: dict[int, int], *, status="delivered", delivered_at=None):
    """A shipment of {order line id: units} with `status` (delivered: at `delivered_at`)."""
    with transaction():
        sequence = len(db.session.scalars(select(Shipment.id).where(Shipment.order_id == order.id)).all()) + 1
        shipment = Shipment(
            order_id=order.id,
            sequence=sequence,
            number=f"{order.number}-{sequence}",
            location_id=location.id,
            provider="manual",
            status=status,
            delivered_at=(delivered_at or utcnow()) if status == "delivered" else None,
        )
        shipment.lines = [ShipmentLine(order_line_id=line_id, quantity=q) for line_id, q in units.items()]
        db.session.add(shipment)
    return shipment


def delivered_order(
    shop,
    lines,
    *,
    staff,
    customer=None,
    email="ada@example.org",
    delivered_at: datetime | None = None,
    via: str = "shipment",
) -> Order:
    """An order delivered `via` a delivered shipment of everything, or by staff marking
    the order delivered without shipment records ("order"), at `delivered_at` (now)."""
    order = shipped_order(shop, lines, staff=staff, customer=customer, email=email)
    if via == "shipment":
        add_shipment(
            order, shop.location, {line.id: line.quantity for line in order.lines}, delivered_at=delivered_at
        )
    else:
        with transaction():
            order = order_queries.order_by_number(order.number, for_update=True)
            lifecycle.mark_delivered(order, actor=staff)
            db.session.flush()
            if delivered_at is not None:
                event = db.session.scalars(
                    select(OrderEvent).where(
                        OrderEvent.order_id == order.id, OrderEvent.to_status == "delivered"
                    )
                ).one()
                event.created_at = delivered_at
    return db.session.get(Order, order.id)


def days_ago(days: int) -> datetime:
    return utcnow() - timedelta(days=days)


def line_of(order: Order, variant) -> int:
    return next(line.id for line in order.lines if line.variant_id == variant.id)


def open_return(order: Order, lines: dict[int, int], *, actor, reason="damaged", note="", staff=False):
    with transaction():
        locked = order_queries.order_by_number(order.number, for_update=True)
        ret = returns.request_return(
            locked, lines=lines, reason=reason, note=note, actor=actor, opened_by_staff=staff
        )
    return ret


def act(ret: ReturnRequest, action: str, **kwargs) -> ReturnRequest:
    """Run `returns.<action>(ret, **kwargs)` on the return locked, in one transaction."""
    with transaction():
        locked = return_queries.locked_return(ret.number)
        getattr(returns, action)(locked, **kwargs)
    return db.session.get(ReturnRequest, ret.id)


def receive_all(ret: ReturnRequest, *, actor, location, write_off: int = 0, why="Broken seal"):
    """Receive every line: `write_off` units of each written off, the rest restocked."""
    inspections = {line.order_line_id: (line.quantity - write_off, write_off, why) for line in ret.lines}
    return act(ret, "receive", actor=actor, inspections=inspections, location_id=location.id)


def return_in_state(order: Order, state: str, *, actor, location, lines=None) -> ReturnRequest:
    """A return of `lines` (default: one unit of the first line) moved to `state`."""
    lines = lines or {order.lines[0].id: 1}
    ret = open_return(order, lines, actor=actor)
    if state == "requested":
        return ret
    if state == "rejected":
        return act(ret, "reject", actor=actor, reason="Outside our policy")
    ret = act(ret, "approve", actor=actor)
    if state == "approved":
        return ret
    if state == "closed":
        return act(ret, "close", actor=actor, note="Never sent back")
    ret = receive_all(ret, actor=actor, location=location)
    if state == "received":
        return ret
    if state == "refunded":
        return act(ret, "mark_refunded", actor=actor, refund_id=1)
    raise ValueError(state)
