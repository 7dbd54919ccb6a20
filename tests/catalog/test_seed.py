"""Demo catalog and stock: categories in a tree, brands, products with Size/Colour variants
and placeholder images that exist, stock received through receipts (the ledger explains
every unit), a few low-stock alerts, one backorderable variant; running it again changes
nothing, and the catalog is seeded before the inventory that stocks it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from app.blueprints.catalog import seed as catalog_seed
from app.blueprints.catalog.models import Brand, Category, Product, ProductImage, Variant
from app.blueprints.inventory import seed as inventory_seed
from app.blueprints.inventory.ledger import ledger_mismatches
from app.blueprints.inventory.models import InventoryMovement, StockAlert, StockLevel, StockLocation
from app.core.cli import SEEDERS

STATIC = Path(__file__).resolve().parents[2] / "app" / "static"


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def seed(db) -> None:
    catalog_seed.seed_catalog()
    inventory_seed.seed_inventory()
    db.session.flush()


def test_the_catalog_seeder_runs_before_the_inventory_seeder(app):
    orders = {seeder.name: seeder.order for seeder in SEEDERS}
    catalog = next(order for name, order in orders.items() if name.startswith("catalog"))
    inventory = next(order for name, order in orders.items() if name.startswith("inventory"))
    customers = next(order for name, order in orders.items() if name.startswith("customers"))
    assert customers < catalog < inventory


def test_the_demo_catalog_has_a_category_tree_brands_and_products_with_variants(db):
    seed(db)
    assert count(db, Category) == len(catalog_seed.CATEGORIES) >= 15
    assert count(db, Brand) == 5 and count(db, Product) == len(catalog_seed.PRODUCTS) >= 40
    shirts = db.session.scalar(select(Category).where(Category.slug == "men-shirts"))
    assert shirts.depth == 2  # Clothing > Men > Shirts
    oxford = db.session.scalar(select(Product).where(Product.slug == "oxford-shirt"))
    assert [o.name for o in oxford.options] == ["Size", "Colour"] and len(oxford.variants) == 8
    assert oxford.status == "active" and "**Oxford shirt**" in oxford.description
    assert {p.status for p in db.session.scalars(select(Product))} == {"active", "draft", "archived"}
    # Every image is a local placeholder that exists: the demo works without internet.
    for url in db.session.scalars(select(ProductImage.url).distinct()):
        assert url.startswith("/static/img/products/") and (STATIC / url.removeprefix("/static/")).is_file()


def test_demo_stock_is_received_through_receipts_with_low_stock_and_a_backorderable_variant(db):
    seed(db)
    assert {loc.code for loc in db.session.scalars(select(StockLocation))} == {"WH-MAIN", "STORE-1"}
    assert count(db, InventoryMovement) > 0 and ledger_mismatches() == []
    assert {m.kind for m in db.session.scalars(select(InventoryMovement))} == {"receipt"}
    low = db.session.scalars(
        select(Variant.sku)
        .join(StockAlert, StockAlert.variant_id == Variant.id)
        .where(StockAlert.status == "open")
    ).all()
    assert set(catalog_seed.LOW_STOCK_SKUS) <= set(low)
    backorderable = db.session.scalar(select(Variant).where(Variant.sku == catalog_seed.BACKORDER_SKUS[0]))
    assert backorderable.backorder_policy == "allow" and backorderable.expected_restock_date is not None
    stocked = db.session.scalar(
        select(func.coalesce(func.sum(StockLevel.on_hand), 0)).where(
            StockLevel.variant_id == backorderable.id
        )
    )
    assert stocked == 0


def test_seeding_twice_changes_nothing(db):
    seed(db)
    before = [count(db, model) for model in (Product, Variant, Category, Brand, InventoryMovement)]
    assert catalog_seed.seed_catalog() is None and inventory_seed.seed_inventory() is None
    assert [count(db, model) for model in (Product, Variant, Category, Brand, InventoryMovement)] == before


def test_seed_demo_loads_the_catalog_and_its_stock(app, db):
    result = app.test_cli_runner().invoke(args=["crm", "seed-demo"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Demo catalog:" in result.output and "Demo stock:" in result.output
    assert count(db, Product) == len(catalog_seed.PRODUCTS)
