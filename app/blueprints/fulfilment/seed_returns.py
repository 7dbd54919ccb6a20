"""Demo returns: a few returns of delivered demo orders, one waiting for a decision, one
approved and on its way back, one received, inspected and restocked, made
through the returns service like real ones (timeline, mails, stock ledger).
Runs after the shipments seeder (which delivers demo orders), each return asked for two
days after its order's delivery and dated so; runs once: an installation with returns gets
none, and one without delivered orders of customers gets none."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.blueprints.customers.models import Customer
from app.blueprints.fulfilment import returns
from app.blueprints.fulfilment.models import ReturnRequest
from app.blueprints.inventory import reservations
from app.blueprints.orders.order_models import Order, OrderEvent
from app.core.cli import demo_seeder
from app.core.errors import DomainError
from app.core.timeutil import utcnow
from app.core.transaction import savepoint
from app.extensions import db

SEED_ORDER = 75  # after the demo orders (60) and their shipments (70)
# Which state each demo return ends in, with its reason and what the customer wrote.
PLAN = (
    ("requested", "does_not_fit", "The size runs small, I would like to send it back."),
    ("approved", "damaged", "The box was crushed and the item is scratched."),
    ("received", "defective", "It stopped working after two days."),
)


class DemoStaff:
    email = "demo-seeder"
    is_staff = True
    id = None

    def __str__(self) -> str:
        return self.email


# Orders that may have delivered units (a parcel of a shipped order may be delivered).
SHIPPED_STATUSES = ("partially_shipped", "shipped", "delivered", "completed")


def _delivered_orders(limit: int = 20) -> list[Order]:
    """Newest first: their return windows are the likeliest to be open."""
    query = (
        select(Order)
        .where(Order.status.in_(SHIPPED_STATUSES), Order.customer_id.is_not(None))
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def _first_returnable_unit(order: Order) -> tuple[dict[int, int], datetime] | None:
    """One unit of the first line with delivered units left, and when it was delivered."""
    for entry in returns.returnable(order):
        if entry.returnable and entry.delivered_at is not None:
            return {entry.order_line_id: 1}, entry.delivered_at
    return None


def _advance(ret: ReturnRequest, state: str, staff) -> None:
    if state in ("approved", "received"):
        returns.approve(ret, actor=staff, note="Return label sent by mail")
    if state == "received":
        locations = reservations.fulfilling_locations()
        inspections = {line.order_line_id: (line.quantity, 0, "") for line in ret.lines}
        returns.receive(
            ret, actor=staff, inspections=inspections, location_id=locations[0].id if locations else None
        )


def _backdate(ret: ReturnRequest, now: datetime) -> None:
    """Date the steps as a real return goes: decided a day after the request, received
    five days after; its timeline entries with them."""
    steps = {
        "requested": ret.requested_at,
        "approved": min(ret.requested_at + timedelta(days=1), now),
        "received": min(ret.requested_at + timedelta(days=5), now),
    }
    if ret.decided_at is not None:
        ret.decided_at = steps["approved"]
    if ret.received_at is not None:
        ret.received_at = steps["received"]
    events = db.session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == ret.order_id, OrderEvent.kind == "return")
    )
    for event in events:
        if (event.data or {}).get("return") == ret.number:
            event.created_at = steps.get(event.data.get("status"), event.created_at)


@demo_seeder(SEED_ORDER, "fulfilment: demo returns")
def seed_demo_returns() -> str | None:
    if db.session.scalar(select(func.count()).select_from(ReturnRequest)):
        return None
    staff = DemoStaff()
    now = utcnow()
    made = []
    plan = list(PLAN)
    for order in _delivered_orders():
        found = _first_returnable_unit(order) if plan else None
        if found is None:
            continue
        lines, delivered_at = found
        state, reason, note = plan[0]
        # Asked a few days after delivery (within the window then, whatever it is now).
        asked_at = min(delivered_at + timedelta(days=2), now)
        try:
            with savepoint():
                locked = db.session.get(Order, order.id, with_for_update=True, populate_existing=True)
                customer = db.session.get(Customer, order.customer_id)
                ret = returns.request_return(
                    locked,
                    lines=lines,
                    reason=reason,
                    note=note,
                    actor=customer,
                    opened_by_staff=False,
                    requested_at=asked_at,
                )
                _advance(ret, state, staff)
                _backdate(ret, now)
        except DomainError:
            continue  # that order could not take it (no location to restock at): the next one
        plan.pop(0)
        made.append(state)
    if not made:
        return None
    return f"Demo returns: {len(made)} returns ({', '.join(made)})"
