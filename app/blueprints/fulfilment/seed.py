"""Demo shipments: the demo orders the orders seeder left in processing are picked and
packed, oldest first, through the real shipments service (stock leaves through the ledger,
the orders move on), with the manual provider and believable PostNL and DHL tracking: some
completed, some delivered, some on their way (one of them in two shipments), one partially
shipped in two parcels, the newest still processing. Shipments, tracking events and their
timeline entries are dated after the order was placed.

Runs once: an installation with shipments gets none, and only orders the demo seeder
made are touched.
"""

from __future__ import annotations

import random
import string
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.blueprints.fulfilment import shipments, tracking
from app.blueprints.fulfilment.models import Shipment, TrackingEvent
from app.blueprints.orders import lifecycle
from app.blueprints.orders.order_models import Order, OrderEvent
from app.blueprints.orders.seed_orders import SEED_ORDER as ORDERS_SEED_ORDER
from app.blueprints.orders.seed_orders import DemoStaff
from app.core.cli import demo_seeder
from app.core.errors import DomainError
from app.core.timeutil import utcnow
from app.core.transaction import savepoint
from app.extensions import db

SEED_ORDER = ORDERS_SEED_ORDER + 10  # after the demo orders
# How the oldest processing demo orders end, in this order; the rest stay processing.
PLAN = (("completed", 4), ("delivered", 6), ("split", 1), ("on_the_way", 6), ("partial", 1))
ON_THE_WAY = ("picked_up", "in_transit", "in_transit", "out_for_delivery")


def postnl(rng: random.Random, address: dict) -> dict:
    code = "3S" + "".join(rng.choices(string.ascii_uppercase, k=4)) + "".join(rng.choices(string.digits, k=9))
    postal = (address.get("postal_code") or "").replace(" ", "")
    country = address.get("country") or "NL"
    return {
        "carrier": "PostNL",
        "service": "Standard",
        "tracking_number": code,
        "tracking_url": f"https://jouw.postnl.nl/track-and-trace/{code}-{country}-{postal}",
    }


def dhl(rng: random.Random, address: dict) -> dict:
    code = "JVGL" + "".join(rng.choices(string.digits, k=16))
    return {
        "carrier": "DHL",
        "service": "Parcel Connect",
        "tracking_number": code,
        "tracking_url": f"https://www.dhl.com/nl-en/home/tracking/tracking-parcel.html?submit=1&tracking-id={code}",
    }


def demo_processing_orders() -> list[Order]:
    """Orders the demo seeder moved to processing and nobody touched since, oldest first."""
    started_by_demo = (
        select(OrderEvent.order_id)
        .where(OrderEvent.to_status == "processing", OrderEvent.actor_label == DemoStaff.email)
        .scalar_subquery()
    )
    query = (
        select(Order)
        .where(Order.status == "processing", Order.id.in_(started_by_demo))
        .order_by(Order.placed_at, Order.id)
    )
    return list(db.session.scalars(query))


class Clock:
    """Dates what the seeder does to one order: each step a while after the one before."""

    def __init__(self, order: Order, rng: random.Random):
        self.order = order
        self.now = order.placed_at + timedelta(hours=rng.randint(18, 30))
        self.last_event_id = self._newest_event_id()
        self.latest = utcnow() - timedelta(minutes=30)

    def _newest_event_id(self) -> int:
        newest = db.session.scalar(
            select(func.max(OrderEvent.id)).where(OrderEvent.order_id == self.order.id)
        )
        return newest or 0

    def advance(self, hours: float) -> datetime:
        self.now = min(self.now + timedelta(hours=hours), self.latest)
        return self.now

    def stamp_timeline(self) -> None:
        """The order's timeline entries since the last stamp happened now (by this clock)."""
        db.session.flush()
        for event in db.session.scalars(
            select(OrderEvent).where(OrderEvent.order_id == self.order.id, OrderEvent.id > self.last_event_id)
        ):
            event.created_at = self.now
        self.last_event_id = self._newest_event_id()


def ship(
    order: Order, clock: Clock, rng: random.Random, *, quantities=None, packages=1, carrier=None
) -> Shipment:
    lines = shipments.shippable(order)
    [location, *_] = shipments.locations_holding(lines)
    typed = (carrier or rng.choice((postnl, dhl)))(rng, order.shipping_address or {})
    shipment = shipments.create_shipment(
        order,
        location_id=location.id,
        quantities=quantities,
        provider="manual",
        packages=packages,
        actor=DemoStaff(),
        **typed,
    )
    shipment.created_at = clock.now
    for event in db.session.scalars(select(TrackingEvent).where(TrackingEvent.shipment_id == shipment.id)):
        event.occurred_at = event.recorded_at = clock.now
    clock.stamp_timeline()
    return shipment


def follow(shipment: Shipment, statuses, clock: Clock, rng: random.Random) -> None:
    """The carrier's scans, each a few hours after the one before."""
    for status in statuses:
        when = clock.advance(rng.randint(4, 20))
        tracking.record_tracking_event(
            shipment,
            status,
            source="staff",
            occurred_at=when,
            location={"picked_up": "Amsterdam", "in_transit": "Sorting centre Nieuwegein"}.get(status, ""),
            actor=DemoStaff(),
        )
        clock.stamp_timeline()


def deliver(order: Order, shipment: Shipment, clock: Clock, rng: random.Random) -> None:
    follow(shipment, ("picked_up", "in_transit", "out_for_delivery", "delivered"), clock, rng)
    if order.status == "shipped":  # tracking moves the order itself when every parcel arrived
        lifecycle.mark_delivered(order, actor=DemoStaff())
        clock.stamp_timeline()


def run_plan(order: Order, outcome: str, rng: random.Random) -> None:
    clock = Clock(order, rng)
    if outcome in ("completed", "delivered"):
        shipment = ship(order, clock, rng)
        deliver(order, shipment, clock, rng)
        if outcome == "completed":
            clock.advance(24 * rng.randint(3, 10))
            lifecycle.complete_order(order, actor=DemoStaff())
            clock.stamp_timeline()
    elif outcome == "on_the_way":
        shipment = ship(order, clock, rng)
        follow(shipment, ON_THE_WAY[: rng.randint(1, len(ON_THE_WAY))], clock, rng)
    elif outcome == "split":
        first, *rest = [item for item in shipments.shippable(order) if item.reserved]
        part = {first.line.id: first.reserved} if rest else {first.line.id: max(1, first.reserved // 2)}
        follow(
            ship(order, clock, rng, quantities=part, carrier=postnl), ("picked_up", "in_transit"), clock, rng
        )
        clock.advance(6)
        follow(ship(order, clock, rng, carrier=dhl), ("picked_up",), clock, rng)
    elif outcome == "partial":
        shipped = [item for item in shipments.shippable(order) if item.reserved]
        part = {item.line.id: item.reserved for item in shipped[:-1]} or {
            shipped[0].line.id: max(1, shipped[0].reserved - 1)
        }
        follow(
            ship(order, clock, rng, quantities=part, packages=2, carrier=postnl), ("picked_up",), clock, rng
        )


def assign(orders: list[Order]) -> list[tuple[Order, str]]:
    """(order, outcome) by the plan, oldest first; the split and the partial shipment take
    orders of two units or more."""
    pool, chosen = list(orders), []
    for outcome, count in PLAN:
        for _ in range(min(count, len(pool))):
            pick = pool[0]
            if outcome in ("split", "partial"):
                pick = next((o for o in pool if sum(line.quantity for line in o.lines) >= 2), pick)
            pool.remove(pick)
            chosen.append((pick, outcome))
    return chosen


@demo_seeder(SEED_ORDER, "fulfilment: demo shipments and tracking")
def seed_demo_shipments() -> str | None:
    if db.session.scalar(select(func.count()).select_from(Shipment)):
        return None
    orders = demo_processing_orders()
    if not orders:
        return None
    rng = random.Random(2027)  # noqa: S311  (demo data: the same parcels on every install)
    made = 0
    for order, outcome in assign(orders):
        if not shipments.can_ship_now(order):
            continue
        try:
            with savepoint():
                run_plan(order, outcome, rng)
        except DomainError:
            continue  # that order could not go that way: it stays processing
        made += 1
    shipped = db.session.scalar(select(func.count()).select_from(Shipment))
    return f"Demo shipments: {shipped} shipments for {made} orders (PostNL and DHL, some delivered)"
