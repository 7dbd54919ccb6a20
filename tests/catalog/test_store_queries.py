"""Storefront read side: search words, category subtrees, the list and product page with
the inventory's real StockView, the answer cache, and statements that do not grow."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

import pytest

from app.blueprints.catalog import store_cache, store_product_page, store_queries
from app.blueprints.catalog.models import ProductImage
from app.blueprints.catalog.store_queries import ProductListFilter
from app.core.errors import InvalidInput
from tests.catalog.store_support import STORE, counted_statements, registered, reset_rate_limits
from tests.factories.catalog import (
    BrandFactory,
    CategoryFactory,
    LocationFactory,
    ProductFactory,
    product_with_variants,
    stock,
)


@pytest.fixture
def real_stock():
    """The inventory's StockView, whatever a test elsewhere left registered."""
    inventory = pytest.importorskip("app.blueprints.inventory.stock_view")
    with registered(inventory.InventoryStockView()) as view:
        yield view


@contextmanager
def configured(app, **settings):
    """App settings for the block, the previous ones (or their absence) back afterwards."""
    missing = object()
    previous = {name: app.config.get(name, missing) for name in settings}
    app.config.update(settings)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is missing:
                app.config.pop(name, None)
            else:
                app.config[name] = value


@pytest.fixture
def answer_cache(app):
    """The answer cache on (the test profile has it off), empty before and after."""

    def clear():
        for name in ("answers", "totals"):
            app.extensions.pop(f"store_catalog_{name}", None)

    clear()
    reset_rate_limits()
    with configured(app, STORE_API_CACHE_SECONDS=60):
        yield
    clear()
    reset_rate_limits()


# ---- search words -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "words"),
    [
        ("Blue Jacket", ["blue", "jacket"]),
        ("blue & !jacket | (x:*) <-> 'y'", ["blue", "jacket", "x", "y"]),
        ("TS-1001-M", ["ts", "1001", "m"]),
        ("snake_case", ["snake", "case"]),
        ("Müller Größe", ["müller", "größe"]),
        ("!!! ***", []),
        ("a b c d e f g h i j", ["a", "b", "c", "d", "e", "f", "g", "h"]),
    ],
)
def test_search_words_are_letters_and_digits_only(q, words):
    assert store_queries.search_words(q) == words


# ---- category subtrees --------------------------------------------------------------------


def test_subtree_holds_the_category_and_its_visible_descendants(db):
    clothing = CategoryFactory(slug="clothing")
    shirts = CategoryFactory(slug="shirts", parent=clothing)
    flannel = CategoryFactory(slug="flannel", parent=shirts)
    retired = CategoryFactory(slug="retired", parent=clothing, is_active=False)
    CategoryFactory(slug="under-retired", parent=retired)
    CategoryFactory(slug="elsewhere")
    assert sorted(store_queries.visible_subtree_ids("clothing")) == sorted(
        [clothing.id, shirts.id, flannel.id]
    )
    assert store_queries.visible_subtree_ids("flannel") == [flannel.id]
    for hidden in ("retired", "under-retired", "nothing"):
        with pytest.raises(InvalidInput) as error:
            store_queries.visible_subtree_ids(hidden)
        assert "category" in error.value.errors


# ---- the list and the page with the real StockView -----------------------------------------


def test_availability_and_in_stock_filter_follow_the_inventory(db, real_stock):
    warehouse = LocationFactory()
    stocked = ProductFactory(slug="stocked")
    sold_out = ProductFactory(slug="sold-out")
    backorderable = ProductFactory(slug="backorderable")
    stock(stocked.variants[0], warehouse, on_hand=5)
    stock(sold_out.variants[0], warehouse, on_hand=3, reserved=3)
    backorderable.variants[0].backorder_policy = "allow"
    backorderable.variants[0].expected_restock_date = date(2026, 2, 1)
    db.session.flush()

    cards, total = store_queries.product_list(ProductListFilter(sort="name"), 1, 24)
    assert {card.slug: card.availability for card in cards} == {
        "stocked": "in_stock",
        "sold-out": "out_of_stock",
        "backorderable": "backorder",
    }
    in_stock, total = store_queries.product_list(ProductListFilter(in_stock=True), 1, 24)
    assert [card.slug for card in in_stock] == ["stocked"] and total == 1

    page = store_product_page.product_page("backorderable")
    [variant] = page.variants
    assert variant.availability.state == "backorder"
    assert variant.availability.expected_restock_date == date(2026, 2, 1)


def test_list_statements_with_the_real_stock_view_do_not_grow(client, db, real_stock):
    warehouse = LocationFactory()
    parent = CategoryFactory(slug="clothing")
    category = CategoryFactory(parent=parent)
    for index in range(30):
        product = product_with_variants({"Size": ["S", "M"]}, slug=f"tee-{index}", categories=[category])
        product.images.append(ProductImage(url=f"https://img.example/{index}.jpg"))
        stock(product.variants[0], warehouse, on_hand=index)
    reset_rate_limits()

    def statements_for(page_size: int) -> int:
        with counted_statements(db) as statements:
            response = client.get(
                f"{STORE}/products",
                query_string={
                    "category": "clothing",
                    "sort": "price",
                    "in_stock": "true",
                    "page_size": page_size,
                },
            )
        assert len(response.get_json()) == page_size
        return len(statements)

    # Category, page, count, variants, availability.
    assert statements_for(1) == statements_for(29) == 5


def test_product_page_statements_with_the_real_stock_view(client, db, real_stock):
    warehouse = LocationFactory()
    product = product_with_variants(
        {"Size": ["S", "M", "L"], "Colour": ["Red", "Blue"]}, slug="tee", categories=[CategoryFactory()]
    )
    for variant in product.variants:
        stock(variant, warehouse, on_hand=2)
    reset_rate_limits()
    with counted_statements(db) as statements:
        body = client.get(f"{STORE}/products/tee").get_json()
    assert {v["availability"]["state"] for v in body["variants"]} == {"in_stock"}
    # Product (brand joined), images, attributes, options, values, variants, their
    # option values, breadcrumbs, availability.
    assert len(statements) == 9


def test_category_total_counts_each_product_for_sale_once(client, db):
    clothing = CategoryFactory(slug="clothing")
    shirts = CategoryFactory(slug="shirts", parent=clothing)
    flannel = CategoryFactory(slug="flannel", parent=shirts)
    ProductFactory(slug="oxford", categories=[shirts], price=Decimal("30.00"))
    ProductFactory(slug="lumberjack", categories=[flannel], price=Decimal("40.00"))
    ProductFactory(slug="both", categories=[shirts, flannel], price=Decimal("50.00"))
    ProductFactory(slug="draft", categories=[shirts], status="draft")
    ProductFactory(slug="archived", categories=[flannel], status="archived")
    ProductFactory(slug="elsewhere", categories=[CategoryFactory()])

    def total(**params) -> int:
        response = client.get(f"{STORE}/products", query_string={"page_size": 1, **params})
        return json.loads(response.headers["X-Pagination"])["total"]

    assert total(category="clothing") == total(category="shirts") == 3
    assert total(category="flannel") == 2
    assert total(category="clothing", min_price="35") == 2  # counted the general way


def test_a_last_page_is_not_counted_again(client, db):
    for index in range(3):
        ProductFactory(slug=f"p{index}")
    reset_rate_limits()
    with counted_statements(db) as statements:
        response = client.get(f"{STORE}/products", query_string={"page_size": 10})
    assert response.headers["X-Pagination"].startswith('{"total": 3')
    assert not any("count(" in statement.lower() for statement in statements)


def test_option_matrix_lists_only_existing_variants_beyond_the_limit(monkeypatch, db):
    monkeypatch.setattr(store_product_page, "MATRIX_LIMIT", 3)
    product_with_variants(
        {"Size": ["S", "M"], "Colour": ["Red", "Blue"]}, slug="tee", inactive=(("M", "Blue"),)
    )
    page = store_product_page.product_page("tee")
    assert [cell.sku for cell in page.option_matrix] == ["TEE-S-RED", "TEE-S-BLUE", "TEE-M-RED"]


def test_options_show_only_values_some_variant_for_sale_has(db):
    product_with_variants({"Size": ["S", "M"]}, slug="tee", inactive=(("M",),))
    page = store_product_page.product_page("tee")
    assert [(o.name, o.values) for o in page.options] == [("Size", ["S"])]
    assert page.option_matrix[0].sku == "TEE-S"


# ---- the answer cache ---------------------------------------------------------------------


def test_expiring_cache_forgets_after_its_seconds_and_keeps_the_most_recent(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(store_cache.time, "monotonic", lambda: now[0])
    cache = store_cache.ExpiringCache(seconds=10, size=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)  # b, the least recently used, goes
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    now[0] += 10.5
    assert cache.get("a") is None and cache.entries == {"c": cache.entries["c"]}


def test_answers_are_served_from_the_cache_for_its_seconds(client, db, answer_cache):
    product = ProductFactory(slug="coat", price=Decimal("50.00"))
    first = client.get(f"{STORE}/products", query_string={"q": "Product"})
    product.min_price = Decimal("45.00")
    db.session.flush()
    # The same search in another case, with a tracking parameter: the same answer.
    again = client.get(f"{STORE}/products", query_string={"q": "  product ", "utm_source": "mail"})
    assert first.headers["X-Cache"] == "miss" and again.headers["X-Cache"] == "hit"
    assert again.data == first.data and again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["X-Pagination"] == first.headers["X-Pagination"]
    other = client.get(f"{STORE}/products", query_string={"q": "product", "sort": "price"})
    assert other.headers["X-Cache"] == "miss" and other.get_json()[0]["min_price"] == "45.00"
    conditional = client.get(f"{STORE}/products/coat", headers={"If-None-Match": '"x"'})
    cached_304 = client.get(f"{STORE}/products/coat", headers={"If-None-Match": conditional.headers["ETag"]})
    assert cached_304.status_code == 304 and cached_304.headers["X-Cache"] == "hit"


def test_the_brand_is_part_of_the_cached_answer_key(client, db, answer_cache):
    ProductFactory(slug="anvil", brand=BrandFactory(slug="acme"))
    ProductFactory(slug="kettle", brand=BrandFactory(slug="other"))
    acme = client.get(f"{STORE}/products", query_string={"brand": "acme"})
    other = client.get(f"{STORE}/products", query_string={"brand": "other"})
    assert other.headers["X-Cache"] == "miss"
    assert [p["slug"] for p in acme.get_json()] == ["anvil"]
    assert [p["slug"] for p in other.get_json()] == ["kettle"]


def test_the_brand_filter_adds_no_statement(client, db):
    ProductFactory(slug="anvil", brand=BrandFactory(slug="acme"))
    reset_rate_limits()
    with counted_statements(db) as without:
        client.get(f"{STORE}/products")
    with counted_statements(db) as with_brand:
        assert client.get(f"{STORE}/products", query_string={"brand": "acme"}).status_code == 200
    assert len(with_brand) == len(without)


def test_errors_are_never_cached(client, db, answer_cache):
    assert client.get(f"{STORE}/products/later").status_code == 404
    ProductFactory(slug="later")
    assert client.get(f"{STORE}/products/later").status_code == 200


def test_cached_answers_do_not_count_against_the_rate_limit(app, client, db, answer_cache):
    ProductFactory(slug="coat")
    with configured(app, STORE_API_RATE_LIMIT="2 per minute"):
        statuses = [client.get(f"{STORE}/products/coat").status_code for _ in range(5)]
        assert statuses == [200] * 5  # one computed, four from the cache
        assert client.get(f"{STORE}/products").status_code == 200
        assert client.get(f"{STORE}/categories").status_code == 429  # the third computed one


def test_totals_are_counted_once_per_filter(client, db, answer_cache):
    for index in range(5):
        ProductFactory(slug=f"p{index}")
    client.get(f"{STORE}/products", query_string={"page_size": 2, "sort": "name"})
    with counted_statements(db) as statements:
        second = client.get(f"{STORE}/products", query_string={"page_size": 2, "page": 2, "sort": "price"})
    assert second.headers["X-Cache"] == "miss" and '"total": 5' in second.headers["X-Pagination"]
    assert not any("count(" in statement.lower() for statement in statements)
