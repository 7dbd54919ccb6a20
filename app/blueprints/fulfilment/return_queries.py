"""Reading returns: the filtered queue (portal and staff API share it), one return (locked
for a change: its order row first), an order's and a customer's returns, what each line
of an order delivered, and the units its returns hold.

The queue's filters run on the returns' indexes: (status, requested_at) for the default
"needing action" view and the status filter, requested_at for the date range and the
sort, customer_id for a customer's returns; a search by order number or email goes
through the orders' unique number and email indexes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import Select, and_, func, not_, or_, select
from sqlalchemy.orm import selectinload

from app.blueprints.fulfilment.models import Refund, ReturnLine, ReturnRequest, Shipment, ShipmentLine
from app.blueprints.orders.order_models import Order, OrderEvent, OrderLine
from app.core.errors import NotFound
from app.core.timeutil import UTC, utcnow
from app.extensions import db

# An order marked delivered as a whole: its shipped units count as delivered.
DELIVERED_ORDER_STATUSES = ("delivered", "completed")


@dataclass(frozen=True)
class ReturnFilters:
    q: str = ""  # a return number, an order number (exact) or the start of the customer's email
    status: tuple[str, ...] = ()  # empty: any
    reason: str | None = None
    requested_from: date | None = None  # inclusive, UTC days
    requested_to: date | None = None  # inclusive
    customer_id: int | None = None


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def filtered_returns(filters: ReturnFilters) -> Select:
    """One SELECT of the returns matching every given filter, newest first (paginate it)."""
    query = select(ReturnRequest).options(selectinload(ReturnRequest.lines))
    q = filters.q.strip()
    if q:
        if q[:1] in ("R", "r") and q[1:2].isdigit():
            query = query.where(ReturnRequest.number == q.upper())
        else:
            matching_orders = select(Order.id).where(
                or_(Order.number == q, Order.email.startswith(q.lower(), autoescape=True))
            )
            query = query.where(ReturnRequest.order_id.in_(matching_orders))
    if filters.status:
        query = query.where(ReturnRequest.status.in_(filters.status))
    if filters.reason:
        query = query.where(ReturnRequest.reason == filters.reason)
    if filters.requested_from is not None:
        query = query.where(ReturnRequest.requested_at >= _day_start(filters.requested_from))
    if filters.requested_to is not None:
        query = query.where(ReturnRequest.requested_at < _day_start(filters.requested_to + timedelta(days=1)))
    if filters.customer_id is not None:
        query = query.where(ReturnRequest.customer_id == filters.customer_id)
    return query.order_by(ReturnRequest.requested_at.desc(), ReturnRequest.id.desc())


def return_by_number(number: str) -> ReturnRequest:
    ret = db.session.scalar(
        select(ReturnRequest).where(ReturnRequest.number == number).options(selectinload(ReturnRequest.lines))
    )
    if ret is None:
        raise NotFound("No such return.", code="return_not_found")
    return ret


def locked_return(number: str) -> ReturnRequest:
    """The return, read after its order row is locked (FOR UPDATE): every change of a
    return happens under that lock, so what is read here stays true until the commit."""
    order_id = db.session.scalar(select(ReturnRequest.order_id).where(ReturnRequest.number == number))
    if order_id is None:
        raise NotFound("No such return.", code="return_not_found")
    db.session.get(Order, order_id, with_for_update=True, populate_existing=True)
    return db.session.scalar(
        select(ReturnRequest)
        .where(ReturnRequest.number == number)
        .options(selectinload(ReturnRequest.lines))
        .execution_options(populate_existing=True)
    )


def count_order_returns(order_id: int) -> int:
    return db.session.scalar(select(func.count()).where(ReturnRequest.order_id == order_id))


def order_returns(order_id: int) -> list[ReturnRequest]:
    """An order's returns, oldest first."""
    return list(
        db.session.scalars(
            select(ReturnRequest)
            .where(ReturnRequest.order_id == order_id)
            .options(selectinload(ReturnRequest.lines))
            .order_by(ReturnRequest.id)
        )
    )


def customer_returns(customer_id: int) -> Select:
    return (
        select(ReturnRequest)
        .where(ReturnRequest.customer_id == customer_id)
        .options(selectinload(ReturnRequest.lines))
        .order_by(ReturnRequest.requested_at.desc(), ReturnRequest.id.desc())
    )


# ---- what an order delivered and what its returns hold ------------------------------------


def order_delivered_at(order: Order) -> datetime | None:
    """When the order as a whole was marked delivered (its newest `delivered` event)."""
    return db.session.scalar(
        select(func.max(OrderEvent.created_at)).where(
            OrderEvent.order_id == order.id, OrderEvent.to_status == "delivered"
        )
    )


def delivered_units(order: Order) -> dict[int, tuple[int, datetime | None]]:
    """{order line id: (units delivered, when its last delivered units arrived)}.

    Units of delivered shipments count, at the shipment's delivery. An order marked
    delivered as a whole counts its shipped units (the order's delivered event dates
    those no delivered shipment covers); one delivered before shipments were recorded
    has only that."""
    rows = db.session.execute(
        select(
            ShipmentLine.order_line_id,
            ShipmentLine.quantity,
            Shipment.status,
            func.coalesce(Shipment.delivered_at, Shipment.updated_at),
        )
        .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
        .where(Shipment.order_id == order.id)
    ).all()
    in_shipments: dict[int, int] = {}
    in_delivered: dict[int, int] = {}
    delivered_at: dict[int, datetime] = {}
    for line_id, quantity, status, at in rows:
        in_shipments[line_id] = in_shipments.get(line_id, 0) + quantity
        if status == "delivered":
            in_delivered[line_id] = in_delivered.get(line_id, 0) + quantity
            delivered_at[line_id] = max(at, delivered_at.get(line_id, at))
    whole_order_at = None
    if order.status in DELIVERED_ORDER_STATUSES:
        whole_order_at = order_delivered_at(order) or order.placed_at
    result: dict[int, tuple[int, datetime | None]] = {}
    for line in order.lines:
        units, at = in_delivered.get(line.id, 0), delivered_at.get(line.id)
        if whole_order_at is not None:
            shipped = max(line.shipped_quantity, in_shipments.get(line.id, 0))
            if shipped > units:
                units, at = shipped, max(filter(None, (at, whole_order_at)))
        units = min(units, line.quantity)
        result[line.id] = (units, at if units else None)
    return result


def holding_units():
    """Returns that hold their units: not rejected, and not closed before the goods came."""
    return and_(
        ReturnRequest.status != "rejected",
        not_(and_(ReturnRequest.status == "closed", ReturnRequest.received_at.is_(None))),
    )


def units_in_returns(order_id: int) -> dict[int, int]:
    """{order line id: units} in the order's returns that hold them."""
    return dict(
        db.session.execute(
            select(ReturnLine.order_line_id, func.sum(ReturnLine.quantity))
            .join(ReturnRequest, ReturnRequest.id == ReturnLine.return_id)
            .where(ReturnRequest.order_id == order_id, holding_units())
            .group_by(ReturnLine.order_line_id)
        ).all()
    )


@dataclass(frozen=True)
class ReturnableLine:
    """What one order line allows to be returned now."""

    line: OrderLine
    delivered: int  # units delivered
    in_returns: int  # units in the order's returns that still hold them
    delivered_at: datetime | None  # when the line's (last) units were delivered
    window_closes_at: datetime | None
    window_open: bool

    @property
    def order_line_id(self) -> int:
        return self.line.id

    @property
    def returnable(self) -> int:
        """Delivered units not in a return yet (the window aside)."""
        return max(0, self.delivered - self.in_returns)

    @property
    def can_return(self) -> bool:
        return self.window_open and self.returnable > 0


def window_days() -> int:
    return int(current_app.config["RETURN_WINDOW_DAYS"])


def returnable(order: Order, *, now: datetime | None = None) -> list[ReturnableLine]:
    """Per order line: delivered units, units in returns, and whether the window is open."""
    now = now or utcnow()
    window = timedelta(days=window_days())
    delivered = delivered_units(order)
    held = units_in_returns(order.id)
    result = []
    for line in order.lines:
        units, delivered_at = delivered.get(line.id, (0, None))
        closes = delivered_at + window if delivered_at is not None else None
        result.append(
            ReturnableLine(
                line=line,
                delivered=units,
                in_returns=held.get(line.id, 0),
                delivered_at=delivered_at,
                window_closes_at=closes,
                window_open=closes is not None and now <= closes,
            )
        )
    return result


# ---- returns as they are shown ------------------------------------------------------------


@dataclass(frozen=True)
class ReturnLineDetails:
    """A line of a return with what its order line says about the item."""

    line: ReturnLine
    order_line: OrderLine | None

    def __getattr__(self, name):
        if name in ("line", "order_line"):
            raise AttributeError(name)
        return getattr(self.line, name)

    @property
    def sku(self) -> str:
        return self.order_line.sku if self.order_line else ""

    @property
    def name(self) -> str:
        return self.order_line.name if self.order_line else ""

    @property
    def title(self) -> str:
        return self.order_line.title if self.order_line else ""


@dataclass(frozen=True)
class ReturnDetails:
    """A return with its order, its lines' items and what was refunded for it."""

    ret: ReturnRequest
    order: Order
    refunded_amount: Decimal
    lines: list[ReturnLineDetails] = field(default_factory=list)

    def __getattr__(self, name):
        if name in ("ret", "order", "refunded_amount", "lines"):
            raise AttributeError(name)
        return getattr(self.ret, name)

    @property
    def order_number(self) -> str:
        return self.order.number

    @property
    def email(self) -> str:
        return self.order.email

    @property
    def currency(self) -> str:
        return self.order.currency

    @property
    def rejection_reason(self) -> str | None:
        return self.ret.staff_note if self.ret.status == "rejected" else None


def refunded_amounts(return_ids: list[int]) -> dict[int, Decimal]:
    if not return_ids:
        return {}
    return dict(
        db.session.execute(
            select(Refund.return_id, func.sum(Refund.amount))
            .where(Refund.return_id.in_(return_ids))
            .group_by(Refund.return_id)
        ).all()
    )


def return_details(returns: list[ReturnRequest]) -> list[ReturnDetails]:
    """The returns with their orders (and lines) and refunds, in two statements."""
    order_ids = {ret.order_id for ret in returns}
    orders = (
        {
            order.id: order
            for order in db.session.scalars(
                select(Order).where(Order.id.in_(order_ids)).options(selectinload(Order.lines))
            )
        }
        if order_ids
        else {}
    )
    refunded = refunded_amounts([ret.id for ret in returns])
    details = []
    for ret in returns:
        order = orders[ret.order_id]
        order_lines = {line.id: line for line in order.lines}
        details.append(
            ReturnDetails(
                ret=ret,
                order=order,
                refunded_amount=refunded.get(ret.id, Decimal("0.00")),
                lines=[ReturnLineDetails(line, order_lines.get(line.order_line_id)) for line in ret.lines],
            )
        )
    return details


def details_of(ret: ReturnRequest) -> ReturnDetails:
    return return_details([ret])[0]


def return_history(ret: ReturnRequest, *, limit: int = 500) -> list[OrderEvent]:
    """The order's timeline entries about this return (its steps and its mails), oldest
    first. An order has few events: they are read and picked here, portably."""
    events = db.session.scalars(
        select(OrderEvent)
        .where(OrderEvent.order_id == ret.order_id, OrderEvent.kind.in_(("return", "email")))
        .order_by(OrderEvent.id)
        .limit(limit)
    )
    return [event for event in events if (event.data or {}).get("return") == ret.number]
