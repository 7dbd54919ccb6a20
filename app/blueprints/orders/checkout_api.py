"""Storefront checkout: `POST /api/v1/store/carts/{id}/checkout` with `Idempotency-Key`.

One use case in three steps, each committed on its own:
1. claim the idempotency key (a concurrent retry now gets a 409, a replay the first answer);
2. place the order (`checkout.place_order`: re-price, reserve, order, payment record) and
   tie it to the key, in one transaction;
3. start the payment with the gateway (a network call, so outside the stock locks) and
   store the answer under the key.
A failure in 1 or 2 releases the key and leaves nothing behind. A payment provider that
fails in 3 leaves the order pending_payment with a failed payment (the answer says so).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from flask import current_app, url_for
from flask.views import MethodView

from app.blueprints.orders import checkout, payments, store_api_bp
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


def checkout_result(order: Order, result: GatewayResult | None) -> dict:
    body = CheckoutResultSchema().dump(order)
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
    @bp.response(201, CheckoutResultSchema)
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
    @bp.alt_response(429, **PROBLEM, description="Too many checkouts from this address (see Retry-After)")
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
        claim = idempotency.claim(checkout_scope(cart_id), key)
        if claim.replay is not None:
            return claim.replay
        try:
            order = _placed_order(claim, cart_id, data)
            result = _start_payment(order)
        except BaseException:
            claim.release()
            raise
        location = url_for("store_orders_api.MyOrder", number=order.number) if _has_my_orders() else None
        return claim.complete(checkout_result(order, result), 201, {"Location": location} if location else {})


def _placed_order(claim: idempotency.Claim, cart_id: str, data: dict) -> Order:
    if claim.resource:  # the first attempt placed it and died before answering
        return db.session.get(Order, int(claim.resource.split(":")[1]))
    with transaction():
        customer = calling_customer()
        cart = load(cart_id, for_update=True)
        actor = customer if customer is not None else GuestShopper(cart.email or "")
        order = checkout.place_order(
            cart,
            actor=actor,
            payment_method=data.get("payment_method"),
            expected_total=data.get("expected_total"),
            customer_note=data.get("note", ""),
        )
        claim.attach(f"order:{order.id}")
    return order


def _start_payment(order: Order) -> GatewayResult | None:
    payment = payments.payments_of(order)[-1]
    if payment.status != "pending" or payment.transactions:
        return None
    with transaction():
        db.session.refresh(order, with_for_update=True)
        return payments.start_payment(payment, order)


def _has_my_orders() -> bool:
    return "store_orders_api.MyOrder" in current_app.view_functions
