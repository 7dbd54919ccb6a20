"""Staff returns API (/api/v1/admin): the queue with filters, one return, what an order
allows to be returned, opening a return for a customer, and the steps of each return.

Reads need fulfilment.read; opening a return and every step need returns.manage. Each
step is its own endpoint (`POST /returns/{number}/approve|reject|receive|close`), one use
case in one transaction with the order row locked (FOR UPDATE), so two staff members (or
a double click) can never receive, and restock, the same return twice: the second is a
409 `invalid_transition`. Refunds for a return are made through the refunds endpoints
(orders.refund), which move the return to `refunded`.
"""

from __future__ import annotations

from collections.abc import Callable

import marshmallow as ma
from flask import url_for
from flask.views import MethodView
from flask_login import current_user

from app.blueprints.fulfilment import FULFILMENT_READ, RETURNS_MANAGE, api_bp, return_queries, returns
from app.blueprints.fulfilment.return_schemas import (
    ReturnableSchema,
    ReturnableView,
    ReturnApproveSchema,
    ReturnCloseSchema,
    ReturnFilterSchema,
    ReturnReceiveSchema,
    ReturnRejectSchema,
    ReturnRequestInputSchema,
    StaffReturnSchema,
)
from app.blueprints.orders import order_queries
from app.blueprints.orders.store_api import PROBLEM
from app.core import idempotency
from app.core.pagination import api_page
from app.core.permissions import require_permission
from app.core.transaction import transaction

BEARER = [{"bearerAuth": []}]
ORDER_NUMBER = "string(maxlength=20)"
RETURN_NUMBER = "string(maxlength=30)"
NO_RETURN = "No such return"
NO_ORDER = "No such order"
NOT_NOW = "The return's state does not allow it (`invalid_transition`)"
INVALID = "Invalid fields (`errors` names them: `lines.<order_line_id>` from the rules)"
IDEMPOTENCY_KEY = idempotency.openapi_header(required=False)
STAFF_SCHEMA = StaffReturnSchema()


def acting_staff():
    return current_user._get_current_object()


@api_bp.route("/returns")
class StaffReturns(MethodView):
    @require_permission(FULFILMENT_READ)
    @api_bp.arguments(ReturnFilterSchema, location="query")
    @api_bp.response(200, StaffReturnSchema(many=True))
    @api_bp.alt_response(422, **PROBLEM, description="A filter value is not valid (`errors` names it)")
    @api_bp.paginate(page_size=25, max_page_size=100)
    @api_bp.doc(security=BEARER)
    def get(self, filters, pagination_parameters):
        """Returns, newest first [fulfilment.read]

        Filters combine (AND): `status` takes several values (none: any status; the portal's
        queue shows requested and approved by default), `reason`, `requested_from` and
        `requested_to` are UTC days (inclusive), `q` a return number, an order number or
        the start of the customer's email, `customer_id` one customer's returns."""
        page = api_page(return_queries.filtered_returns(filters), pagination_parameters)
        return return_queries.return_details(page)


@api_bp.route(f"/returns/<{RETURN_NUMBER}:number>")
class StaffReturnItem(MethodView):
    @require_permission(FULFILMENT_READ)
    @api_bp.response(200, StaffReturnSchema)
    @api_bp.alt_response(404, **PROBLEM, description=NO_RETURN)
    @api_bp.doc(security=BEARER)
    def get(self, number):
        """One return [fulfilment.read]"""
        return return_queries.details_of(return_queries.return_by_number(number))


@api_bp.route(f"/orders/<{ORDER_NUMBER}:number>/returnable")
class StaffOrderReturnable(MethodView):
    @require_permission(FULFILMENT_READ)
    @api_bp.response(200, ReturnableSchema)
    @api_bp.alt_response(404, **PROBLEM, description=NO_ORDER)
    @api_bp.doc(security=BEARER)
    def get(self, number):
        """What each line of an order allows to be returned [fulfilment.read]"""
        order = order_queries.order_by_number(number)
        return ReturnableView(order.number, returns.window_days(), returns.returnable(order))


@api_bp.route(f"/orders/<{ORDER_NUMBER}:number>/returns")
class StaffOrderReturns(MethodView):
    @require_permission(FULFILMENT_READ)
    @api_bp.response(200, StaffReturnSchema(many=True))
    @api_bp.alt_response(404, **PROBLEM, description=NO_ORDER)
    @api_bp.doc(security=BEARER)
    def get(self, number):
        """The returns of an order, oldest first [fulfilment.read]"""
        order = order_queries.order_by_number(number)
        return return_queries.return_details(return_queries.order_returns(order.id))

    @require_permission(RETURNS_MANAGE)
    @api_bp.arguments(ReturnRequestInputSchema)
    @api_bp.response(201, StaffReturnSchema)
    @api_bp.alt_response(404, **PROBLEM, description=NO_ORDER)
    @api_bp.alt_response(
        409,
        **PROBLEM,
        description="not_delivered, return_window_closed, or a request with this Idempotency-Key "
        "is still running",
    )
    @api_bp.alt_response(422, **PROBLEM, description=INVALID)
    @api_bp.doc(security=BEARER, parameters=[IDEMPOTENCY_KEY])
    def post(self, body, number):
        """Open a return for the customer [returns.manage]

        The same rules as the customer's own request (delivered units, within the window,
        not in another return). `note` is internal: it is kept as the staff note."""
        order_queries.order_by_number(number)  # a 404 before a key is claimed
        claim = idempotency.claim(
            f"admin-returns:{current_user.id}", idempotency.key_from_request(required=False)
        )
        if claim.replay is not None:
            return claim.replay
        try:
            ret = _opened_return(claim, number, body)
        except BaseException:
            claim.release()
            raise
        body = STAFF_SCHEMA.dump(return_queries.details_of(ret))
        location = url_for("fulfilment_api.StaffReturnItem", number=ret.number)
        return claim.complete(body, 201, {"Location": location})


def _opened_return(claim: idempotency.Claim, number: str, body: dict):
    if claim.resource:  # the first attempt made it and died before answering
        return return_queries.return_by_number(claim.resource)
    with transaction():
        order = order_queries.order_by_number(number, for_update=True)
        ret = returns.request_return(
            order,
            lines=body["lines"],
            reason=body["reason"],
            note=body["note"],
            actor=acting_staff(),
            opened_by_staff=True,
        )
        claim.attach(ret.number)
    return ret


# ---- the steps ---------------------------------------------------------------------------


def run_step(number: str, step: Callable[[object, object], object]):
    with transaction():
        ret = return_queries.locked_return(number)
        step(ret, acting_staff())
    return return_queries.details_of(return_queries.return_by_number(number))


def register_step(
    name: str,
    body: type[ma.Schema],
    summary: str,
    description: str,
    step: Callable[[object, object, dict], object],
) -> None:
    """`POST /returns/{number}/{name}` [returns.manage]."""

    def post(self, data, number):
        return run_step(number, lambda ret, actor: step(ret, actor, data))

    view = api_bp.doc(security=BEARER, summary=f"{summary} [{RETURNS_MANAGE}]", description=description)(post)
    view = api_bp.alt_response(404, **PROBLEM, description=NO_RETURN)(view)
    view = api_bp.alt_response(409, **PROBLEM, description=NOT_NOW)(view)
    view = api_bp.alt_response(422, **PROBLEM, description=INVALID)(view)
    view = api_bp.response(200, StaffReturnSchema)(view)
    view = api_bp.arguments(body)(view)
    view = require_permission(RETURNS_MANAGE)(view)
    view_class = type(f"StaffReturn{name.title()}", (MethodView,), {"post": view, "__doc__": summary})
    api_bp.route(f"/returns/<{RETURN_NUMBER}:number>/{name}")(view_class)


register_step(
    "approve",
    ReturnApproveSchema,
    "Approve a requested return",
    "requested -> approved: the customer is mailed how to send the goods back.",
    lambda ret, actor, data: returns.approve(ret, actor=actor, note=data["note"]),
)
register_step(
    "reject",
    ReturnRejectSchema,
    "Reject a requested return",
    "requested -> rejected; `reason` is required and mailed to the customer.",
    lambda ret, actor, data: returns.reject(ret, actor=actor, reason=data["reason"]),
)
register_step(
    "receive",
    ReturnReceiveSchema,
    "Receive and inspect an approved return",
    "approved -> received. Per line, restocked and written-off units add up to the units "
    "returned; restocked units go back on the shelf at `location_id` through the stock ledger "
    "(reference `return:<id>`), written-off units are recorded with their reason. A second "
    "receipt is a 409, so nothing is restocked twice.",
    lambda ret, actor, data: returns.receive(
        ret, actor=actor, inspections=data["inspections"], location_id=data["location_id"]
    ),
)
register_step(
    "close",
    ReturnCloseSchema,
    "Close a return without a refund",
    "received -> closed (exchanged, or nothing is owed) or approved -> closed (the goods never "
    "came back: the units may be asked for again within the window). `note` is required.",
    lambda ret, actor, data: returns.close(ret, actor=actor, note=data["note"]),
)
