"""Returns on the storefront API (/api/v1/store): what an order allows to be returned,
asking for a return, and the customer's returns.

Who may ask: the customer behind a customer token, for their own orders, or whoever holds
the order's tracking link (`?token=`, as the order mails carry it), which is how guests
return. Another customer's order, and a wrong token, are a 404 like an order that does not
exist (order numbers cannot be probed); no credentials at all are a 401. `/me/returns`
needs a customer token. The request locks the order row (FOR UPDATE) while it checks the
quantities, so two requests at once can never return the same units; an optional
`Idempotency-Key` makes a retried request answer the first return instead of asking again.
"""

from __future__ import annotations

from flask import url_for
from flask.views import MethodView
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.blueprints.fulfilment import return_queries, returns, store_api_bp
from app.blueprints.fulfilment.return_schemas import (
    CustomerReturnSchema,
    ReturnableSchema,
    ReturnableView,
    ReturnRequestInputSchema,
    ReturnTokenQuerySchema,
)
from app.blueprints.orders import checkout
from app.blueprints.orders.checkout_api import GuestShopper
from app.blueprints.orders.order_models import Order
from app.blueprints.orders.store_api import PROBLEM, calling_customer, customer_token_optional
from app.core import idempotency
from app.core.errors import NotFound, error_response
from app.core.pagination import api_page
from app.core.permissions import public, require_customer
from app.core.store_rate_limit import store_reads_limit
from app.core.transaction import transaction
from app.extensions import db

bp = store_api_bp
NUMBER = "string(maxlength=20)"
CREDENTIALS = [{}, {"bearerAuth": []}]
NOT_FOUND = "No such order among yours, or a wrong tracking token"
NO_CREDENTIALS = (
    "Neither a customer token nor the order's tracking token, or a bearer token that is not valid"
)
IDEMPOTENCY_KEY = idempotency.openapi_header(required=False)
CUSTOMER_SCHEMA = CustomerReturnSchema()


class NoCredentials(Exception):
    """Neither a customer token nor a tracking token came with the request."""


def caller_order(number: str, token: str | None, *, for_update: bool = False) -> Order:
    """The order, if the caller may act on it: it is the token customer's own, or the
    request carries its tracking token. Anything else reads as a missing order."""
    customer = calling_customer()  # refuses a blocked customer
    if customer is None and not token:
        raise NoCredentials
    query = select(Order).where(Order.number == number).options(selectinload(Order.lines))
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    order = db.session.scalar(query)
    if order is not None:
        if customer is not None and order.customer_id == customer.id:
            return order
        # Compared in constant time; tokens are URL-safe ASCII (compare_digest refuses others).
        if token and token.isascii() and checkout.tracking_token_matches(order, token):
            return order
    raise NotFound("No such order.", code="order_not_found")


def acting_shopper(order: Order):
    """The customer when it is their order, else the holder of its tracking link."""
    customer = calling_customer()
    if customer is not None and order.customer_id == customer.id:
        return customer
    return GuestShopper(order.email)


def no_credentials():
    return error_response(
        401,
        detail="Send a customer token, or the order's tracking token as `token`.",
        code="unauthenticated",
        headers={"WWW-Authenticate": 'Bearer realm="api"'},
    )


def returnable_view(order: Order) -> ReturnableView:
    return ReturnableView(order.number, returns.window_days(), returns.returnable(order))


@bp.route(f"/orders/<{NUMBER}:number>/returnable")
class OrderReturnable(MethodView):
    @public
    @customer_token_optional
    @store_reads_limit
    @bp.arguments(ReturnTokenQuerySchema, location="query", as_kwargs=True)
    @bp.response(200, ReturnableSchema)
    @bp.alt_response(401, **PROBLEM, description=NO_CREDENTIALS)
    @bp.alt_response(404, **PROBLEM, description=NOT_FOUND)
    @bp.alt_response(422, **PROBLEM, description="A malformed token")
    @bp.alt_response(429, **PROBLEM, description="Too many requests (see Retry-After)")
    @bp.doc(security=CREDENTIALS)
    def get(self, number, token=None):
        """What can be returned, per line of the order

        For the return form: per line the units delivered, in returns already and still
        returnable, and whether the return window is open; the reasons a return may give."""
        try:
            return returnable_view(caller_order(number, token))
        except NoCredentials:
            return no_credentials()


@bp.route(f"/orders/<{NUMBER}:number>/returns")
class OrderReturns(MethodView):
    @public
    @customer_token_optional
    @store_reads_limit
    @bp.arguments(ReturnTokenQuerySchema, location="query", as_kwargs=True)
    @bp.response(200, CustomerReturnSchema(many=True))
    @bp.alt_response(401, **PROBLEM, description=NO_CREDENTIALS)
    @bp.alt_response(404, **PROBLEM, description=NOT_FOUND)
    @bp.alt_response(422, **PROBLEM, description="A malformed token")
    @bp.alt_response(429, **PROBLEM, description="Too many requests (see Retry-After)")
    @bp.doc(security=CREDENTIALS)
    def get(self, number, token=None):
        """The returns of an order, oldest first"""
        try:
            order = caller_order(number, token)
        except NoCredentials:
            return no_credentials()
        return return_queries.return_details(return_queries.order_returns(order.id))

    @public
    @customer_token_optional
    @store_reads_limit
    @bp.arguments(ReturnTokenQuerySchema, location="query", as_kwargs=True)
    @bp.arguments(ReturnRequestInputSchema)
    @bp.response(201, CustomerReturnSchema)
    @bp.alt_response(401, **PROBLEM, description=NO_CREDENTIALS)
    @bp.alt_response(404, **PROBLEM, description=NOT_FOUND)
    @bp.alt_response(
        409,
        **PROBLEM,
        description="not_delivered (nothing delivered yet), return_window_closed (`errors` names the "
        "lines), or a request with this Idempotency-Key is still running",
    )
    @bp.alt_response(
        422,
        **PROBLEM,
        description="Invalid fields: `lines.<order_line_id>` for an item not on the order, not "
        "delivered or more units than returnable; `lines.<index>.<field>` for the body's shape",
    )
    @bp.alt_response(429, **PROBLEM, description="Too many requests (see Retry-After)")
    @bp.doc(security=CREDENTIALS, parameters=[IDEMPOTENCY_KEY])
    def post(self, body, number, token=None):
        """Ask for a return

        Delivered units of the order, within the return window, with a reason. Answers the
        return (status `requested`); the customer is mailed, and staff approve or reject it."""
        try:
            caller_order(number, token)  # who may ask, before a key is claimed
        except NoCredentials:
            return no_credentials()
        claim = idempotency.claim(f"store-returns:{number}", idempotency.key_from_request(required=False))
        if claim.replay is not None:
            return claim.replay
        try:
            ret = _requested_return(claim, number, token, body)
        except BaseException:
            claim.release()
            raise
        location = url_for("store_fulfilment_api.OrderReturns", number=number)
        return claim.complete(
            CUSTOMER_SCHEMA.dump(return_queries.details_of(ret)), 201, {"Location": location}
        )


def _requested_return(claim: idempotency.Claim, number: str, token: str | None, body: dict):
    if claim.resource:  # the first attempt made it and died before answering
        return return_queries.return_by_number(claim.resource)
    with transaction():
        order = caller_order(number, token, for_update=True)
        ret = returns.request_return(
            order,
            lines=body["lines"],
            reason=body["reason"],
            note=body["note"],
            actor=acting_shopper(order),
            opened_by_staff=False,
        )
        claim.attach(ret.number)
    return ret


@bp.route("/me/returns")
class MyReturns(MethodView):
    @require_customer
    @bp.response(200, CustomerReturnSchema(many=True))
    @bp.alt_response(401, **PROBLEM, description="No valid customer token")
    @bp.alt_response(403, **PROBLEM, description="Not a customer token, or the account is blocked")
    @bp.paginate(page_size=20, max_page_size=100)
    @bp.doc(security=[{"bearerAuth": []}])
    def get(self, pagination_parameters):
        """My returns, newest first"""
        customer = calling_customer()
        page = api_page(return_queries.customer_returns(customer.id), pagination_parameters)
        return return_queries.return_details(page)
