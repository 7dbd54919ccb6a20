"""Reading shipments: the filtered list (portal and staff API share it), one shipment by its
number, an order's shipments, and what an order holds reserved per stock location.

The list's default order is newest first. Status filters ride `ix_shipments_status_created`;
a search by order number finds the order by its unique number, then its shipments by
`ix_shipments_order_id`; a shipment number is unique.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from app.blueprints.fulfilment.models import Shipment, TrackingEvent
from app.blueprints.inventory.models import InventoryMovement, StockLocation
from app.blueprints.orders.order_models import Order, OrderLine
from app.core.errors import NotFound
from app.core.timeutil import UTC
from app.extensions import db


@dataclass(frozen=True)
class ShipmentFilters:
    q: str = ""  # a shipment number, an order number or a tracking number (all exact)
    status: tuple[str, ...] = ()
    provider: str | None = None
    carrier: str = ""  # case-insensitive, exact
    created_from: date | None = None  # inclusive, UTC days
    created_to: date | None = None  # inclusive


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def filtered_shipments(filters: ShipmentFilters) -> Select:
    """One SELECT of the shipments matching every given filter, newest first."""
    query = select(Shipment).options(selectinload(Shipment.lines))
    q = filters.q.strip()
    if q:
        order_ids = select(Order.id).where(Order.number == q).scalar_subquery()
        query = query.where(
            or_(Shipment.number == q, Shipment.order_id == order_ids, Shipment.tracking_number == q)
        )
    if filters.status:
        query = query.where(Shipment.status.in_(filters.status))
    if filters.provider:
        query = query.where(Shipment.provider == filters.provider)
    if filters.carrier.strip():
        query = query.where(func.lower(Shipment.carrier) == filters.carrier.strip().lower())
    if filters.created_from is not None:
        query = query.where(Shipment.created_at >= _day_start(filters.created_from))
    if filters.created_to is not None:
        query = query.where(Shipment.created_at < _day_start(filters.created_to + timedelta(days=1)))
    return query.order_by(Shipment.created_at.desc(), Shipment.id.desc())


def shipment_by_number(number: str) -> Shipment:
    shipment = db.session.scalar(
        select(Shipment).where(Shipment.number == number).options(selectinload(Shipment.lines))
    )
    if shipment is None:
        raise NotFound("No such shipment.", code="shipment_not_found")
    return shipment


def order_shipments(order: Order) -> list[Shipment]:
    """The order's shipments, first one first."""
    return list(
        db.session.scalars(
            select(Shipment)
            .where(Shipment.order_id == order.id)
            .options(selectinload(Shipment.lines))
            .order_by(Shipment.sequence)
        )
    )


def carriers_in_use() -> list[str]:
    """The carriers shipments were sent with (the list's carrier filter offers these)."""
    query = select(Shipment.carrier).where(Shipment.carrier != "").group_by(Shipment.carrier).limit(100)
    return sorted(db.session.scalars(query), key=str.lower)


def reserved_by_location(reference: str) -> dict[tuple[int, int], int]:
    """{(variant id, location id): units} the reference (an order) holds reserved in the
    stock ledger, locations in picking order (position, then id)."""
    rows = db.session.execute(
        select(
            InventoryMovement.variant_id,
            InventoryMovement.location_id,
            func.sum(InventoryMovement.reserved_delta),
        )
        .join(StockLocation, StockLocation.id == InventoryMovement.location_id)
        .where(InventoryMovement.reference == reference)
        .group_by(
            InventoryMovement.variant_id,
            InventoryMovement.location_id,
            StockLocation.position,
        )
        .having(func.sum(InventoryMovement.reserved_delta) > 0)
        .order_by(StockLocation.position, InventoryMovement.location_id, InventoryMovement.variant_id)
    ).all()
    return {(variant_id, location_id): int(units) for variant_id, location_id, units in rows}


# ---- shipments as the pages and the API show them --------------------------------------------


@dataclass(frozen=True)
class ShipmentLineView:
    order_line_id: int
    sku: str
    name: str
    title: str
    quantity: int


@dataclass
class ShipmentView:
    """A shipment with what is shown beside it: its order's number, its location, its lines
    with SKU and name, and (for one shipment) its tracking events, newest first."""

    shipment: Shipment
    order_number: str
    location: StockLocation | None
    lines: list[ShipmentLineView]
    tracking_events: list[TrackingEvent] = field(default_factory=list)

    def __getattr__(self, name):
        if name == "shipment":
            raise AttributeError(name)
        return getattr(self.shipment, name)


def shipment_views(shipments: list[Shipment], *, with_events: bool = False) -> list[ShipmentView]:
    """Views of `shipments` with a fixed number of queries, however many there are."""
    if not shipments:
        return []
    order_numbers = dict(
        db.session.execute(
            select(Order.id, Order.number).where(Order.id.in_({s.order_id for s in shipments}))
        ).all()
    )
    locations = {
        location.id: location
        for location in db.session.scalars(
            select(StockLocation).where(StockLocation.id.in_({s.location_id for s in shipments}))
        )
    }
    line_ids = {line.order_line_id for s in shipments for line in s.lines}
    order_lines = (
        {line.id: line for line in db.session.scalars(select(OrderLine).where(OrderLine.id.in_(line_ids)))}
        if line_ids
        else {}
    )
    events: dict[int, list[TrackingEvent]] = {}
    if with_events:
        for event in db.session.scalars(
            select(TrackingEvent)
            .where(TrackingEvent.shipment_id.in_({s.id for s in shipments}))
            .order_by(TrackingEvent.occurred_at.desc(), TrackingEvent.id.desc())
        ):
            events.setdefault(event.shipment_id, []).append(event)
    return [
        ShipmentView(
            shipment=shipment,
            order_number=order_numbers.get(shipment.order_id, ""),
            location=locations.get(shipment.location_id),
            lines=[_line_view(line, order_lines.get(line.order_line_id)) for line in shipment.lines],
            tracking_events=events.get(shipment.id, []),
        )
        for shipment in shipments
    ]


def _line_view(line, order_line: OrderLine | None) -> ShipmentLineView:
    return ShipmentLineView(
        order_line_id=line.order_line_id,
        sku=order_line.sku if order_line else "",
        name=order_line.name if order_line else "",
        title=order_line.title if order_line else "",
        quantity=line.quantity,
    )
