"""Building blocks for checkout and order tests: a shop to sell from, a ready cart, a
checkout call, and an order placed through the real checkout service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from app.blueprints.catalog.models import Variant
from app.blueprints.inventory.models import StockLocation
from app.blueprints.orders import carts, checkout
from app.blueprints.orders.checkout_api import GuestShopper
from app.blueprints.orders.order_models import Order
from app.core.transaction import transaction
from tests.factories.catalog import LocationFactory, ProductFactory, stock
from tests.factories.orders import tax_rates, zone_with_methods

STORE = "/api/v1/store"
ADDRESS = {
    "recipient": "Ada Lovelace",
    "line1": "Damrak 1",
    "postal_code": "1012 LG",
    "city": "Amsterdam",
    "country": "NL",
}


@dataclass
class Shop:
    location: StockLocation
    teapot: Variant  # 12.10, 10 in stock
    cup: Variant  # 3.50, 50 in stock


def make_shop(*, teapot_stock: int = 10, cup_stock: int = 50) -> Shop:
    """NL with VAT 21 % (9 % reduced), flat standard (4.95) and express (9.95) shipping,
    a teapot at 12.10 and a cup at 3.50 in one location (tax-inclusive prices)."""
    tax_rates("NL", {"standard": 21, "reduced": 9})
    zone_with_methods(
        "Netherlands",
        ["NL"],
        [
            {"code": "standard", "flat_rate": Decimal("4.95")},
            {"code": "express", "flat_rate": Decimal("9.95")},
        ],
    )
    location = LocationFactory()
    teapot = ProductFactory(price=Decimal("12.10"), name="Teapot").variants[0]
    cup = ProductFactory(price=Decimal("3.50"), name="Cup").variants[0]
    stock(teapot, location, on_hand=teapot_stock)
    stock(cup, location, on_hand=cup_stock)
    return Shop(location, teapot, cup)


def ready_cart(client, lines, *, email="ada@example.org", headers=None, method="standard") -> str:
    """A cart through the API with `lines` [(sku, quantity)], an NL address and a method."""
    response = client.post(f"{STORE}/carts", json={"email": email}, headers=headers or {})
    assert response.status_code in (200, 201), response.text
    cart_id = response.get_json()["id"]
    for sku, quantity in lines:
        added = client.post(
            f"{STORE}/carts/{cart_id}/lines", json={"sku": sku, "quantity": quantity}, headers=headers or {}
        )
        assert added.status_code == 200, added.text
    patched = client.patch(
        f"{STORE}/carts/{cart_id}",
        json={"shipping_address": ADDRESS, "shipping_method": method},
        headers=headers or {},
    )
    assert patched.status_code == 200, patched.text
    return cart_id


def checkout_call(client, cart_id, body=None, *, key=None, headers=None):
    headers = dict(headers or {})
    headers["Idempotency-Key"] = key or str(uuid.uuid4())
    return client.post(f"{STORE}/carts/{cart_id}/checkout", json=body or {}, headers=headers)


def place_order_directly(lines, *, email="ada@example.org", payment_method="manual", customer=None) -> Order:
    """An order through the checkout service (no HTTP): lines [(variant, quantity)]."""
    with transaction():
        cart = carts.create_cart(customer=customer, email=email)
        for variant, quantity in lines:
            carts.add_line(cart, variant_id=variant.id, quantity=quantity)
        carts.update_details(cart, shipping_address=dict(ADDRESS), shipping_method="standard")
        actor = customer if customer is not None else GuestShopper(email)
        order = checkout.place_order(cart, actor=actor, payment_method=payment_method)
    return order
