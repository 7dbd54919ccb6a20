"""The signed-in customer's orders (/api/v1/store/me/orders), with a customer token.

A customer sees their own orders only: another customer's order, or a guest order placed
with the same email, is a 404 like a number that does not exist (never a 403, so order
numbers cannot be probed). The timeline shown to customers holds status changes only:
staff notes, hold reasons and payment details stay internal.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask.views import MethodView
from sqlalchemy import select

from app.blueprints.orders import order_queries, store_api_bp
from app.blueprints.orders.order_models import Order, OrderEvent
from app.blueprints.orders.order_schemas import CustomerOrderSchema, OrderSchema
from app.blueprints.orders.store_api import PROBLEM, calling_customer
from app.core.pagination import api_page
from app.core.permissions import require_customer
from app.extensions import db

bp = store_api_bp
BEARER = [{"bearerAuth": []}]
NUMBER = "string(maxlength=20)"
TIMELINE_LIMIT = 200


@dataclass(frozen=True)
class CustomerOrderView:
    """An order with the part of its timeline its customer may see."""

    order: Order
    timeline: list[OrderEvent]

    def __getattr__(self, name):
        # Everything else is the order's own: OrderSchema reads it from here.
        if name == "order":
            raise AttributeError(name)
        return getattr(self.order, name)


def status_timeline(order: Order) -> list[OrderEvent]:
    """Where the order went and when (placed, then each status change), oldest first."""
    return list(
        db.session.scalars(
            select(OrderEvent)
            .where(OrderEvent.order_id == order.id, OrderEvent.to_status.is_not(None))
            .order_by(OrderEvent.id)
            .limit(TIMELINE_LIMIT)
        )
    )


@bp.route("/me/orders")
class MyOrders(MethodView):
    @require_customer
    @bp.response(200, OrderSchema(many=True))
    @bp.alt_response(401, **PROBLEM, description="No valid customer token")
    @bp.alt_response(403, **PROBLEM, description="Not a customer token, or the account is blocked")
    @bp.paginate(page_size=20, max_page_size=100)
    @bp.doc(security=BEARER)
    def get(self, pagination_parameters):
        """My orders, newest first"""
        customer = calling_customer()
        return api_page(order_queries.customer_orders(customer.id), pagination_parameters)


@bp.route(f"/me/orders/<{NUMBER}:number>")
class MyOrder(MethodView):
    @require_customer
    @bp.response(200, CustomerOrderSchema)
    @bp.alt_response(401, **PROBLEM, description="No valid customer token")
    @bp.alt_response(403, **PROBLEM, description="Not a customer token, or the account is blocked")
    @bp.alt_response(404, **PROBLEM, description="No such order among mine")
    @bp.doc(security=BEARER)
    def get(self, number):
        """One of my orders, with its status history"""
        order = order_queries.customer_order(calling_customer().id, number)
        return CustomerOrderView(order, status_timeline(order))
