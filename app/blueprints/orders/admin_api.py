"""Staff orders API (/api/v1/admin/orders): the filtered list, one order with its payments,
timeline and invoice, phone orders, the staff actions of the order lifecycle and notes.

Bearer tokens carry permission codes as scopes: reads need orders.read; phone orders,
moving an order through its states and notes orders.manage; mark_paid and capture
orders.payments; cancelling an order that holds captured money also orders.refund
(the refund is part of the cancellation). Each action is its own endpoint
(`POST /orders/{number}/actions/{action}`), so the permission of each is declared on it
and stated in the OpenAPI document; an unknown action is a 404. Shipping is not an action
here: fulfilment's shipments (`POST /orders/{number}/shipments`) move the stock and the
order together.

Every change runs as one use case in one transaction with the order locked (FOR UPDATE).
The requests that move money (phone orders, mark_paid, capture, cancel) accept an
optional `Idempotency-Key` (app/core/idempotency.py): a replay answers the first
response with `Idempotent-Replayed: true` instead of doing the work again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import marshmallow as ma
from flask import Response, url_for
from flask.views import MethodView
from flask_login import current_user
from sqlalchemy import select

from app.blueprints.auth.models import User
from app.blueprints.customers import services as customer_services
from app.blueprints.orders import (
    ORDERS_MANAGE,
    ORDERS_READ,
    ORDERS_REFUND,
    api_bp,
    invoices,
    lifecycle,
    order_queries,
    payments,
    phone_orders,
)
from app.blueprints.orders.admin_schemas import (
    ActionNoteSchema,
    ActionReasonSchema,
    CaptureSchema,
    MarkPaidSchema,
    NoteCreateSchema,
    OrderEventSchema,
    OrderFilterSchema,
    PhoneOrderCreateSchema,
    StaffOrderSchema,
    StaffOrderSummarySchema,
    StaffOrderView,
)
from app.blueprints.orders.checkout_api import start_payment_after_checkout
from app.blueprints.orders.order_models import Order, OrderEvent
from app.blueprints.orders.store_api import PROBLEM
from app.core import idempotency
from app.core.errors import InvalidInput, NotFound, PermissionDenied
from app.core.pagination import api_page
from app.core.permissions import current_identity_can, log_denial, require_permission
from app.core.transaction import transaction
from app.extensions import db

BEARER = [{"bearerAuth": []}]
NUMBER = "string(maxlength=20)"  # longer is no order number: a plain 404
IDEMPOTENCY_KEY = idempotency.openapi_header(required=False)
NOT_FOUND = "No such order"
INVALID = "Invalid fields (`errors` names them)"
NOT_NOW = "The order's state does not allow it (invalid_transition and the like)"


# ---- one order as staff see it -----------------------------------------------------------


def staff_order_view(order: Order) -> StaffOrderView:
    placed_by = db.session.get(User, order.placed_by_id) if order.placed_by_id else None
    return StaffOrderView(
        order=order,
        placed_by=placed_by.email if placed_by else None,
        available_actions=lifecycle.available_actions(order),
        payments=order_queries.order_payments(order),
        timeline=order_queries.order_timeline(order),
        invoice=invoices.invoice_of(order),
    )


def staff_order_body(order: Order) -> dict:
    return StaffOrderSchema().dump(staff_order_view(order))


def acting_staff():
    """The signed-in staff user as a plain object (services store its id, audits its email)."""
    return current_user._get_current_object()


def answered_once(work: Callable[[idempotency.Claim], Order], status: int, headers=None) -> Response:
    """Run `work` under the request's optional Idempotency-Key and answer the order.

    As checkout does: the key is claimed first (a replay answers the stored response), a
    failure releases it, and `work` ties what it changed to it with `claim.attach()` so a
    retry after a crash answers the order instead of acting twice (`claim.resource`)."""
    claim = idempotency.claim(f"admin-orders:{current_user.id}", idempotency.key_from_request(required=False))
    if claim.replay is not None:
        return claim.replay
    try:
        order = work(claim)
    except BaseException:
        claim.release()
        raise
    return claim.complete(staff_order_body(order), status, headers(order) if headers else None)


# ---- the list and the order --------------------------------------------------------------


@api_bp.route("/orders")
class StaffOrders(MethodView):
    @require_permission(ORDERS_READ)
    @api_bp.arguments(OrderFilterSchema, location="query")
    @api_bp.response(200, StaffOrderSummarySchema(many=True))
    @api_bp.alt_response(422, **PROBLEM, description="A filter value is not valid (`errors` names it)")
    @api_bp.paginate(page_size=25, max_page_size=100)
    @api_bp.doc(security=BEARER)
    def get(self, filters, pagination_parameters):
        """Orders, filtered and sorted [orders.read]

        Filters combine (AND): status and payment_status take several values, placed_from
        and placed_to are UTC days (inclusive), min_total and max_total decimal strings.
        `sort`: newest (default), oldest, total_desc, total_asc."""
        return api_page(order_queries.filtered_orders(filters), pagination_parameters)

    @require_permission(ORDERS_MANAGE)
    @api_bp.arguments(PhoneOrderCreateSchema)
    @api_bp.response(201, StaffOrderSchema)
    @api_bp.alt_response(
        409,
        **PROBLEM,
        description="Not possible now: out_of_stock, price_changed, customer_blocked, a line or the "
        "destination that cannot be served (the code names it), or a request with this "
        "Idempotency-Key is still running",
    )
    @api_bp.alt_response(
        422, **PROBLEM, description=INVALID + ", or the Idempotency-Key was used with another body"
    )
    @api_bp.doc(security=BEARER, parameters=[IDEMPOTENCY_KEY])
    def post(self, phone_order):
        """Take a phone order [orders.manage]

        The same checkout as the storefront's (prices, tax, shipping, stock reserved, all or
        nothing), for a customer or a guest email, on the channel `phone` with the caller as
        `placed_by`. Then the payment is started as at checkout (manual: awaiting the money)."""

        def place(claim: idempotency.Claim) -> Order:
            order = order_queries.order_by_reference(claim.resource)
            if order is None:
                with transaction():
                    if phone_order.customer_id is not None:
                        known_customer(phone_order.customer_id)
                    order = phone_orders.place_phone_order(phone_order, actor=acting_staff())
                    claim.attach(order.reference)
            start_payment_after_checkout(order)
            return order

        return answered_once(
            place, 201, lambda order: {"Location": url_for("orders_api.StaffOrderItem", number=order.number)}
        )


def known_customer(customer_id: int) -> None:
    # A customer id in a body that names nobody is a field error, not a missing resource.
    try:
        customer_services.get_customer(customer_id)
    except NotFound:
        raise InvalidInput("No such customer.", errors={"customer_id": ["No such customer."]}) from None


@api_bp.route(f"/orders/<{NUMBER}:number>")
class StaffOrderItem(MethodView):
    @require_permission(ORDERS_READ)
    @api_bp.response(200, StaffOrderSchema)
    @api_bp.alt_response(404, **PROBLEM, description=NOT_FOUND)
    @api_bp.doc(security=BEARER)
    def get(self, number):
        """One order with its payments, timeline and invoice [orders.read]

        Payments list every call made to the gateway (not the gateway's raw answers); the
        timeline holds internal notes; `available_actions` are the actions the order's
        state allows now, whatever the caller's permissions."""
        return staff_order_view(order_queries.order_by_number(number))


@api_bp.route(f"/orders/<{NUMBER}:number>/events")
class StaffOrderEvents(MethodView):
    @require_permission(ORDERS_READ)
    @api_bp.response(200, OrderEventSchema(many=True))
    @api_bp.alt_response(404, **PROBLEM, description=NOT_FOUND)
    @api_bp.paginate(page_size=50, max_page_size=100)
    @api_bp.doc(security=BEARER)
    def get(self, number, pagination_parameters):
        """The order's whole timeline, oldest first [orders.read]"""
        order = order_queries.order_by_number(number)
        query = select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)
        return api_page(query, pagination_parameters)


@api_bp.route(f"/orders/<{NUMBER}:number>/notes")
class StaffOrderNotes(MethodView):
    @require_permission(ORDERS_MANAGE)
    @api_bp.arguments(NoteCreateSchema)
    @api_bp.response(201, OrderEventSchema)
    @api_bp.alt_response(404, **PROBLEM, description=NOT_FOUND)
    @api_bp.alt_response(422, **PROBLEM, description=INVALID)
    @api_bp.doc(security=BEARER)
    def post(self, data, number):
        """Add an internal note to the timeline [orders.manage]

        Customers never see notes."""
        with transaction():
            order = order_queries.order_by_number(number)
            event = lifecycle.add_note(order, actor=acting_staff(), text=data["text"])
        return event


# ---- staff actions -----------------------------------------------------------------------


@dataclass(frozen=True)
class StaffAction:
    name: str
    permission: str
    body: type[ma.Schema]
    summary: str
    description: str
    run: Callable[[Order, object, dict], object]  # (order, actor, body) -> whatever the service returns
    moves_money: bool = False
    also_needs: str = ""  # a permission some cases need on top of `permission`, and when


def check_case_permissions(action: StaffAction, order: Order) -> None:
    """The route declares the action's permission; some cases need more (lifecycle decides:
    cancelling a paid order refunds it)."""
    for code in lifecycle.required_permissions(action.name, order):
        if not current_identity_can(code):
            log_denial(code)
            raise PermissionDenied(
                f"This needs the permission “{code}” ({action.also_needs or action.name})."
            )


ACTIONS = (
    StaffAction(
        "start_processing",
        lifecycle.ACTION_PERMISSIONS["start_processing"],
        ActionNoteSchema,
        "Start processing a paid order",
        "paid -> processing: it is being picked and packed.",
        lambda order, actor, data: lifecycle.start_processing(order, actor=actor, note=data["note"]),
    ),
    StaffAction(
        "deliver",
        lifecycle.ACTION_PERMISSIONS["deliver"],
        ActionNoteSchema,
        "Mark a shipped order delivered",
        "shipped -> delivered.",
        lambda order, actor, data: lifecycle.mark_delivered(order, actor=actor, note=data["note"]),
    ),
    StaffAction(
        "complete",
        lifecycle.ACTION_PERMISSIONS["complete"],
        ActionNoteSchema,
        "Complete a delivered order",
        "delivered -> completed.",
        lambda order, actor, data: lifecycle.complete_order(order, actor=actor, note=data["note"]),
    ),
    StaffAction(
        "hold",
        lifecycle.ACTION_PERMISSIONS["hold"],
        ActionReasonSchema,
        "Put an open order on hold",
        "Stops an open order (fraud check, address question); `reason` is required. Release the "
        "hold to return it to where it was.",
        lambda order, actor, data: lifecycle.hold_order(order, actor=actor, reason=data["reason"]),
    ),
    StaffAction(
        "release_hold",
        lifecycle.ACTION_PERMISSIONS["release_hold"],
        ActionNoteSchema,
        "Release a hold",
        "Back to the status it was held from (paid, if it was paid meanwhile).",
        lambda order, actor, data: lifecycle.release_hold(order, actor=actor, note=data["note"]),
    ),
    StaffAction(
        "cancel",
        lifecycle.ACTION_PERMISSIONS["cancel"],
        ActionReasonSchema,
        "Cancel an order",
        f"Before anything shipped; `reason` is required. Releases the reserved stock and voids "
        f"the payment, or refunds it in full when money was captured: cancelling such an order "
        f"needs `{ORDERS_REFUND}` as well (403 otherwise).",
        lambda order, actor, data: lifecycle.cancel_order(order, actor=actor, reason=data["reason"]),
        moves_money=True,
        also_needs=f"{ORDERS_REFUND} when money was captured",
    ),
    StaffAction(
        "mark_paid",
        lifecycle.ACTION_PERMISSIONS["mark_paid"],
        MarkPaidSchema,
        "Record a manual payment as received",
        "For manual payments (bank transfer, cash on delivery): `amount` defaults to what is due; "
        "paying it all moves the order to paid and issues the invoice.",
        lambda order, actor, data: payments.mark_paid(
            order, actor=actor, amount=data.get("amount"), note=data["note"]
        ),
        moves_money=True,
    ),
    StaffAction(
        "capture",
        lifecycle.ACTION_PERMISSIONS["capture"],
        CaptureSchema,
        "Capture an authorized card payment",
        "Captures the whole authorized amount with the gateway; 409 payment_failed when the "
        "provider refuses, invalid_payment_state when nothing is authorized.",
        lambda order, actor, data: payments.capture_payment(order, actor=actor),
        moves_money=True,
    ),
)


def run_action(action: StaffAction, number: str, data: dict):
    if not action.moves_money:
        with transaction():
            order = order_queries.order_by_number(number, for_update=True)
            check_case_permissions(action, order)
            action.run(order, acting_staff(), data)
        return staff_order_view(order)

    def act(claim: idempotency.Claim) -> Order:
        order = order_queries.order_by_reference(claim.resource)
        if order is None:
            with transaction():
                order = order_queries.order_by_number(number, for_update=True)
                check_case_permissions(action, order)
                action.run(order, acting_staff(), data)
                claim.attach(order.reference)
        return order

    return answered_once(act, 200)


def register_action(action: StaffAction) -> None:
    """`POST /orders/{number}/actions/{name}`, declaring the action's permission."""
    needs = action.permission + (f"; {action.also_needs}" if action.also_needs else "")
    running = ", or a request with this Idempotency-Key is still running" if action.moves_money else ""
    reused = ", or the Idempotency-Key was used with another body" if action.moves_money else ""

    def post(self, data, number):
        return run_action(action, number, data)

    view = api_bp.doc(
        security=BEARER,
        summary=f"{action.summary} [{needs}]",
        description=f"{action.description}\n\nNeeds: {needs}.",
        parameters=[IDEMPOTENCY_KEY] if action.moves_money else [],
    )(post)
    view = api_bp.alt_response(404, **PROBLEM, description=NOT_FOUND)(view)
    view = api_bp.alt_response(409, **PROBLEM, description=NOT_NOW + running)(view)
    view = api_bp.alt_response(422, **PROBLEM, description=INVALID + reused)(view)
    view = api_bp.response(200, StaffOrderSchema)(view)
    view = api_bp.arguments(action.body, required=action.body is ActionReasonSchema)(view)
    view = require_permission(action.permission)(view)
    name = "StaffOrder" + "".join(part.title() for part in action.name.split("_"))
    view_class = type(name, (MethodView,), {"post": view, "__doc__": action.summary})
    api_bp.route(f"/orders/<{NUMBER}:number>/actions/{action.name}")(view_class)


for _action in ACTIONS:
    register_action(_action)
