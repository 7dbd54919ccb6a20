"""The customer's orders on the customer timeline (kind "order"), with a link to each
order and to the list of all of them, for staff who may read orders.

Registered with customers' timeline registry at import: customers never import orders.
An entry is the order as placed (its time is `placed_at`), showing its number, total and
current status; the branch runs on the orders' (customer_id, placed_at) index.
"""

from __future__ import annotations

from flask import url_for
from sqlalchemy import select

from app.blueprints.customers.timeline import TimelineSource, register_timeline_source
from app.blueprints.orders import ORDERS_READ
from app.blueprints.orders.order_models import Order
from app.extensions import db

# After the customers' own sources (1..3): an order and an interaction of one instant
# show the order first.
ORDER_SOURCE = 4


def orders_by_id(ids: list[int]) -> dict[int, Order]:
    return {order.id: order for order in db.session.scalars(select(Order).where(Order.id.in_(ids)))}


def order_page(order: Order) -> str:
    return url_for("orders.order", number=order.number)


def customer_orders_page(customer_id: int) -> str:
    return url_for("orders.list", customer=customer_id)


register_timeline_source(
    TimelineSource(
        number=ORDER_SOURCE,
        kind="order",
        label="Order",
        model=Order,
        customer_column=Order.customer_id,
        time_column=Order.placed_at,
        template="customers/timeline/_order.html",
        load=orders_by_id,
        permission=ORDERS_READ,
        url=order_page,
        list_url=customer_orders_page,
        list_label="All orders",
    )
)
