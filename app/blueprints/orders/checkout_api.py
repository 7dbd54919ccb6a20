"""Storefront checkout: `POST /api/v1/store/carts/{id}/checkout` with `Idempotency-Key`.

One use case in two steps:
1. in one transaction, claim the idempotency key (`idempotency.claim_within`: a concurrent
   retry gets a 409, a replay the first answer), place the order
   (`checkout.place_order_with_payment`: re-price, order, payment record, reserve) and tie
   it to the key;
2. start the payment with the gateway (a network call, so outside the stock locks) and
   store the answer under the key, in a transaction of its own.
A failure in 1 rolls the key back with everything else: nothing is left behind, and the
client may retry with the same key. A payment provider that fails in 2 leaves the order
pending_payment with a failed payment (the answer says so).

A gateway that calls no provider (manual) needs no step 2: its payment starts in step 1,
and the answer is stored under the key in that same transaction, so the key, the order,
its payment start and the stored answer commit together. That checkout is one
transaction and, for one line or five, 14 statements on PostgreSQL before the
`order.placed` listeners run (tests/orders/test_checkout_statements.py counts them all).
A shortage of stock is always 409 `out_of_stock` by SKU, decided by the reservation under
its row locks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from flask import current_app, url_for
from flask.views import MethodView

from app.blueprints.orders import checkout, order_queries, payments, store_api_bp
from app.blueprints.orders.gateways import GatewayResult
from app.blueprints.orders.order_models import Order
from app.blueprints.orders.order_schemas import CheckoutResultSchema, CheckoutSchema
from app.blueprints.orders.store_api import PROBLEM, calling_customer, customer_token_optional, load
from app.core import idempotency
from app.core.permissions import public
from app.core.transaction import transaction
from app.extensions import db, limiter

bp = store_api_bp
DEFAULT_RATE_LIMIT = "20 per minute"


@dataclass(frozen=True)
class GuestShopper:
    """The actor of a guest checkout, for the timeline and the audit log."""

    email: str
    is_staff = False

    def __str__(self) -> str:
        return f"{self.email} (guest)"


def checkout_rate_limit() -> str:
    return current_app.config.get("CHECKOUT_RATE_LIMIT") or DEFAULT_RATE_LIMIT


def checkout_scope(cart_id: str) -> str:
    # The cart id is a secret: the key table keeps only a digest of it.
    return "checkout:" + hashlib.sha256(cart_id.encode()).hexdigest()[:40]


# One instance for every answer: a marshmallow schema copies its fields when it is made.
RESULT_SCHEMA = CheckoutResultSchema()
CHECKOUT_HEADERS = {
    "Location": {
        "description": "A customer's checkout: the order under /me/orders (a guest's has none)",
        "schema": {"type": "string"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer of an earlier request with the same key",
        "schema": {"type": "string", "enum": ["true"]},
    },
}


def checkout_result(order: Order, result: GatewayResult | None) -> dict:
    body = RESULT_SCHEMA.dump(order)
    body["tracking_token"] = checkout.tracking_token(order)
    publishable = (
        current_app.config.get("STRIPE_PUBLISHABLE_KEY") if order.payment_method == "stripe" else None
    )
    body["payment_action"] = {
        "gateway": order.payment_method,
        "status": order.payment_status,
        "client_secret": result.client_secret if result else None,
        "publishable_key": publishable,
        "instructions": result.instructions if result else "",
    }
    return body


@bp.route("/carts/<cart_id>/checkout")
class CartCheckout(MethodView):
    @public
    @customer_token_optional
    @limiter.limit(checkout_rate_limit)
    @bp.arguments(CheckoutSchema)
    @bp.response(201, CheckoutResultSchema, headers=CHECKOUT_HEADERS)
    @bp.alt_response(400, **PROBLEM, description="No or malformed Idempotency-Key header")
    @bp.alt_response(404, **PROBLEM, description="No such cart (or it belongs to another customer)")
    @bp.alt_response(
        409,
        **PROBLEM,
        description="The cart is not ready (the code names the first problem: cart_empty, "
        "shipping_address_required, ...; `errors` lists all), out_of_stock (`errors` by SKU), "
        "price_changed, or a request with this Idempotency-Key is still running",
    )
    @bp.alt_response(
        422, **PROBLEM, description="Invalid fields, or the Idempotency-Key was used with another body"
    )
    @bp.alt_response(
        429,
        **PROBLEM,
        description="Too many checkouts from this address",
        headers={"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
    )
    @bp.doc(
        security=[{}, {"bearerAuth": []}],
        parameters=[
            {
                "in": "header",
                "name": "Idempotency-Key",
                "required": True,
                "schema": {"type": "string", "maxLength": 255},
                "description": "A new unique value (a UUID) per checkout attempt; resend the same "
                "value when retrying after a timeout. Replays answer the first response with "
                "`Idempotent-Replayed: true`.",
            }
        ],
    )
    def post(self, data, cart_id):
        """Place the order

        Re-prices the cart, reserves its stock and creates the order, all or nothing, then
        starts the payment. The answer is the order with its `tracking_token` and the
        `payment_action` the storefront completes (Stripe: confirm with `client_secret`;
        manual: show `instructions`). Retrying with the same Idempotency-Key never creates
        a second order."""
        key = idempotency.key_from_request(required=True)
        # The key is claimed in the order's transaction: a failure rolls both back.
        with transaction():
            claim = idempotency.claim_within(checkout_scope(cart_id), key)
            if claim.replay is not None:
                return claim.replay
            if claim.resource:  # the first attempt placed it and died before answering
                order = order_queries.order_by_reference(claim.resource)
            else:
                placed = _place_order(cart_id, data)
                order = placed.order
                if placed.payment_started is not None:
                    # The answer is complete: store it with the order, in this transaction.
                    return _answer(claim, order, placed.payment_started, resource=order.reference)
                claim.attach(order.reference)
        try:
            return _answer(claim, order, start_payment_after_checkout(order))
        except BaseException:
            claim.release()
            raise


def _place_order(cart_id: str, data: dict) -> checkout.PlacedOrder:
    customer = calling_customer()
    cart = load(cart_id, for_update=True)
    actor = customer if customer is not None else GuestShopper(cart.email or "")
    return checkout.place_order_with_payment(
        cart,
        actor=actor,
        payment_method=data.get("payment_method"),
        expected_total=data.get("expected_total"),
        customer_note=data.get("note", ""),
        start_offline_payment=True,
        precheck_stock=False,
    )


def _answer(claim: idempotency.Claim, order: Order, result: GatewayResult | None, *, resource=None):
    """The 201, stored under the key (with `resource` when inside the order's transaction)."""
    # Only a customer can read the order there; a guest keeps the tracking token instead.
    headers = (
        {"Location": url_for("store_orders_api.MyOrder", number=order.number)} if order.customer_id else {}
    )
    return claim.complete(checkout_result(order, result), 201, headers, resource=resource)


def start_payment_after_checkout(order: Order) -> GatewayResult | None:
    """Step 3, after the order committed (checkout, staff orders in the portal and the API):
    ask the gateway to start collecting, in a transaction of its own. None when it was
    started already (an offline gateway starts inside the order's transaction)."""
    payment = payments.payments_of(order)[-1]
    if payment.status != "pending" or payment.transactions:
        return None
    with transaction():
        db.session.refresh(order, with_for_update=True)
        return payments.start_payment(payment, order)
