"""Checkout: a cart becomes an order, whole or not at all.

`place_order(cart, ...)` runs inside the caller's transaction and:

1. re-prices the cart with the one pricing pipeline (what the cart showed is what is
   charged; with `expected_total` a total that changed since the shopper saw it is a
   Conflict `price_changed` instead of a surprise);
2. creates the order with a snapshot of totals, addresses and method, its human number
   and its tracking token; records the payment (pending until the gateway answers, see
   `payments.start_payment`), marks the cart checked out, writes the timeline and audit
   entries and emits `order.placed` (delivered after the commit);
3. reserves the stock last (`inventory.reservations.reserve`: variants locked in id
   order, all or nothing, `out_of_stock` by SKU; backorders where a variant allows them)
   and writes the lines with what each got. Coming last, the reservation holds the stock
   rows locked only for the lines' INSERT and the COMMIT: under a hot SKU, that hold time
   is what checkouts queue on.

`place_order_with_payment` is the same with two options the storefront uses:
`start_offline_payment` starts the payment in the order's own transaction when the gateway
calls no provider (manual: nothing waits on the network, no second transaction), and
`precheck_stock=False` leaves the stock check to the reservation alone. The reservation
decides under the row locks and refuses with `out_of_stock`; availability read while
pricing (the default: a shortage is `line_problems`, by line, before anything is written)
is a guess under concurrency, and a query.

Any failure raises, and the entrypoint's rollback leaves nothing behind: no order without
stock, no stock reserved without an order. A cart checks out once (unique `cart_id`).
The storefront and staff phone orders both come through here.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import insert
from sqlalchemy.orm.attributes import set_committed_value

from app.blueprints.inventory import reservations
from app.blueprints.orders import gateways, lifecycle, payments, pricing
from app.blueprints.orders.gateways import GatewayResult
from app.blueprints.orders.models import Cart
from app.blueprints.orders.order_models import Order, OrderLine
from app.blueprints.orders.payment_models import Payment
from app.core import audit, crypto
from app.core.errors import Conflict
from app.core.events import emit
from app.extensions import db

NUMBER_OFFSET = 100000  # order numbers start at 100001: six digits to read out
TRACKING_TOKEN_BYTES = 24
# Gateways whose payment start calls no provider (nothing to wait for on the network), so
# checkout may start it inside the order's own transaction.

PROBLEM_MESSAGES = {
    pricing.CART_NOT_OPEN: "The cart is already checked out or expired.",
    pricing.CART_EMPTY: "The cart is empty.",
    pricing.LINE_PROBLEMS: "Some items are not available (see the lines' problems).",
    pricing.EMAIL_REQUIRED: "Give an email address for the order.",
    pricing.SHIPPING_ADDRESS_REQUIRED: "Give a shipping address.",
    pricing.DESTINATION_NOT_SERVED: "We do not ship to this address.",
    pricing.SHIPPING_METHOD_REQUIRED: "Choose a shipping method.",
    pricing.SHIPPING_METHOD_UNAVAILABLE: "The chosen shipping method is not offered for this address.",
    pricing.SHIPPING_NOT_POSSIBLE: "The chosen shipping method cannot carry this parcel.",
}


def order_number(order_id: int) -> str:
    return str(NUMBER_OFFSET + order_id)


def tracking_token(order: Order) -> str:
    return crypto.decrypt(order.tracking_token_encrypted)


def tracking_token_matches(order: Order, token: str | None) -> bool:
    # Bytes, not str: compare_digest refuses non-ASCII strings, and a token is user input.
    return bool(token) and secrets.compare_digest(tracking_token(order).encode(), token.encode())


def _refuse_unready(quote: pricing.CartQuote) -> None:
    if quote.ready_for_checkout:
        return
    errors: dict[str, list[str]] = {}
    for problem in quote.problems:
        errors.setdefault("cart", []).append(problem)
    for index, line in enumerate(quote.lines):
        if line.problems:
            errors[f"lines.{index}"] = list(line.problems)
    first = quote.problems[0]
    raise Conflict(
        PROBLEM_MESSAGES.get(first, "The cart is not ready for checkout."), code=first, errors=errors
    )


def place_order(
    cart: Cart,
    *,
    actor,
    payment_method: str | None = None,
    expected_total: Decimal | None = None,
    customer_note: str = "",
    channel: str = "storefront",
) -> Order:
    """Turn an open, ready cart (loaded FOR UPDATE) into an order (see the module doc)."""
    return place_order_with_payment(
        cart,
        actor=actor,
        payment_method=payment_method,
        expected_total=expected_total,
        customer_note=customer_note,
        channel=channel,
    ).order


@dataclass(frozen=True)
class PlacedOrder:
    order: Order
    payment: Payment
    # The gateway's answer when the payment was started with the order (a gateway that
    # calls no provider, asked for with `start_offline_payment`); None: not started yet.
    payment_started: GatewayResult | None = None


def place_order_with_payment(
    cart: Cart,
    *,
    actor,
    payment_method: str | None = None,
    expected_total: Decimal | None = None,
    customer_note: str = "",
    channel: str = "storefront",
    start_offline_payment: bool = False,
    precheck_stock: bool = True,
) -> PlacedOrder:
    """`place_order`, returning the payment too (see the module doc for the options)."""
    gateway = gateways.gateway_for_checkout(payment_method)
    quote = pricing.price_cart(cart, with_availability=precheck_stock)
    _refuse_unready(quote)
    if expected_total is not None and expected_total != quote.total:
        raise Conflict(
            f"The total is now {quote.total} {quote.currency}, not {expected_total}: review the cart.",
            code="price_changed",
            errors={"expected_total": [f"The total is now {quote.total}."]},
        )
    order = _create_order(cart, quote, gateway.code, actor=actor, channel=channel, note=customer_note)
    payment = payments.create_payment(order, gateway.code)
    cart.status = "checked_out"
    lifecycle.record_event(
        order, "placed", actor=actor, to_status=order.status, channel=channel, total=str(order.total)
    )
    audit.record(
        "order.placed",
        actor=actor,
        target_type="Order",
        target_id=order.id,
        summary=f"Order {order.number} placed ({channel}), {order.total} {order.currency}",
    )
    started = None
    if start_offline_payment and not gateway.collects_online:
        started = payments.start_payment(payment, order, only_payment=True)
    # The stock last (see the module doc): everything above is written before the first
    # stock row is locked, since the reservation flushes the session first.
    allocations = reservations.reserve(
        [(line.variant_id, line.quantity) for line in quote.lines],
        reference=order.reference,
        actor=actor,
        customer_id=cart.customer_id,
        caller_rolls_back=True,  # a refusal fails the whole checkout
    )
    _add_lines(order, quote, allocations)
    emit("order.placed", order_id=order.id)
    return PlacedOrder(order, payment, started)


def _create_order(cart: Cart, quote: pricing.CartQuote, gateway_code: str, *, actor, channel, note) -> Order:
    shipping_address = dict(cart.shipping_address or {})
    order = Order(
        tracking_token_encrypted=crypto.encrypt(secrets.token_urlsafe(TRACKING_TOKEN_BYTES)),
        cart_id=cart.id,
        customer_id=cart.customer_id,
        email=cart.email or _customer_email(cart),
        channel=channel,
        placed_by_id=getattr(actor, "id", None) if audit.is_staff(actor) else None,
        status="pending_payment",
        payment_status="pending",
        fulfilment_status="unfulfilled",
        payment_method=gateway_code,
        currency=quote.currency,
        prices_include_tax=quote.prices_include_tax,
        subtotal=quote.subtotal,
        discount_total=quote.discount_total,
        shipping_total=quote.shipping or Decimal("0.00"),
        shipping_tax=quote.shipping_tax,
        tax_total=quote.tax_total,
        total=quote.total,
        tax_breakdown=[
            {"rate": str(t.rate), "name": t.name, "amount": str(t.amount)} for t in quote.tax_breakdown
        ],
        weight_grams=quote.weight_grams,
        shipping_address=shipping_address,
        billing_address=dict(cart.billing_address or shipping_address),
        shipping_method_id=quote.shipping_method.method_id,
        shipping_method_code=quote.shipping_method.code,
        shipping_method_name=quote.shipping_method.name,
        customer_note=(note or "").strip()[:2000],
    )
    db.session.add(order)
    db.session.flush()  # the id makes the number and the stock ledger reference
    if order.number is None:  # SQLite: no trigger numbered it in the INSERT
        order.number = order_number(order.id)
    return order


def _customer_email(cart: Cart) -> str:
    from app.blueprints.customers.models import Customer

    return db.session.get(Customer, cart.customer_id).email


INSERT_LINES = insert(OrderLine).returning(OrderLine)


def _add_lines(order: Order, quote: pricing.CartQuote, allocations) -> None:
    rows = [
        {
            "order_id": order.id,
            "position": position,
            "variant_id": line.variant_id,
            "product_id": line.product_id,
            "sku": line.sku,
            "name": line.name,
            "title": line.title,
            "tax_class": line.tax_class,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "line_subtotal": line.line_subtotal,
            "discount": line.discount,
            "tax_rate": line.tax_rate,
            "tax": line.tax,
            "line_total": line.line_total,
            "weight_grams": line.weight_grams,
            "backordered_quantity": allocation.backordered,
            "shipped_quantity": 0,
        }
        for position, (line, allocation) in enumerate(zip(quote.lines, allocations, strict=True), start=1)
    ]
    # One multi-row INSERT ... RETURNING (not one per line, as the unit of work does on
    # SQLite), whose rows become the order's lines without being read back.
    lines = db.session.scalars(INSERT_LINES, rows).all()
    set_committed_value(order, "lines", sorted(lines, key=lambda line: line.position))


crypto.register_reencryption(
    "order tracking token(s)", lambda: crypto.reencrypt_column(Order, Order.tracking_token_encrypted)
)
