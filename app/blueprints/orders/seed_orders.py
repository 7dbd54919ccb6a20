"""Demo orders: a few dozen orders of demo customers, in every state an order can be in,
placed over the last two months. They go through the real services (checkout, payments,
the state machine), so stock, the ledger, invoices, timelines and customer figures are
exactly what real orders leave. Orders go as far as processing here: fulfilment's demo
seeder ships most of those (shipments with carriers and tracking), delivers and completes
some. Runs once: an installation with orders gets none."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import func, select

from app.blueprints.catalog.models import Product, Variant
from app.blueprints.customers.models import Customer, CustomerAddress
from app.blueprints.inventory.models import StockLevel
from app.blueprints.orders import carts, checkout, lifecycle, payments, shipping
from app.blueprints.orders.order_models import Order, OrderEvent
from app.core.cli import demo_seeder
from app.core.errors import DomainError
from app.core.timeutil import utcnow
from app.core.transaction import savepoint
from app.extensions import db

SEED_ORDER = 60  # after the shipping and tax settings (50)
FALLBACK_ADDRESS = {
    "line1": "Prinsengracht 263",
    "postal_code": "1016 GV",
    "city": "Amsterdam",
    "country": "NL",
}
# How many demo orders end in each state, and how to get there.
STATES = (
    ("pending_payment", 6),
    ("paid", 8),
    # Fulfilment's seeder ships, delivers and completes most of these (see its PLAN).
    ("processing", 24),
    ("on_hold", 2),
    ("cancelled", 3),
)


class DemoStaff:
    email = "demo-seeder"
    is_staff = True
    id = None

    def __str__(self) -> str:
        return self.email


def _address(customer: Customer) -> dict:
    address = db.session.scalar(
        select(CustomerAddress)
        .where(CustomerAddress.customer_id == customer.id)
        .order_by(CustomerAddress.is_default_shipping.desc(), CustomerAddress.id)
        .limit(1)
    )
    if address is None or shipping.zone_for(address.country, address.region or "") is None:
        return {"recipient": f"{customer.first_name} {customer.last_name}".strip(), **FALLBACK_ADDRESS}
    return {
        "recipient": address.recipient or f"{customer.first_name} {customer.last_name}".strip(),
        "line1": address.line1,
        "line2": address.line2,
        "postal_code": address.postal_code,
        "city": address.city,
        "region": address.region,
        "country": address.country,
    }


def _stocked_variants() -> list[int]:
    query = (
        select(Variant.id)
        .join(Product, Product.id == Variant.product_id)
        .join(StockLevel, StockLevel.variant_id == Variant.id)
        .where(Variant.is_active, Product.status == "active", StockLevel.on_hand - StockLevel.reserved >= 5)
        .group_by(Variant.id)
        .order_by(Variant.id)
        .limit(200)
    )
    return list(db.session.scalars(query))


def _place(customer: Customer, variant_ids: list[int], rng: random.Random, method: str) -> Order:
    cart = carts.create_cart(customer=customer, email=customer.email)
    for variant_id in rng.sample(variant_ids, k=min(len(variant_ids), rng.randint(1, 3))):
        carts.add_line(cart, variant_id=variant_id, quantity=rng.randint(1, 2))
    carts.update_details(cart, shipping_address=_address(customer))
    offered = shipping.methods_for(
        cart.shipping_address["country"], cart.shipping_address.get("region") or ""
    )
    carts.update_details(cart, shipping_method=offered[0].code)
    return checkout.place_order(cart, actor=customer, payment_method=method)


def _advance(order: Order, state: str, staff) -> None:
    if state in ("paid", "processing") or (state == "cancelled" and order.id % 2):
        payments.mark_paid(order, actor=staff)
    if state == "processing":
        lifecycle.start_processing(order, actor=staff)
    if state == "on_hold":
        lifecycle.hold_order(order, actor=staff, reason="Address to be confirmed by phone")
    if state == "cancelled":
        lifecycle.cancel_order(order, actor=staff, reason="Customer changed their mind")


def _backdate(order: Order, days: int) -> None:
    """Place the order `days` ago, its timeline moved back with it."""
    delta = timedelta(days=days, hours=days % 7)
    order.placed_at = utcnow() - delta
    for moment in ("paid_at", "cancelled_at"):
        if getattr(order, moment) is not None:
            setattr(order, moment, getattr(order, moment) - delta)
    # A handful of rows per order; moved one by one (portable date arithmetic).
    for event in db.session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id)):
        event.created_at = event.created_at - delta


@demo_seeder(SEED_ORDER, "orders: demo orders in every state")
def seed_demo_orders() -> str | None:
    if db.session.scalar(select(func.count()).select_from(Order)):
        return None
    customers = list(
        db.session.scalars(select(Customer).where(Customer.status == "active").order_by(Customer.id))
    )
    variant_ids = _stocked_variants()
    if not customers or not variant_ids:
        return None
    rng = random.Random(2026)  # noqa: S311  (demo data: the same orders on every install)
    staff = DemoStaff()
    placed = 0
    plan = [state for state, count in STATES for _ in range(count)]
    for index, state in enumerate(plan):
        customer = customers[(index * 7) % len(customers)]
        try:
            with savepoint():
                order = _place(customer, variant_ids, rng, "manual")
                _advance(order, state, staff)
                _backdate(order, days=60 - index)
                placed += 1
        except DomainError:
            continue  # that customer's country or that stock did not fit: the next one will
    return f"Demo orders: {placed} orders in every state"
