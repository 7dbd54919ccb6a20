"""Orders staff take (on the phone, by email, at the counter): the same checkout, built
from what staff typed instead of from a shopper's cart.

`place_phone_order()` fills a fresh cart with the lines, addresses and method (the cart
services validate each as they do for the storefront, so the errors are the same), then
runs `checkout.place_order(channel="phone")`. The cart stays behind as a checked-out cart:
the order points at it like any other. All in the caller's transaction: an error anywhere
leaves neither cart nor order.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from app.blueprints.customers import services as customer_services
from app.blueprints.orders import carts, checkout, gateways
from app.blueprints.orders.order_models import Order
from app.core.errors import Conflict, InvalidInput


@dataclass
class PhoneOrder:
    lines: list[tuple[str, int]]  # (sku, quantity)
    shipping_address: dict
    shipping_method: str
    customer_id: int | None = None
    email: str | None = None  # required without a customer
    billing_address: dict | None = None
    payment_method: str = "manual"
    note: str = ""
    expected_total: Decimal | None = None


def place_phone_order(request: PhoneOrder, *, actor) -> Order:
    """Place an order for a customer (or a guest email) on their behalf."""
    if gateways.gateway_for_checkout(request.payment_method).collects_online:
        # Nobody would be at the card form to pay it: phone orders are paid by other means.
        raise InvalidInput(
            "Orders taken by staff are paid by bank transfer or cash on delivery.",
            errors={"payment_method": ["Not for orders taken by staff."]},
        )
    if not request.lines:
        raise InvalidInput("Add at least one item.", errors={"lines": ["Add at least one item."]})
    customer = customer_services.get_customer(request.customer_id) if request.customer_id else None
    if customer is not None and customer.status == "blocked":
        raise Conflict("This customer is blocked.", code="customer_blocked")
    if customer is None and not (request.email or "").strip():
        raise InvalidInput(
            "Give the customer or an email address.", errors={"email": ["Required without a customer."]}
        )
    cart = carts.create_cart(customer=customer, email=request.email or (customer.email if customer else None))
    errors: dict[str, list[str]] = {}
    for index, (sku, quantity) in enumerate(request.lines):
        try:
            carts.add_line(cart, sku=sku, quantity=quantity)
        except InvalidInput as exc:
            for name, messages in (exc.errors or {"sku": [exc.detail]}).items():
                errors[f"lines.{index}.{name}"] = messages
    if errors:
        raise InvalidInput("Some items are not valid.", errors=errors)
    carts.update_details(
        cart,
        shipping_address=request.shipping_address,
        billing_address=request.billing_address or carts.UNSET,
        shipping_method=request.shipping_method,
    )
    return checkout.place_order(
        cart,
        actor=actor,
        payment_method=request.payment_method,
        expected_total=request.expected_total,
        customer_note=request.note,
        channel="phone",
    )
