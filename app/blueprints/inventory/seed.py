"""Demo stock: a main warehouse and a city store, stocked through purchase receipts (so the
ledger explains every unit), with a few variants low on stock (their alerts open) and one
sold out but open for backorder. Runs after the catalog's seeder, whose SKUs it stocks."""

from __future__ import annotations

import random

from sqlalchemy import select

from app.blueprints.catalog.models import Product, Variant
from app.blueprints.catalog.seed import BACKORDER_SKUS, LOW_STOCK_SKUS, SEED_ORDER
from app.blueprints.inventory import alerts, services
from app.blueprints.inventory.models import StockLocation
from app.blueprints.inventory.receipts import ReceiptLineInput, receive_stock
from app.core.cli import demo_seeder
from app.extensions import db

# (code, name, kind, fulfils online orders, default low-stock threshold)
LOCATIONS = [
    ("WH-MAIN", "Main warehouse", "warehouse", True, 5),
    ("STORE-1", "City store", "store", False, 2),
]
LOW_STOCK_UNITS = 2  # below the threshold of 5 the catalog seed gives these variants


def seed_locations() -> dict[str, StockLocation]:
    known = {location.code: location for location in services.list_locations()}
    for position, (code, name, kind, fulfils, threshold) in enumerate(LOCATIONS):
        if code not in known:
            known[code] = services.create_location(
                actor=None,
                code=code,
                name=name,
                kind=kind,
                fulfils_orders=fulfils,
                low_stock_threshold=threshold,
                position=position,
            )
    return known


def demo_variants() -> list[Variant]:
    """The active variants of the demo's active products, in a stable order."""
    query = (
        select(Variant)
        .join(Product, Product.id == Variant.product_id)
        .where(Product.status == "active", Variant.is_active)
        .order_by(Variant.id)
    )
    return list(db.session.scalars(query))


def receipt_lines(variants: list[Variant], rng: random.Random, *, store: bool) -> list[ReceiptLineInput]:
    lines = []
    for variant in variants:
        if variant.sku in BACKORDER_SKUS:
            continue  # sold out: customers may backorder it
        if variant.sku in LOW_STOCK_SKUS:
            quantity = 0 if store else LOW_STOCK_UNITS
        else:
            quantity = rng.choice([0, 0, 3, 4, 6, 8]) if store else rng.randint(8, 60)
        if quantity:
            lines.append(ReceiptLineInput(variant.id, quantity, variant.cost_price))
    return lines


@demo_seeder(SEED_ORDER + 10, "inventory: locations and stock received")
def seed_inventory() -> str | None:
    if db.session.scalar(select(StockLocation.id).where(StockLocation.code == LOCATIONS[0][0])):
        return None
    locations = seed_locations()
    variants = demo_variants()
    if not variants:
        return "Demo stock locations WH-MAIN and STORE-1 (no products to stock)"
    rng = random.Random(2026)  # noqa: S311  (demo data: the same stock on every install)
    units = 0
    for code, supplier, reference, store in (
        ("WH-MAIN", "Demo Supplies B.V.", "PO-2026-0001", False),
        ("STORE-1", "Main warehouse", "TRANSFER-OPENING", True),
    ):
        lines = receipt_lines(variants, rng, store=store)
        receive_stock(
            location=locations[code],
            lines=lines,
            supplier=supplier,
            supplier_reference=reference,
            note="Opening stock of the demo data.",
            actor=None,
        )
        units += sum(line.quantity for line in lines)
    raised, _ = alerts.check_low_stock()  # the store's own low levels too, not only the receipts'
    return (
        f"Demo stock: {units} units at WH-MAIN and STORE-1; "
        f"{len(LOW_STOCK_SKUS)} variants low on stock, {BACKORDER_SKUS[0]} open for backorder"
        + (f" ({raised} more alerts)" if raised else "")
    )
