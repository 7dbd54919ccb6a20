"""The bulk price change page: the filter from the product list, a preview of old and new
prices (HTMX), invalid results blocking the change, applying after the preview with the
count it showed, and the price history and audit it leaves."""

import re
from decimal import Decimal

from sqlalchemy import func, select

from app.blueprints.catalog.models import PriceChange, Variant
from app.core.models import AuditEntry
from tests.catalog.views_support import field_error, flashes, htmx, input_value, signed_in
from tests.factories.catalog import BrandFactory, CategoryFactory, ProductFactory, product_with_variants


def change(**changes):
    data = {
        "q": "",
        "status": "",
        "category": "",
        "brand": "",
        "min_price": "",
        "max_price": "",
        "field": "price",
        "mode": "percent",
        "value": "10",
        "reason": "Autumn prices",
    }
    data.update(changes)
    return data


def prices_of(*skus):
    return [db_price(sku) for sku in skus]


def db_price(sku):
    from app.extensions import db

    return db.session.scalar(select(Variant.price).where(Variant.sku == sku))


def test_the_page_takes_its_filter_from_the_product_list(portal, db):
    signed_in(portal, "marketing")
    brand = BrandFactory(name="Acme")
    list_page = portal.get(f"/catalog/products?q=mug&brand={brand.id}").text
    assert f"/catalog/prices?q=mug&amp;brand={brand.id}" in list_page
    page = portal.get(f"/catalog/prices?q=mug&brand={brand.id}").text
    assert "<h1>Bulk price change</h1>" in page
    assert input_value(page, "q") == "mug"
    assert f'<option selected value="{brand.id}">Acme</option>' in page


def test_preview_shows_the_count_and_old_and_new_prices(portal, db):
    signed_in(portal, "marketing")
    shoes = CategoryFactory(name="Shoes")
    product_with_variants(
        {"Size": ["40", "41"]}, name="Boot", sku_prefix="BOOT", price=Decimal("100.00"), categories=[shoes]
    )
    ProductFactory(name="Hat", slug="hat", price=Decimal("20.00"))
    response = portal.post(
        "/catalog/prices/preview", data=change(category=str(shoes.id)), headers=htmx("price-workspace")
    )
    assert response.status_code == 200
    fragment = response.text.strip()
    assert fragment.startswith('<div id="price-workspace"') and "<html" not in fragment
    assert "<strong>2 variants</strong>" in fragment
    assert re.search(r"BOOT-40.*?€100\.00.*?€110\.00", fragment, re.S)
    assert "SKU-HAT" not in fragment
    assert "Apply to 2 variants" in fragment
    assert 'data-confirm="Change the price of 2 variants now?' in fragment
    assert prices_of("BOOT-40", "SKU-HAT") == [
        Decimal("100.00"),
        Decimal("20.00"),
    ]  # a preview changes nothing


def test_invalid_results_are_listed_and_nothing_can_be_applied(portal, db):
    signed_in(portal, "marketing")
    ProductFactory(name="Cheap", slug="cheap", price=Decimal("3.00"))
    ProductFactory(name="Dear", slug="dear", price=Decimal("30.00"))
    response = portal.post(
        "/catalog/prices/preview", data=change(mode="amount", value="-5"), headers=htmx("price-workspace")
    )
    assert response.status_code == 200
    assert "1 of the 2 variants would get an invalid price" in response.text
    assert "Would be negative." in response.text
    assert "Apply to" not in response.text


def test_a_wrong_adjustment_is_marked_and_what_was_typed_stays(portal, db):
    signed_in(portal, "marketing")
    response = portal.post(
        "/catalog/prices/preview", data=change(value="", q="typed"), headers=htmx("price-workspace")
    )
    assert response.status_code == 422
    assert field_error(response.text, "value")
    assert input_value(response.text, "q") == "typed"


def test_applying_changes_the_previewed_variants_records_history_and_audits(portal, db):
    user = signed_in(portal, "marketing")
    ProductFactory(name="Mug", slug="mug", price=Decimal("10.00"))
    ProductFactory(name="Plate", slug="plate", price=Decimal("20.00"))
    preview = portal.post("/catalog/prices/preview", data=change(q="mug")).text  # as a plain page
    assert "<h1>Bulk price change</h1>" in preview and "Apply to 1 variant" in preview
    response = portal.post("/catalog/prices/apply", data={**change(q="mug"), "expected_count": "1"})
    assert response.status_code == 302
    assert "/catalog/products?q=mug" in response.headers["Location"]
    assert "Changed the price of 1 variant." in flashes(portal.get(response.headers["Location"]).text)
    assert prices_of("SKU-MUG", "SKU-PLATE") == [Decimal("11.00"), Decimal("20.00")]
    history = db.session.scalar(select(PriceChange).where(PriceChange.old_amount == Decimal("10.00")))
    assert (history.new_amount, history.changed_by_id, history.reason) == (
        Decimal("11.00"),
        user.id,
        "Autumn prices",
    )
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "catalog.prices.bulk_changed"))
    assert entry.actor_id == user.id


def test_nothing_is_applied_when_the_count_differs_from_the_preview(portal, db):
    signed_in(portal, "marketing")
    ProductFactory(name="Mug", slug="mug", price=Decimal("10.00"))
    ProductFactory(name="Mug two", slug="mug-two", price=Decimal("12.00"))
    response = portal.post("/catalog/prices/apply", data={**change(q="mug"), "expected_count": "1"})
    assert response.status_code == 409
    assert "Nothing was changed: this filter now matches 2 variants" in response.text
    assert "Apply to 2 variants" in response.text
    assert prices_of("SKU-MUG", "SKU-MUG-TWO") == [Decimal("10.00"), Decimal("12.00")]
    assert (
        db.session.scalar(
            select(func.count()).select_from(PriceChange).where(PriceChange.old_amount.is_not(None))
        )
        == 0
    )


def test_setting_compare_at_prices_for_a_brand(portal, db):
    signed_in(portal, "marketing")
    brand = BrandFactory()
    ProductFactory(slug="a", brand=brand, price=Decimal("10.00"))
    ProductFactory(slug="b", price=Decimal("10.00"))
    data = {
        **change(brand=str(brand.id), field="compare_at_price", mode="set", value="15.00"),
        "expected_count": "1",
    }
    assert portal.post("/catalog/prices/apply", data=data).status_code == 302
    compare_at = dict(db.session.execute(select(Variant.sku, Variant.compare_at_price)).all())
    assert compare_at == {"SKU-A": Decimal("15.00"), "SKU-B": None}
