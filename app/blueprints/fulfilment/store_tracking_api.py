"""Order tracking for the storefront: `GET /api/v1/store/orders/{number}/tracking`.

Two ways in: the customer token of the order's owner, or `?token=` with the order's
tracking token (the link in the order's mails, for guests and for anyone the customer
forwards it to). Another customer's order, a wrong token and no credentials at all are
answered exactly like an order that does not exist (404), so numbers cannot be probed. A
bearer token that is sent must be valid (401 otherwise), as everywhere on the store API.

The answer carries an ETag (from `last_changed`) and `Cache-Control: private, no-cache`:
a storefront polling for news sends `If-None-Match` and gets a bodiless 304 while nothing
changed. Rate limited per client IP with the other public store reads
(`STORE_API_RATE_LIMIT`).
"""

from __future__ import annotations

from copy import deepcopy

from flask import current_app, request
from flask.views import MethodView

from app.blueprints.fulfilment import store_api_bp, tracking_queries
from app.blueprints.fulfilment.tracking_schemas_store import OrderTrackingSchema, TrackingQuerySchema
from app.blueprints.orders.store_api import (
    PROBLEM,
    UNAUTHENTICATED,
    calling_customer,
    customer_token_optional,
)
from app.core.permissions import public
from app.core.store_rate_limit import store_reads_limit

bp = store_api_bp
NUMBER = "string(maxlength=20)"
CACHE_CONTROL = "private, no-cache"
NOT_FOUND = (
    "No such order, or not yours: another customer's order, a wrong or missing token "
    "(`order_not_found`, the same answer for all)"
)


def documented_etag(view):
    """Document the ETag header, If-None-Match and the 304 as flask-smorest documents its
    own ETag feature (this view computes its tag from `last_changed` itself)."""
    view._apidoc = deepcopy(getattr(view, "_apidoc", {}))
    view._apidoc["etag"] = True
    return view


def conditional(tracking: tracking_queries.OrderTracking):
    """A bodiless 304 when the caller's If-None-Match names the current tag, else None."""
    if tracking.etag not in request.if_none_match:
        return None
    response = current_app.response_class(status=304)
    response.set_etag(tracking.etag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


@bp.route(f"/orders/<{NUMBER}:number>/tracking")
class OrderTrackingResource(MethodView):
    @public
    @customer_token_optional
    @store_reads_limit
    @documented_etag
    @bp.arguments(TrackingQuerySchema, location="query", as_kwargs=True)
    @bp.response(200, OrderTrackingSchema)
    @bp.alt_response(401, **PROBLEM, description=UNAUTHENTICATED)
    @bp.alt_response(403, **PROBLEM, description="The customer's account is blocked")
    @bp.alt_response(404, **PROBLEM, description=NOT_FOUND)
    @bp.alt_response(422, **PROBLEM, description="A token that is empty or too long")
    @bp.alt_response(429, **PROBLEM, description="Too many requests (see Retry-After)")
    @bp.doc(security=[{}, {"bearerAuth": []}])
    def get(self, number, token=None):
        """Where an order is: status, parcels, tracking events, estimated delivery

        For the order's customer (customer token) or whoever holds its tracking link
        (`token`). Poll with `If-None-Match`: 304 while nothing changed."""
        customer = calling_customer()
        order = tracking_queries.order_for_tracking(
            number, customer_id=customer.id if customer is not None else None, token=token
        )
        tracking = tracking_queries.order_tracking(order)
        not_modified = conditional(tracking)
        if not_modified is not None:
            return not_modified
        return tracking, {"ETag": f'"{tracking.etag}"', "Cache-Control": CACHE_CONTROL}
