"""Reading orders: the filtered list (portal and staff API share it), one order with what
its page shows, a customer's own orders.

Every filter the list offers has an index (see `Order.__table_args__`): status, payment
status and customer each lead a composite index with `placed_at`, the default sort.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from app.blueprints.orders.order_models import Order, OrderEvent
from app.blueprints.orders.payment_models import Payment
from app.core.errors import NotFound
from app.core.timeutil import UTC
from app.extensions import db

SORTS = {
    "newest": (Order.placed_at.desc(), Order.id.desc()),
    "oldest": (Order.placed_at.asc(), Order.id.asc()),
    "total_desc": (Order.total.desc(), Order.id.desc()),
    "total_asc": (Order.total.asc(), Order.id.asc()),
}


@dataclass(frozen=True)
class OrderFilters:
    q: str = ""  # order number (exact) or customer email (prefix)
    status: tuple[str, ...] = ()
    payment_status: tuple[str, ...] = ()
    customer_id: int | None = None
    placed_from: date | None = None  # inclusive, UTC days
    placed_to: date | None = None  # inclusive
    min_total: Decimal | None = None
    max_total: Decimal | None = None
    channel: str | None = None
    sort: str = "newest"


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def filtered_orders(filters: OrderFilters) -> Select:
    """One SELECT of orders matching every given filter, sorted (paginate it)."""
    query = select(Order)
    q = filters.q.strip()
    if q:
        if q.isdigit():
            query = query.where(Order.number == q)
        else:
            query = query.where(or_(Order.email.startswith(q.lower(), autoescape=True), Order.number == q))
    if filters.status:
        query = query.where(Order.status.in_(filters.status))
    if filters.payment_status:
        query = query.where(Order.payment_status.in_(filters.payment_status))
    if filters.customer_id is not None:
        query = query.where(Order.customer_id == filters.customer_id)
    if filters.placed_from is not None:
        query = query.where(Order.placed_at >= _day_start(filters.placed_from))
    if filters.placed_to is not None:
        query = query.where(Order.placed_at < _day_start(filters.placed_to + timedelta(days=1)))
    if filters.min_total is not None:
        query = query.where(Order.total >= filters.min_total)
    if filters.max_total is not None:
        query = query.where(Order.total <= filters.max_total)
    if filters.channel:
        query = query.where(Order.channel == filters.channel)
    return query.order_by(*SORTS.get(filters.sort, SORTS["newest"]))


def order_by_number(number: str, *, for_update: bool = False) -> Order:
    query = select(Order).where(Order.number == number).options(selectinload(Order.lines))
    if for_update:
        query = query.with_for_update()
    order = db.session.scalar(query)
    if order is None:
        raise NotFound("No such order.", code="order_not_found")
    return order


def order_by_reference(reference: str | None) -> Order | None:
    """The order named by its reference ("order:1042", `Order.reference`), as stock movements
    and idempotency keys record it; None for anything else."""
    kind, _, order_id = (reference or "").partition(":")
    if kind != "order" or not order_id.isdigit():
        return None
    return db.session.get(Order, int(order_id))


def customer_order(customer_id: int, number: str) -> Order:
    """A customer's own order; another customer's is as unknown as a missing one."""
    order = db.session.scalar(
        select(Order)
        .where(Order.number == number, Order.customer_id == customer_id)
        .options(selectinload(Order.lines))
    )
    if order is None:
        raise NotFound("No such order.", code="order_not_found")
    return order


def customer_orders(customer_id: int) -> Select:
    return (
        select(Order)
        .where(Order.customer_id == customer_id)
        .options(selectinload(Order.lines))
        .order_by(Order.placed_at.desc(), Order.id.desc())
    )


def order_timeline(order: Order, *, limit: int = 200) -> list[OrderEvent]:
    """The newest `limit` timeline entries, oldest first."""
    newest = db.session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id.desc()).limit(limit)
    ).all()
    return list(reversed(newest))


def order_payments(order: Order) -> list[Payment]:
    return list(
        db.session.scalars(
            select(Payment)
            .where(Payment.order_id == order.id)
            .options(selectinload(Payment.transactions))
            .order_by(Payment.id)
        )
    )
