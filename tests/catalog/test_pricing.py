"""Bulk price changes are previewed, set-based, audited, recorded per variant and refused
whole when a result would be invalid; the price in force at a date comes from history."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from app.blueprints.catalog import pricing, services
from app.blueprints.catalog.inputs import PriceAdjustment, ProductInput, VariantInput
from app.blueprints.catalog.models import PriceChange, Product, Variant
from app.blueprints.catalog.queries import ProductFilter
from app.core.errors import InvalidInput
from app.core.models import AuditEntry
from app.core.timeutil import utcnow
from app.extensions import db as _db
from tests.factories.auth import UserFactory
from tests.factories.catalog import BrandFactory, CategoryFactory, ProductFactory


def price_of(variant_id):
    return _db.session.scalar(select(Variant.price).where(Variant.id == variant_id))


@pytest.fixture
def catalog(db):
    brand = BrandFactory()
    shirts = [ProductFactory(price=Decimal(p), brand=brand) for p in ("10.00", "20.00", "10.05")]
    other = ProductFactory(price=Decimal("50.00"))
    return {"brand": brand, "shirts": shirts, "other": other}


def test_preview_lists_old_and_new_without_changing_anything(catalog):
    f = ProductFilter(brand_id=catalog["brand"].id)
    preview = pricing.preview_price_change(f, PriceAdjustment("percent", Decimal("10")), limit=2)
    assert preview.count == 3 and len(preview.rows) == 2 and preview.invalid_count == 0
    assert {(r.old, r.new) for r in preview.rows} <= {
        (Decimal("10.00"), Decimal("11.00")),
        (Decimal("20.00"), Decimal("22.00")),
        (Decimal("10.05"), Decimal("11.06")),
    }
    assert price_of(catalog["shirts"][0].variants[0].id) == Decimal("10.00")


def test_bulk_change_is_set_based_recorded_and_audited(catalog, db):
    user = UserFactory()
    f = ProductFilter(brand_id=catalog["brand"].id)
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        changed = pricing.apply_price_change(
            f, PriceAdjustment("percent", Decimal("10"), reason="autumn"), actor=user
        )
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert changed == 3
    writes = [s for s in statements if s.lstrip().upper().startswith(("UPDATE", "INSERT"))]
    # history INSERT ... SELECT, variants UPDATE, products UPDATE: whatever the number of variants
    assert len(writes) == 3
    assert any(s.upper().startswith("INSERT INTO PRICE_CHANGES") and "SELECT" in s.upper() for s in writes)
    prices = [price_of(p.variants[0].id) for p in catalog["shirts"]]
    assert prices == [Decimal("11.00"), Decimal("22.00"), Decimal("11.06")]  # 11.055 rounds half up
    assert price_of(catalog["other"].variants[0].id) == Decimal("50.00")
    rows = db.session.scalars(select(PriceChange).where(PriceChange.reason == "autumn")).all()
    assert len(rows) == 3 and {r.changed_by_id for r in rows} == {user.id}
    assert {(r.old_amount, r.new_amount) for r in rows} >= {(Decimal("10.05"), Decimal("11.06"))}
    summary = db.session.scalar(select(Product.min_price).where(Product.id == catalog["shirts"][2].id))
    assert summary == Decimal("11.06")
    (entry,) = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "catalog.prices.bulk_changed")
    )
    assert entry.data["count"] == 3 and entry.actor_id == user.id


@pytest.mark.parametrize(
    ("adjustment", "expected"),
    [
        (PriceAdjustment("amount", Decimal("-2.5")), [Decimal("7.50"), Decimal("17.50"), Decimal("7.55")]),
        (PriceAdjustment("set", Decimal("9.999")), [Decimal("10.00"), Decimal("10.00"), Decimal("10.00")]),
        (PriceAdjustment("percent", Decimal("-15")), [Decimal("8.50"), Decimal("17.00"), Decimal("8.54")]),
    ],
)
def test_modes_amount_set_and_percent(catalog, adjustment, expected):
    f = ProductFilter(brand_id=catalog["brand"].id)
    pricing.apply_price_change(f, adjustment, actor=None)
    assert [price_of(p.variants[0].id) for p in catalog["shirts"]] == expected


def test_a_change_that_would_make_a_price_negative_is_refused_whole(catalog, db):
    f = ProductFilter(brand_id=catalog["brand"].id)
    adjustment = PriceAdjustment("amount", Decimal("-15"))
    preview = pricing.preview_price_change(f, adjustment)
    assert preview.invalid_count == 2 and {r.error for r in preview.errors} == {"Would be negative."}
    with pytest.raises(InvalidInput) as error:
        pricing.apply_price_change(f, adjustment, actor=None)
    assert "value" in error.value.errors
    assert price_of(catalog["shirts"][1].variants[0].id) == Decimal("20.00")
    assert (
        db.session.scalar(
            select(func.count()).select_from(PriceChange).where(PriceChange.reason != "created")
        )
        == 0
    )


def test_a_price_above_its_compare_at_price_is_refused(db):
    product = services.create_product(
        ProductInput(name="Sale"),
        actor=None,
        variants=[VariantInput(sku="SALE", price=Decimal(10), compare_at_price=Decimal(12))],
    )
    f = ProductFilter(q="sale")
    preview = pricing.preview_price_change(f, PriceAdjustment("percent", Decimal(50)))
    assert preview.errors[0].error == "Would be above the compare-at price."
    with pytest.raises(InvalidInput):
        pricing.apply_price_change(f, PriceAdjustment("percent", Decimal(50)), actor=None)
    assert pricing.apply_price_change(f, PriceAdjustment("percent", Decimal(20)), actor=None) == 1
    assert price_of(product.variants[0].id) == Decimal("12.00")


def test_bulk_change_filters_by_category_subtree(db):
    parent = CategoryFactory()
    child = CategoryFactory(parent=parent)
    inside = ProductFactory(price=Decimal(5), categories=[child])
    outside = ProductFactory(price=Decimal(5))
    assert (
        pricing.apply_price_change(
            ProductFilter(category_id=parent.id), PriceAdjustment("set", Decimal(6)), actor=None
        )
        == 1
    )
    assert price_of(inside.variants[0].id) == Decimal("6.00")
    assert price_of(outside.variants[0].id) == Decimal("5.00")


def test_unchanged_prices_are_not_counted(catalog):
    f = ProductFilter(brand_id=catalog["brand"].id)
    assert pricing.apply_price_change(f, PriceAdjustment("set", Decimal("10.00")), actor=None) == 2


def test_bad_adjustments_are_field_errors(db):
    with pytest.raises(InvalidInput) as error:
        pricing.preview_price_change(ProductFilter(), PriceAdjustment("double", Decimal(1), field="msrp"))
    assert set(error.value.errors) == {"mode", "field"}
    with pytest.raises(InvalidInput):
        pricing.apply_price_change(ProductFilter(), PriceAdjustment("set", Decimal(-1)), actor=None)


def test_price_in_force_at_a_date(db):
    product = services.create_product(
        ProductInput(name="Lamp"), actor=None, variants=[VariantInput(sku="LAMP", price=Decimal(30))]
    )
    variant = product.variants[0]
    before_creation = utcnow() - timedelta(days=1)
    after_creation = utcnow()
    services.update_variant(variant, {"price": Decimal(25)}, actor=None)
    # Backdate the change so the dates are clearly apart.
    change = db.session.scalar(
        select(PriceChange).where(PriceChange.variant_id == variant.id, PriceChange.new_amount == Decimal(25))
    )
    change.changed_at = utcnow() + timedelta(hours=1)
    db.session.flush()
    assert pricing.price_in_force(variant.id, before_creation) is None
    assert pricing.price_in_force(variant.id, after_creation) == Decimal("30.00")
    assert pricing.price_in_force(variant.id, utcnow() + timedelta(days=1)) == Decimal("25.00")
