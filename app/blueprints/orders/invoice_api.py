"""Invoice PDFs over the API: staff (`/api/v1/admin`, scope orders.read), the customer
behind a customer token, and guests holding the order's tracking token.

Ownership is checked on every customer-facing read: another customer's order and a
wrong tracking token are answered exactly like an order that does not exist (404). An
order without an invoice (not paid) is a 404 `invoice_not_found`; an invoice whose PDF is
still being rendered a 409 `invoice_not_ready` (retry shortly). The PDF comes as a
download, `Cache-Control: private, no-store`.
"""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import select

from app.blueprints.orders import (
    ORDERS_READ,
    api_bp,
    checkout,
    invoice_rendering,
    order_queries,
    store_api_bp,
)
from app.blueprints.orders.order_models import Order
from app.blueprints.orders.store_api import (
    PROBLEM,
    UNAUTHENTICATED,
    calling_customer,
    customer_token_optional,
)
from app.core.errors import NotFound
from app.core.permissions import public, require_customer, require_permission
from app.core.store_rate_limit import store_reads_limit
from app.extensions import db

BEARER = [{"bearerAuth": []}]
PDF = {"type": "string", "format": "binary"}
PDF_DOWNLOAD = {
    "content_type": invoice_rendering.PDF_CONTENT_TYPE,
    "description": "The invoice PDF, as a download named invoice-<order number>.pdf",
    "headers": {
        "Content-Disposition": {"schema": {"type": "string"}, "description": 'attachment; filename="..."'},
    },
}
NO_INVOICE = "No such order, or the order has no invoice (not paid yet): `invoice_not_found`"
NOT_READY = "The invoice is issued but its PDF is still being rendered (`invoice_not_ready`): retry shortly"


class TrackingTokenQuerySchema(ma.Schema):
    token = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=200),
        metadata={"description": "The order's tracking token (from the order confirmation link)"},
    )


@api_bp.route("/orders/<number>/invoice")
class AdminOrderInvoice(MethodView):
    @require_permission(ORDERS_READ)
    @api_bp.response(200, PDF, **PDF_DOWNLOAD)
    @api_bp.alt_response(401, **PROBLEM, description="No or bad credentials")
    @api_bp.alt_response(403, **PROBLEM, description="The token lacks the orders.read scope")
    @api_bp.alt_response(404, **PROBLEM, description=NO_INVOICE)
    @api_bp.alt_response(409, **PROBLEM, description=NOT_READY)
    @api_bp.doc(security=BEARER)
    def get(self, number):
        """The invoice PDF of an order"""
        return invoice_rendering.download_response(order_queries.order_by_number(number))


@store_api_bp.route("/me/orders/<number>/invoice")
class MyOrderInvoice(MethodView):
    @require_customer
    @store_api_bp.response(200, PDF, **PDF_DOWNLOAD)
    @store_api_bp.alt_response(401, **PROBLEM, description="No or bad customer token")
    @store_api_bp.alt_response(403, **PROBLEM, description="Not a customer token, or the account is blocked")
    @store_api_bp.alt_response(
        404, **PROBLEM, description=NO_INVOICE + " (also for another customer's order)"
    )
    @store_api_bp.alt_response(409, **PROBLEM, description=NOT_READY)
    @store_api_bp.doc(security=BEARER)
    def get(self, number):
        """The invoice PDF of one of my orders"""
        customer = calling_customer()
        return invoice_rendering.download_response(order_queries.customer_order(customer.id, number))


@store_api_bp.route("/orders/<number>/invoice")
class TrackedOrderInvoice(MethodView):
    @public
    @customer_token_optional
    @store_reads_limit
    @store_api_bp.arguments(TrackingTokenQuerySchema, location="query", as_kwargs=True)
    @store_api_bp.response(200, PDF, **PDF_DOWNLOAD)
    @store_api_bp.alt_response(401, **PROBLEM, description=UNAUTHENTICATED)
    @store_api_bp.alt_response(404, **PROBLEM, description=NO_INVOICE + " (also for a wrong token)")
    @store_api_bp.alt_response(409, **PROBLEM, description=NOT_READY)
    @store_api_bp.alt_response(422, **PROBLEM, description="No token given")
    @store_api_bp.alt_response(429, **PROBLEM, description="Too many requests (see Retry-After)")
    @store_api_bp.doc(security=[{}])
    def get(self, number, token):
        """The invoice PDF of an order, for the holder of its tracking link

        For guests: `token` is the tracking token the order confirmation links with. A
        wrong token is answered like an order that does not exist."""
        order = db.session.scalar(select(Order).where(Order.number == number))
        # Compared in constant time; a miss looks the same as an unknown order. Tokens are
        # URL-safe ASCII (compare_digest refuses to compare non-ASCII strings at all).
        if order is None or not token.isascii() or not checkout.tracking_token_matches(order, token):
            raise NotFound("No such order.", code="order_not_found")
        return invoice_rendering.download_response(order)
