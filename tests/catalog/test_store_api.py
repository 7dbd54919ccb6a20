"""Storefront catalog API: the category tree, the product list (search, filters, sorts,
pagination), the product page, and the transport rules (ETag, caching, rate limit,
problem+json, a fixed number of statements)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.blueprints.catalog.models import ProductAttribute, ProductImage
from app.core.permissions import access_declaration
from tests.catalog.store_support import (
    STORE,
    FakeStock,
    assert_problem,
    counted_statements,
    registered,
    reset_rate_limits,
)
from tests.factories.catalog import BrandFactory, CategoryFactory, ProductFactory, product_with_variants

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def fake_stock():
    with registered(FakeStock()) as fake:
        yield fake


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    reset_rate_limits()


def slugs(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["slug"] for item in response.get_json()]


def listed(client, **params) -> list[str]:
    return slugs(client.get(f"{STORE}/products", query_string=params))


def pagination(response) -> dict:
    return json.loads(response.headers["X-Pagination"])


# ---- categories ---------------------------------------------------------------------------


def test_category_tree_nests_active_children_in_position_order(client, db):
    shoes = CategoryFactory(name="Shoes", slug="shoes", position=2)
    clothing = CategoryFactory(name="Clothing", slug="clothing", position=1, description="All of it")
    CategoryFactory(name="Jackets", slug="jackets", parent=clothing, position=2)
    shirts = CategoryFactory(name="Shirts", slug="shirts", parent=clothing, position=1)
    CategoryFactory(name="Flannel", slug="flannel", parent=shirts)
    hidden = CategoryFactory(name="Hidden", slug="hidden", parent=shoes, is_active=False)
    CategoryFactory(name="Under hidden", slug="under-hidden", parent=hidden)

    response = client.get(f"{STORE}/categories")

    assert response.status_code == 200
    tree = response.get_json()
    assert [node["slug"] for node in tree] == ["clothing", "shoes"]
    assert tree[0]["description"] == "All of it"
    assert [child["slug"] for child in tree[0]["children"]] == ["shirts", "jackets"]
    assert tree[0]["children"][0]["children"][0]["slug"] == "flannel"
    assert tree[1]["children"] == []  # an inactive category hides its whole subtree


def test_category_tree_is_one_query(client, db):
    parent = CategoryFactory()
    for _ in range(5):
        CategoryFactory(parent=CategoryFactory(parent=parent))
    with counted_statements(db) as statements:
        assert client.get(f"{STORE}/categories").status_code == 200
    assert len(statements) == 1


# ---- the product list: filters ------------------------------------------------------------


def test_only_active_products_are_listed(client, db):
    ProductFactory(slug="on-sale")
    ProductFactory(slug="a-draft", status="draft")
    ProductFactory(slug="gone", status="archived")
    assert listed(client) == ["on-sale"]


def test_category_filter_includes_sub_categories_at_any_depth(client, db):
    clothing = CategoryFactory(slug="clothing")
    shirts = CategoryFactory(slug="shirts", parent=clothing)
    flannel = CategoryFactory(slug="flannel", parent=shirts)
    shoes = CategoryFactory(slug="shoes")
    ProductFactory(slug="coat", categories=[clothing])
    ProductFactory(slug="oxford", categories=[shirts])
    ProductFactory(slug="lumberjack", categories=[flannel])
    ProductFactory(slug="boot", categories=[shoes])
    ProductFactory(slug="shirt-and-shoe", categories=[shoes, shirts])

    assert sorted(listed(client, category="clothing")) == ["coat", "lumberjack", "oxford", "shirt-and-shoe"]
    assert sorted(listed(client, category="shirts")) == ["lumberjack", "oxford", "shirt-and-shoe"]
    assert listed(client, category="flannel") == ["lumberjack"]
    assert sorted(listed(client, category="shoes")) == ["boot", "shirt-and-shoe"]


def test_category_filter_leaves_out_inactive_sub_categories(client, db):
    clothing = CategoryFactory(slug="clothing")
    retired = CategoryFactory(slug="retired", parent=clothing, is_active=False)
    below = CategoryFactory(slug="below-retired", parent=retired)
    ProductFactory(slug="coat", categories=[clothing])
    ProductFactory(slug="old-line", categories=[below])
    assert listed(client, category="clothing") == ["coat"]


@pytest.mark.parametrize("slug", ["no-such-category", "retired", "below-retired"])
def test_unknown_or_hidden_category_is_a_422_on_category(client, db, slug):
    retired = CategoryFactory(slug="retired", is_active=False)
    CategoryFactory(slug="below-retired", parent=retired)
    body = assert_problem(client.get(f"{STORE}/products", query_string={"category": slug}), 422)
    assert list(body["errors"]) == ["category"]


def test_brand_filter_lists_the_products_of_that_brand(client, db):
    acme, other = BrandFactory(slug="acme"), BrandFactory(slug="other")
    BrandFactory(slug="empty")
    ProductFactory(slug="anvil", brand=acme)
    ProductFactory(slug="rocket", brand=acme)
    ProductFactory(slug="draft-anvil", brand=acme, status="draft")
    ProductFactory(slug="kettle", brand=other)
    ProductFactory(slug="no-brand")
    assert sorted(listed(client, brand="acme")) == ["anvil", "rocket"]
    assert listed(client, brand="other", category="") == ["kettle"]
    assert listed(client, brand="empty") == []  # a brand with nothing for sale is no error


def test_unknown_brand_is_a_422_on_brand(client, db):
    ProductFactory(slug="anvil", brand=BrandFactory(slug="acme"))
    body = assert_problem(client.get(f"{STORE}/products", query_string={"brand": "no-such-brand"}), 422)
    assert list(body["errors"]) == ["brand"]


def test_price_range_is_on_the_lowest_price_inclusive(client, db):
    for slug, price in [("cheap", "5.00"), ("low", "10.00"), ("mid", "20.00"), ("high", "30.00")]:
        ProductFactory(slug=slug, price=Decimal(price))
    assert sorted(listed(client, min_price="10", max_price="20")) == ["low", "mid"]
    assert sorted(listed(client, min_price="20.00")) == ["high", "mid"]
    assert sorted(listed(client, max_price="9.99")) == ["cheap"]


def test_option_filter_needs_an_active_variant_with_the_value(client, db):
    product_with_variants({"Size": ["S", "M"]}, slug="tee-s-m")
    product_with_variants({"Size": ["M", "L"]}, slug="tee-m-inactive", inactive=(("M",),))
    product_with_variants({"Size": ["L"]}, slug="tee-l")
    ProductFactory(slug="no-options")

    assert listed(client, option="Size:M") == ["tee-s-m"]
    assert listed(client, option="size:m") == ["tee-s-m"]  # names and values in any case
    # Values of one option are alternatives.
    assert sorted(listed(client, option=["Size:S", "Size:L"])) == ["tee-l", "tee-m-inactive", "tee-s-m"]


def test_option_filters_of_different_options_must_meet_in_one_variant(client, db):
    product_with_variants({"Colour": ["Red", "Blue"], "Size": ["S", "M"]}, slug="all-combinations")
    product_with_variants(
        {"Colour": ["Red", "Blue"], "Size": ["S", "M"]},
        slug="no-red-m",
        inactive=(("Red", "M"),),
    )
    assert listed(client, option=["Colour:Red", "Size:M"]) == ["all-combinations"]
    assert sorted(listed(client, option=["Colour:Red", "Size:S"])) == ["all-combinations", "no-red-m"]


def test_in_stock_filter_keeps_products_with_a_variant_that_ships_now(client, db, fake_stock):
    stocked = ProductFactory(slug="stocked")
    backordered = ProductFactory(slug="backordered")
    ProductFactory(slug="empty")
    fake_stock.in_stock(stocked.variants[0])
    fake_stock.backorder(backordered.variants[0])

    assert listed(client, in_stock="true") == ["stocked"]
    assert len(listed(client, in_stock="false")) == 3  # false means no filter


def test_search_finds_words_of_name_sku_and_description(client, db):
    ProductFactory(slug="jacket", name="Blue Waxed Jacket", description="Keeps rain out.")
    product_with_variants({"Size": ["S", "M"]}, slug="tee", name="Plain Tee", sku_prefix="ZX91")
    ProductFactory(slug="boots", name="Hiking Boots", description="Leather uppers with brass eyelets.")

    assert listed(client, q="jacket") == ["jacket"]
    assert listed(client, q="blue jack") == ["jacket"]  # every word, each as a prefix
    assert listed(client, q="ZX91-M") == ["tee"]  # a SKU
    assert listed(client, q="brass eyelets") == ["boots"]  # the description
    assert listed(client, q="jacket boots") == []


def test_search_input_cannot_break_the_query(client, db):
    ProductFactory(slug="jacket", name="Blue Jacket")
    for q in ["blue & !(", "jacket:*|'", "\\", "%", "_", "')) OR 1=1 --", "<->", "ü"]:
        response = client.get(f"{STORE}/products", query_string={"q": q})
        assert response.status_code == 200, (q, response.text)
    assert listed(client, q="  !!! ") == ["jacket"]  # no words: no search


# ---- the product list: sorts and pages ----------------------------------------------------


@pytest.fixture
def three_products(db):
    ProductFactory(slug="b-mid", name="Bravo", price=Decimal("20.00"), published_at=T0)
    ProductFactory(slug="a-high", name="Alpha", price=Decimal("30.00"), published_at=T0 + timedelta(days=2))
    ProductFactory(slug="c-low", name="Charlie", price=Decimal("10.00"), published_at=T0 + timedelta(days=1))


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("price", ["c-low", "b-mid", "a-high"]),
        ("-price", ["a-high", "b-mid", "c-low"]),
        ("newest", ["a-high", "c-low", "b-mid"]),
        ("name", ["a-high", "b-mid", "c-low"]),
        (None, ["a-high", "c-low", "b-mid"]),  # newest without a search
        ("relevance", ["a-high", "c-low", "b-mid"]),  # nothing to rank without a search
    ],
)
def test_sort_orders(client, three_products, sort, expected):
    assert listed(client, **({"sort": sort} if sort else {})) == expected


def test_relevance_puts_name_matches_before_description_matches(client, db):
    ProductFactory(slug="mentions", name="Rain Cape", description="Better than a parka.", published_at=T0)
    ProductFactory(slug="named", name="Parka", description="Warm.", published_at=T0 - timedelta(days=9))
    assert listed(client, q="parka") == ["named", "mentions"]
    assert listed(client, q="parka", sort="newest") == ["mentions", "named"]


def test_pages_and_the_pagination_header(client, db):
    for index in range(5):
        ProductFactory(slug=f"p{index}", published_at=T0 + timedelta(days=index))
    first = client.get(f"{STORE}/products", query_string={"page_size": 2})
    last = client.get(f"{STORE}/products", query_string={"page_size": 2, "page": 3})
    assert slugs(first) == ["p4", "p3"] and slugs(last) == ["p0"]
    assert pagination(first) == {
        "total": 5,
        "total_pages": 3,
        "first_page": 1,
        "last_page": 3,
        "page": 1,
        "next_page": 2,
    }
    assert pagination(last)["previous_page"] == 2
    assert slugs(client.get(f"{STORE}/products", query_string={"page": 9})) == []


def test_a_card_shows_prices_brand_image_and_availability(client, db, fake_stock):
    brand = BrandFactory(name="Fjord", slug="fjord")
    product = product_with_variants(
        {"Size": ["S", "M", "L"]},
        slug="parka",
        name="Parka",
        brand=brand,
        prices={("S",): Decimal("90.00"), ("M",): Decimal("100.00"), ("L",): Decimal("110.00")},
    )
    product.variants[0].compare_at_price = Decimal("120.00")
    product.variants[1].compare_at_price = Decimal("150.00")
    product.images.extend(
        [
            ProductImage(url="https://img.example/2.jpg", position=2),
            ProductImage(url="https://img.example/1.jpg", alt_text="Front", position=1),
        ]
    )
    db.session.flush()
    fake_stock.backorder(product.variants[2])

    [card] = client.get(f"{STORE}/products").get_json()

    assert card == {
        "slug": "parka",
        "name": "Parka",
        "brand": {"slug": "fjord", "name": "Fjord"},
        "min_price": "90.00",
        "max_price": "110.00",
        "compare_at": {"min": "120.00", "max": "150.00"},
        "currency": "EUR",
        "image": {"url": "https://img.example/1.jpg", "alt_text": "Front"},
        "availability": "backorder",
        "in_stock": False,
    }


def test_a_card_without_brand_image_or_compare_at_price(client, db):
    ProductFactory(slug="plain")
    [card] = client.get(f"{STORE}/products").get_json()
    assert card["brand"] is None and card["image"] is None and card["compare_at"] is None
    assert card["availability"] == "out_of_stock"


# ---- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"min_price": "abc"}, "min_price"),
        ({"max_price": "-1"}, "max_price"),
        ({"min_price": "NaN"}, "min_price"),
        ({"min_price": "20", "max_price": "10"}, "max_price"),
        ({"page_size": "1000"}, "page_size"),
        ({"page_size": "0"}, "page_size"),
        ({"page": "zero"}, "page"),
        ({"sort": "bogus"}, "sort"),
        ({"option": "Size"}, "option"),
        ({"option": ":M"}, "option"),
        ({"in_stock": "maybe"}, "in_stock"),
        ({"q": "x" * 201}, "q"),
    ],
)
def test_bad_values_are_a_422_naming_the_field(client, db, params, field):
    body = assert_problem(client.get(f"{STORE}/products", query_string=params), 422)
    assert field in body["errors"], body


def test_unknown_query_arguments_are_ignored(client, db):
    ProductFactory(slug="coat")
    assert listed(client, utm_source="newsletter", colour="red") == ["coat"]


def test_blank_arguments_mean_no_filter(client, db):
    ProductFactory(slug="coat")
    assert listed(client, q="", category="", min_price="", sort="") == ["coat"]


# ---- the product page ---------------------------------------------------------------------


def test_product_page_shows_variants_options_matrix_and_availability(client, db, fake_stock):
    product = product_with_variants(
        {"Colour": ["Red", "Blue"], "Size": ["S", "M"]},
        slug="tee",
        name="Tee",
        sku_prefix="TEE",
        inactive=(("Blue", "M"),),
        prices={("Red", "S"): Decimal("12.00")},
    )
    red_s, red_m, blue_s, _blue_m = product.variants
    red_s.compare_at_price = Decimal("15.00")
    db.session.flush()
    fake_stock.in_stock(red_s, available=250)
    fake_stock.in_stock(red_m, available=3)
    fake_stock.backorder(blue_s, restock=date(2026, 3, 1))

    body = client.get(f"{STORE}/products/tee").get_json()

    assert body["options"] == [
        {"name": "Colour", "values": ["Red", "Blue"]},
        {"name": "Size", "values": ["S", "M"]},
    ]
    assert [v["sku"] for v in body["variants"]] == ["TEE-RED-S", "TEE-RED-M", "TEE-BLUE-S"]
    first = body["variants"][0]
    assert first["options"] == {"Colour": "Red", "Size": "S"} and first["title"] == "Red / S"
    assert (first["price"], first["compare_at_price"], first["currency"]) == ("12.00", "15.00", "EUR")
    # Stock is revealed up to a cap only.
    assert first["availability"] == {"state": "in_stock", "available": 10, "expected_restock_date": None}
    assert body["variants"][1]["availability"]["available"] == 3
    assert body["variants"][2]["availability"] == {
        "state": "backorder",
        "available": 0,
        "expected_restock_date": "2026-03-01",
    }
    assert body["option_matrix"] == [
        {"options": {"Colour": "Red", "Size": "S"}, "sku": "TEE-RED-S"},
        {"options": {"Colour": "Red", "Size": "M"}, "sku": "TEE-RED-M"},
        {"options": {"Colour": "Blue", "Size": "S"}, "sku": "TEE-BLUE-S"},
        {"options": {"Colour": "Blue", "Size": "M"}, "sku": None},  # not for sale
    ]
    assert body["availability"] == "in_stock" and body["in_stock"] is True
    assert (body["min_price"], body["max_price"]) == ("10.00", "12.00")


def test_product_without_options_has_one_default_variant_and_cell(client, db):
    ProductFactory(slug="mug", name="Mug", price=Decimal("8.50"))
    body = client.get(f"{STORE}/products/mug").get_json()
    assert body["options"] == []
    assert [(v["sku"], v["title"], v["options"]) for v in body["variants"]] == [("SKU-MUG", "Default", {})]
    assert body["option_matrix"] == [{"options": {}, "sku": "SKU-MUG"}]
    assert body["variants"][0]["availability"]["state"] == "out_of_stock"


def test_product_page_breadcrumbs_follow_the_main_category(client, db):
    clothing = CategoryFactory(slug="clothing", name="Clothing")
    shirts = CategoryFactory(slug="shirts", name="Shirts", parent=clothing)
    flannel = CategoryFactory(slug="flannel", name="Flannel", parent=shirts)
    sale = CategoryFactory(slug="sale", name="Sale")
    ProductFactory(slug="lumberjack", categories=[flannel, sale])  # the first link is the main one
    crumbs = client.get(f"{STORE}/products/lumberjack").get_json()["breadcrumbs"]
    assert crumbs == [
        {"slug": "clothing", "name": "Clothing"},
        {"slug": "shirts", "name": "Shirts"},
        {"slug": "flannel", "name": "Flannel"},
    ]


def test_product_page_images_attributes_brand_and_seo(client, db):
    product = ProductFactory(
        slug="boot",
        name="Hiking Boot",
        brand=BrandFactory(name="Alp", slug="alp"),
        description="**Leather** uppers. " + "Made to last for years of walking. " * 10,
        seo_title="",
    )
    product.images.append(ProductImage(url="https://img.example/boot.jpg", alt_text="Side"))
    product.attributes.append(ProductAttribute(name="Material", value="Leather"))
    db.session.flush()
    body = client.get(f"{STORE}/products/boot").get_json()
    assert body["brand"] == {"slug": "alp", "name": "Alp"}
    assert body["images"] == [{"url": "https://img.example/boot.jpg", "alt_text": "Side"}]
    assert body["attributes"] == [{"name": "Material", "value": "Leather"}]
    assert body["seo"]["title"] == "Hiking Boot"  # the name when no SEO title is set
    assert body["seo"]["description"].startswith("Leather uppers. Made to last")
    assert len(body["seo"]["description"]) <= 160
    assert body["description_html"].startswith("<p><strong>Leather</strong> uppers.")


def test_product_page_description_is_sanitized(client, db):
    ProductFactory(
        slug="evil",
        description='Hi <script>alert(1)</script> [click](javascript:alert(1)) <a href="javascript:x">a</a>',
    )
    html = client.get(f"{STORE}/products/evil").get_json()["description_html"]
    # Raw HTML is shown as text, and a javascript: link stays text, never a link.
    assert "<script" not in html and "<a" not in html and "href" not in html.replace("&lt;a href", "")


@pytest.mark.parametrize("status", ["draft", "archived"])
def test_product_page_of_a_product_not_for_sale_is_a_404(client, db, status):
    ProductFactory(slug="hidden", status=status)
    assert_problem(client.get(f"{STORE}/products/hidden"), 404)
    assert_problem(client.get(f"{STORE}/products/no-such-thing"), 404)


# ---- transport: ETag, caching, rate limit, declarations -----------------------------------


@pytest.mark.parametrize("path", ["/categories", "/products?page_size=2", "/products/coat"])
def test_answers_carry_a_strong_etag_and_304_when_it_matches(client, db, path):
    CategoryFactory(slug="clothing")
    ProductFactory(slug="coat")
    first = client.get(f"{STORE}{path}")
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["Cache-Control"] == "public, max-age=60"

    again = client.get(f"{STORE}{path}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag
    other = client.get(f"{STORE}{path}", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.headers["ETag"] == etag


def test_etag_changes_when_the_answer_does(client, db):
    product = ProductFactory(slug="coat", price=Decimal("50.00"))
    before = client.get(f"{STORE}/products").headers["ETag"]
    product.min_price = Decimal("45.00")
    db.session.flush()
    after = client.get(f"{STORE}/products", headers={"If-None-Match": before})
    assert after.status_code == 200 and after.headers["ETag"] != before


def test_etag_covers_the_pagination_total(client, db):
    ProductFactory(slug="old", published_at=T0)
    before = client.get(f"{STORE}/products", query_string={"page_size": 1})
    ProductFactory(slug="older", published_at=T0 - timedelta(days=1))  # lands on page 2
    after = client.get(f"{STORE}/products", query_string={"page_size": 1})
    assert after.data == before.data and after.headers["ETag"] != before.headers["ETag"]


def test_errors_are_not_cached(client, db):
    response = client.get(f"{STORE}/products/nothing")
    assert response.status_code == 404 and "ETag" not in response.headers
    assert "public" not in response.headers.get("Cache-Control", "")


@pytest.fixture
def strict_catalog_limit(app):
    missing = object()
    previous = app.config.get("STORE_API_RATE_LIMIT", missing)
    app.config["STORE_API_RATE_LIMIT"] = "3 per minute"
    reset_rate_limits()
    yield
    if previous is missing:
        app.config.pop("STORE_API_RATE_LIMIT")
    else:
        app.config["STORE_API_RATE_LIMIT"] = previous
    reset_rate_limits()


def test_catalog_reads_share_one_rate_limit_per_address(client, db, strict_catalog_limit):
    ProductFactory(slug="coat")
    answers = [
        client.get(f"{STORE}/categories"),
        client.get(f"{STORE}/products"),
        client.get(f"{STORE}/products/coat"),
        client.get(f"{STORE}/products"),
    ]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    body = assert_problem(answers[3], 429)
    assert int(answers[3].headers["Retry-After"]) > 0 and "Traceback" not in str(body)


def test_catalog_endpoints_are_declared_public(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("store_catalog_api."):
            view_class = app.view_functions[rule.endpoint].view_class
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert access_declaration(getattr(view_class, method.lower())) == "public", rule


def test_catalog_paths_are_in_the_openapi_document(client, db):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/store/categories", "/api/v1/store/products", "/api/v1/store/products/{slug}"):
        assert "get" in paths[path]
    listing = paths["/api/v1/store/products"]["get"]
    assert {"q", "category", "min_price", "max_price", "option", "in_stock", "sort", "page", "page_size"} <= {
        p.get("name") for p in listing["parameters"]
    }
    assert {"200", "304", "422", "429"} <= set(listing["responses"])
    assert {"ETag", "Cache-Control", "X-Pagination"} <= set(listing["responses"]["200"]["headers"])
    assert "IF_NONE_MATCH" in str(listing["parameters"])


# ---- a fixed number of statements ---------------------------------------------------------


def catalog_of(count: int):
    clothing = CategoryFactory(slug="clothing")
    shirts = CategoryFactory(slug="shirts", parent=clothing)
    brands = [BrandFactory(), BrandFactory()]
    for index in range(count):
        product = product_with_variants(
            {"Size": ["S", "M", "L"]},
            slug=f"shirt-{index}",
            brand=brands[index % 2],
            categories=[shirts],
            price=Decimal(10 + index),
        )
        product.images.append(ProductImage(url=f"https://img.example/{index}.jpg"))
        product.attributes.append(ProductAttribute(name="Material", value="Cotton"))
    return clothing


def test_list_statements_do_not_grow_with_the_page_size(client, db, fake_stock):
    catalog_of(50)

    def statements_for(page_size: int, **params) -> int:
        with counted_statements(db) as statements:
            response = client.get(
                f"{STORE}/products", query_string={"page_size": page_size, "category": "clothing", **params}
            )
        assert len(response.get_json()) == page_size
        return len(statements)

    one = statements_for(1, sort="price", option="Size:M", q="shirt")
    assert statements_for(50, sort="price", option="Size:M", q="shirt") == one
    # Category, page (brand joined, main image a column), count, variants (the fake stock
    # runs no SQL).
    assert one == 4


def test_product_page_statements_do_not_grow_with_the_variants(client, db, fake_stock):
    small = product_with_variants({"Size": ["S"]}, slug="small", categories=[CategoryFactory()])
    big = product_with_variants(
        {"Size": ["S", "M", "L", "XL"], "Colour": ["Red", "Blue", "Green"], "Fit": ["Slim", "Loose"]},
        slug="big",
        categories=[CategoryFactory(parent=CategoryFactory())],
    )
    for product in (small, big):
        product.images.append(ProductImage(url="https://img.example/x.jpg"))
        product.attributes.append(ProductAttribute(name="Material", value="Wool"))
    db.session.flush()

    def statements_for(slug: str) -> int:
        with counted_statements(db) as statements:
            assert client.get(f"{STORE}/products/{slug}").status_code == 200
        return len(statements)

    assert statements_for("small") == statements_for("big") == 8
