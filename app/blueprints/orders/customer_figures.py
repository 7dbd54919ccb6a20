"""Customers' purchase figures, kept current from their orders.

An order counts once it is paid and stops counting when cancelled (`counts_as_purchase`);
what it adds to total spent is the money kept: paid minus refunded. When an order of a
customer is paid, cancelled or refunded, a job sums that one customer's counted orders in
one aggregate query and hands the sums to customers (`purchase_figures.set_purchase_figures`),
which derives the rest. Nobody's figures are recomputed for everyone; guest orders (no
customer) change nothing. Placing an order changes no figure: it counts once paid.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, func, select

from app.blueprints.customers import purchase_figures
from app.blueprints.customers.purchase_figures import PurchaseTotals
from app.blueprints.orders.order_models import Order
from app.core.events import Event, subscribe
from app.core.jobs import enqueue
from app.core.transaction import transaction
from app.extensions import db

log = logging.getLogger(__name__)

# The order events that change what a customer's orders add up to.
FIGURE_EVENTS = ("order.paid", "order.cancelled", "order.refunded")


def counts_as_purchase() -> ColumnElement[bool]:
    """An order that counts in the purchase figures and "bought" segment rules: paid at some
    point and not cancelled (a cancelled paid order is refunded in full)."""
    return and_(Order.paid_at.is_not(None), Order.status != "cancelled")


def purchase_totals(customer_id: int) -> PurchaseTotals:
    """What the customer's counted orders add up to, in one aggregate query (served by
    the orders' (customer_id, placed_at) index)."""
    row = db.session.execute(
        select(
            func.count(Order.id).label("order_count"),
            func.coalesce(func.sum(Order.amount_paid - Order.amount_refunded), 0).label("total_spent"),
            func.min(Order.placed_at).label("first_order_at"),
            func.max(Order.placed_at).label("last_order_at"),
        ).where(Order.customer_id == customer_id, counts_as_purchase())
    ).one()
    return PurchaseTotals(
        order_count=row.order_count,
        total_spent=Decimal(str(row.total_spent)),
        first_order_at=row.first_order_at,
        last_order_at=row.last_order_at,
    )


def refresh_purchase_figures(customer_id: int) -> None:
    """Recompute one customer's figures from their orders (the customer's row locked
    first, so concurrent refreshes of one customer cannot write stale sums)."""
    customer = purchase_figures.customer_for_update(customer_id)
    if customer is None:
        return
    purchase_figures.set_purchase_figures(customer, purchase_totals(customer_id))


def refresh_figures_of_order(order_id: int) -> None:
    """Job: refresh the figures of the order's customer (idempotent; nothing for a guest)."""
    with transaction():
        customer_id = db.session.scalar(select(Order.customer_id).where(Order.id == order_id))
        if customer_id is not None:
            refresh_purchase_figures(customer_id)


@subscribe("order.paid")
@subscribe("order.cancelled")
@subscribe("order.refunded")
def order_money_changed(event: Event) -> None:
    enqueue(refresh_figures_of_order, event.payload["order_id"], queue="default")
