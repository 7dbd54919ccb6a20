"""The staff catalog API (/api/v1/admin): products, options, variants, prices,
categories and brands; who may call what; problem+json errors; money as strings."""

import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.blueprints.catalog.models import PriceChange, Variant
from tests.factories.auth import UserFactory, make_token
from tests.factories.catalog import BrandFactory, CategoryFactory, ProductFactory

ADMIN = "/api/v1/admin"
ALL_SCOPES = ["catalog.read", "catalog.write", "catalog.prices"]
PROBLEM = "application/problem+json"


def staff_headers(scopes=ALL_SCOPES):
    return {"Authorization": f"Bearer {make_token(UserFactory(roles=['admin']), list(scopes))}"}


@pytest.fixture
def headers(db):
    return staff_headers()


def field_errors(response, status=422):
    assert response.status_code == status, response.text
    assert response.mimetype == PROBLEM
    return response.get_json()["errors"]


NEW_PRODUCT = {"name": "Desk lamp", "variants": [{"sku": "LAMP-1", "price": "29.95"}]}
BULK = {"filter": {"q": "nothing-matches"}, "adjustment": {"mode": "percent", "value": "10"}}

# (method, path, body, the scope it needs)
ENDPOINTS = [
    ("get", "/products", None, "catalog.read"),
    ("post", "/products", NEW_PRODUCT, "catalog.write"),
    ("get", "/products/1", None, "catalog.read"),
    ("patch", "/products/1", {"name": "x"}, "catalog.write"),
    ("delete", "/products/1", None, "catalog.write"),
    ("post", "/products/1/status", {"status": "active"}, "catalog.write"),
    ("put", "/products/1/options", {"options": [{"name": "Size", "values": ["S"]}]}, "catalog.write"),
    ("post", "/products/1/variants/generate", {"price": "1"}, "catalog.write"),
    ("post", "/products/1/variants", {"sku": "N", "price": "1"}, "catalog.write"),
    ("get", "/variants/1", None, "catalog.read"),
    ("patch", "/variants/1", {"weight_grams": 5}, "catalog.write"),
    ("patch", "/variants/1", {"price": "5.00"}, "catalog.prices"),
    ("delete", "/variants/1", None, "catalog.write"),
    ("get", "/variants/1/price-history", None, "catalog.read"),
    ("get", "/variants/by-sku/ANY", None, "catalog.read"),
    ("post", "/prices/preview", BULK, "catalog.prices"),
    ("post", "/prices/bulk-change", BULK, "catalog.prices"),
    ("get", "/categories", None, "catalog.read"),
    ("post", "/categories", {"name": "Lamps"}, "catalog.write"),
    ("get", "/categories/1", None, "catalog.read"),
    ("patch", "/categories/1", {"name": "x"}, "catalog.write"),
    ("delete", "/categories/1", None, "catalog.write"),
    ("post", "/categories/1/move", {"parent_id": None}, "catalog.write"),
    ("get", "/brands", None, "catalog.read"),
    ("post", "/brands", {"name": "Acme"}, "catalog.write"),
    ("patch", "/brands/1", {"name": "x"}, "catalog.write"),
    ("delete", "/brands/1", None, "catalog.write"),
]


@pytest.mark.parametrize(("method", "path", "body", "_scope"), ENDPOINTS)
def test_every_endpoint_needs_a_bearer_token(client, db, method, path, body, _scope):
    response = getattr(client, method)(ADMIN + path, json=body)
    assert response.status_code == 401 and response.mimetype == PROBLEM


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS)
def test_a_token_without_the_scope_is_refused(client, db, method, path, body, scope):
    product = ProductFactory()
    path = path.replace("/products/1", f"/products/{product.id}").replace(
        "/variants/1", f"/variants/{product.variants[0].id}"
    )
    others = [s for s in ALL_SCOPES if s != scope]
    response = getattr(client, method)(ADMIN + path, json=body, headers=staff_headers(others))
    assert response.status_code == 403, response.text
    assert response.mimetype == PROBLEM and scope in response.get_json()["detail"]


# ---- products ----------------------------------------------------------------------------


def test_create_a_product_with_options_and_read_it_back(client, headers):
    brand, category = BrandFactory(), CategoryFactory()
    body = {
        "name": "Tee",
        "brand_id": brand.id,
        "category_ids": [category.id],
        "description": "Soft *cotton*",
        "images": [{"url": "https://img.example/tee.jpg", "alt_text": "front"}],
        "attributes": [{"name": "Material", "value": "Cotton"}],
        "options": [{"name": "Size", "values": ["S", "M"]}, {"name": "Colour", "values": ["Red"]}],
        "variants": [
            {"sku": "TEE-S", "price": "10.00", "options": {"Size": "S", "Colour": "Red"}},
            {
                "sku": "TEE-M",
                "price": "12.50",
                "compare_at_price": "15",
                "options": {"Size": "M", "Colour": "Red"},
            },
        ],
    }
    response = client.post(f"{ADMIN}/products", json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.mimetype == "application/json"
    product = response.get_json()
    assert product["slug"] == "tee" and product["status"] == "draft"
    assert (product["min_price"], product["max_price"], product["currency"]) == ("10.00", "12.50", "EUR")
    assert product["brand"] == {"id": brand.id, "name": brand.name}
    assert product["category_ids"] == [category.id]
    assert product["options"] == [
        {"name": "Size", "values": ["S", "M"]},
        {"name": "Colour", "values": ["Red"]},
    ]
    assert [v["options"] for v in product["variants"]] == [
        {"Size": "S", "Colour": "Red"},
        {"Size": "M", "Colour": "Red"},
    ]
    assert product["variants"][1]["compare_at_price"] == "15.00"
    again = client.get(f"{ADMIN}/products/{product['id']}", headers=headers)
    assert again.get_json() == product


def test_product_list_filters_sorts_and_paginates(client, headers):
    brand = BrandFactory()
    for price in ("30.00", "10.00", "20.00"):
        ProductFactory(price=Decimal(price), brand=brand)
    ProductFactory(price=Decimal("5.00"))
    response = client.get(
        f"{ADMIN}/products",
        query_string={"brand_id": brand.id, "sort": "-price", "page_size": 2},
        headers=headers,
    )
    assert response.status_code == 200
    assert [p["min_price"] for p in response.get_json()] == ["30.00", "20.00"]
    pagination = json.loads(response.headers["X-Pagination"])
    assert pagination["total"] == 3 and pagination["total_pages"] == 2
    response = client.get(f"{ADMIN}/products", query_string={"min_price": "15", "q": ""}, headers=headers)
    assert sorted(p["min_price"] for p in response.get_json()) == ["20.00", "30.00"]


def test_product_list_rejects_bad_filters(client, headers):
    errors = field_errors(
        client.get(f"{ADMIN}/products", query_string={"sort": "random", "status": "gone"}, headers=headers)
    )
    assert set(errors) == {"sort", "status"}


def test_create_reports_field_errors_and_saves_nothing(client, headers):
    ProductFactory(slug="taken")
    body = {
        "name": "Bad",
        "slug": "taken",
        "tax_class": "luxury",
        "category_ids": [987654],
        "variants": [{"sku": "X", "price": "-1", "compare_at_price": "0"}],
    }
    errors = field_errors(client.post(f"{ADMIN}/products", json=body, headers=headers))
    assert "tax_class" in errors  # marshmallow catches the unknown tax class first
    body.pop("tax_class")
    errors = field_errors(client.post(f"{ADMIN}/products", json=body, headers=headers))
    assert set(errors) >= {"slug", "category_ids", "variants.0.price"}
    listed = client.get(f"{ADMIN}/products", query_string={"q": "bad"}, headers=headers)
    assert listed.get_json() == []


def test_a_duplicate_sku_is_a_field_error(client, headers):
    ProductFactory(slug="lamp")  # SKU-LAMP
    body = {"name": "Other", "variants": [{"sku": "SKU-LAMP", "price": "1"}]}
    assert "variants.0.sku" in field_errors(client.post(f"{ADMIN}/products", json=body, headers=headers))


def test_patch_changes_only_the_fields_given(client, headers):
    category = CategoryFactory()
    created = client.post(f"{ADMIN}/products", json=NEW_PRODUCT, headers=headers).get_json()
    response = client.patch(
        f"{ADMIN}/products/{created['id']}",
        json={"seo_title": "Best lamp", "category_ids": [category.id]},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    product = response.get_json()
    assert product["seo_title"] == "Best lamp" and product["name"] == "Desk lamp"
    assert product["category_ids"] == [category.id] and product["slug"] == created["slug"]


def test_status_delete_and_conflicts(client, headers):
    created = client.post(f"{ADMIN}/products", json=NEW_PRODUCT, headers=headers).get_json()
    url = f"{ADMIN}/products/{created['id']}"
    response = client.post(f"{url}/status", json={"status": "active"}, headers=headers)
    assert response.status_code == 200 and response.get_json()["published_at"]
    response = client.delete(url, headers=headers)
    assert response.status_code == 409 and response.mimetype == PROBLEM
    client.post(f"{url}/status", json={"status": "draft"}, headers=headers)
    assert client.delete(url, headers=headers).status_code == 204
    assert client.get(url, headers=headers).status_code == 404


def test_unknown_ids_are_404_problems(client, headers):
    for path in ("/products/999999", "/variants/999999", "/categories/999999", "/variants/by-sku/NOPE"):
        response = client.get(ADMIN + path, headers=headers)
        assert response.status_code == 404 and response.mimetype == PROBLEM
    assert client.get(f"{ADMIN}/products/99999999999", headers=headers).status_code == 404
    assert client.patch(f"{ADMIN}/brands/999999", json={"name": "x"}, headers=headers).status_code == 404


# ---- options and variants ----------------------------------------------------------------


def test_options_then_generate_then_add_a_variant(client, headers):
    created = client.post(f"{ADMIN}/products", json=NEW_PRODUCT, headers=headers).get_json()
    url = f"{ADMIN}/products/{created['id']}"
    response = client.put(
        f"{url}/options",
        json={"options": [{"name": "Colour", "values": ["Black", "White"]}]},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    response = client.post(
        f"{url}/variants/generate", json={"price": "30", "sku_prefix": "lamp"}, headers=headers
    )
    assert response.status_code == 201, response.text
    assert sorted(v["sku"] for v in response.get_json()) == ["LAMP-BLACK", "LAMP-WHITE"]
    client.put(
        f"{url}/options",
        json={"options": [{"name": "Colour", "values": ["Black", "White", "Red"]}]},
        headers=headers,
    )
    response = client.post(
        f"{url}/variants",
        json={"sku": "LAMP-RED", "price": "31", "options": {"Colour": "Red"}},
        headers=headers,
    )
    assert response.status_code == 201 and response.get_json()["title"] == "Red"
    errors = field_errors(
        client.post(
            f"{url}/variants", json={"sku": "X2", "price": "1", "options": {"Colour": "Red"}}, headers=headers
        )
    )
    assert "options" in errors
    response = client.put(
        f"{url}/options", json={"options": [{"name": "Colour", "values": ["Black"]}]}, headers=headers
    )
    assert response.status_code == 409 and response.mimetype == PROBLEM
    product = client.get(url, headers=headers).get_json()
    assert [v["sku"] for v in product["variants"]] == ["LAMP-BLACK", "LAMP-WHITE", "LAMP-RED"]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"price": 19.99}, "price", "not a JSON number"),
        ({"price": 20}, "price", "not a JSON number"),
        ({"price": "19.999"}, "price", "At most two decimals."),
        ({"compare_at_price": 25.5}, "compare_at_price", "not a JSON number"),
        ({"cost_price": "4.001"}, "cost_price", "At most two decimals."),
    ],
)
def test_money_in_a_body_is_a_decimal_string_with_two_decimals_at_most(
    client, headers, db, body, field, message
):
    variant = ProductFactory(price=Decimal("10")).variants[0]
    errors = field_errors(client.patch(f"{ADMIN}/variants/{variant.id}", json=body, headers=headers))
    assert message in errors[field][0]
    db.session.refresh(variant)
    assert variant.price == Decimal("10.00")


def test_money_in_new_variants_and_the_bulk_filter_is_checked_too(client, headers, db):
    product = ProductFactory(price=Decimal("10"))
    body = {"sku": "NEW-1", "price": "19.999"}
    errors = field_errors(client.post(f"{ADMIN}/products/{product.id}/variants", json=body, headers=headers))
    assert errors == {"price": ["At most two decimals."]}
    body = {"name": "Lamp", "variants": [{"sku": "LAMP-9", "price": 19.99}]}
    assert "variants.0.price" in field_errors(client.post(f"{ADMIN}/products", json=body, headers=headers))
    body = {"filter": {"min_price": 5}, "adjustment": {"mode": "set", "value": "7.00"}}
    assert "filter.min_price" in field_errors(
        client.post(f"{ADMIN}/prices/bulk-change", json=body, headers=headers)
    )


@pytest.mark.parametrize(
    ("adjustment", "message"),
    [
        ({"mode": "set", "value": 19.99}, "not a JSON number"),
        ({"mode": "set", "value": "19.999"}, "At most two decimals."),
        ({"mode": "amount", "value": "-0.005"}, "At most two decimals."),
    ],
)
def test_a_bulk_change_value_is_a_decimal_string_never_rounded(client, headers, db, adjustment, message):
    ProductFactory(price=Decimal("10"))
    body = {"filter": {}, "adjustment": adjustment}
    errors = field_errors(client.post(f"{ADMIN}/prices/bulk-change", json=body, headers=headers))
    assert message in next(iter(errors.values()))[0]
    assert list(db.session.scalars(select(Variant.price))) == [Decimal("10.00")]


def test_a_percentage_may_have_more_decimals(client, headers, db):
    ProductFactory(price=Decimal("10"))
    body = {"filter": {}, "adjustment": {"mode": "percent", "value": "12.125"}}
    response = client.post(f"{ADMIN}/prices/bulk-change", json=body, headers=headers)
    assert response.status_code == 200 and response.get_json() == {"changed": 1}


def test_variant_patch_records_price_history(client, db):
    user = UserFactory(roles=["admin"])
    headers = {"Authorization": f"Bearer {make_token(user, ALL_SCOPES)}"}
    variant = ProductFactory(price=Decimal("10")).variants[0]
    response = client.patch(
        f"{ADMIN}/variants/{variant.id}", json={"price": "12.35", "reason": "supplier"}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.get_json()["price"] == "12.35"
    history = client.get(f"{ADMIN}/variants/{variant.id}/price-history", headers=headers).get_json()
    assert history[0]["old_amount"] == "10.00" and history[0]["new_amount"] == "12.35"
    assert history[0]["changed_by_id"] == user.id and history[0]["reason"] == "supplier"
    assert history[0]["currency"] == "EUR"


def test_variant_patch_needs_only_write_without_price_fields(client, db):
    variant = ProductFactory().variants[0]
    headers = staff_headers(["catalog.write"])
    response = client.patch(f"{ADMIN}/variants/{variant.id}", json={"barcode": "8712345"}, headers=headers)
    assert response.status_code == 200 and response.get_json()["barcode"] == "8712345"
    assert (
        client.get(f"{ADMIN}/variants/by-sku/{variant.sku}", headers=staff_headers()).get_json()["id"]
        == variant.id
    )


def test_variant_patch_field_errors(client, headers):
    variant = ProductFactory(price=Decimal("10")).variants[0]
    errors = field_errors(
        client.patch(
            f"{ADMIN}/variants/{variant.id}",
            json={"compare_at_price": "5", "weight_grams": -1},
            headers=headers,
        )
    )
    assert "weight_grams" in errors
    errors = field_errors(
        client.patch(f"{ADMIN}/variants/{variant.id}", json={"compare_at_price": "5"}, headers=headers)
    )
    assert "compare_at_price" in errors
    errors = field_errors(
        client.patch(f"{ADMIN}/variants/{variant.id}", json={"options": {}}, headers=headers)
    )
    assert "options" in errors


def test_deleting_the_last_variant_is_a_conflict(client, headers):
    variant = ProductFactory().variants[0]
    response = client.delete(f"{ADMIN}/variants/{variant.id}", headers=headers)
    assert response.status_code == 409 and response.get_json()["code"] == "last_variant"


# ---- prices ------------------------------------------------------------------------------


def test_preview_then_bulk_change(client, headers, db):
    brand = BrandFactory()
    products = [ProductFactory(price=Decimal(p), brand=brand) for p in ("10.00", "20.00")]
    body = {
        "filter": {"brand_id": brand.id},
        "adjustment": {"mode": "percent", "value": "-10", "reason": "sale"},
    }
    preview = client.post(f"{ADMIN}/prices/preview", json=body, headers=headers)
    assert preview.status_code == 200, preview.text
    data = preview.get_json()
    assert data["count"] == 2 and data["invalid_count"] == 0 and data["currency"] == "EUR"
    assert {(r["old"], r["new"]) for r in data["rows"]} == {("10.00", "9.00"), ("20.00", "18.00")}
    response = client.post(f"{ADMIN}/prices/bulk-change", json=body, headers=headers)
    assert response.status_code == 200 and response.get_json() == {"changed": 2}
    prices = db.session.scalars(select(Variant.price).where(Variant.product_id.in_([p.id for p in products])))
    assert sorted(prices) == [Decimal("9.00"), Decimal("18.00")]
    assert len(db.session.scalars(select(PriceChange).where(PriceChange.reason == "sale")).all()) == 2


def test_bulk_change_refuses_invalid_results_and_bad_bodies(client, headers):
    ProductFactory(price=Decimal("5"))
    body = {"filter": {}, "adjustment": {"mode": "amount", "value": "-10"}}
    assert "value" in field_errors(client.post(f"{ADMIN}/prices/bulk-change", json=body, headers=headers))
    body = {"filter": {"sort": "x"}, "adjustment": {"mode": "double", "value": "nan"}}
    errors = field_errors(client.post(f"{ADMIN}/prices/bulk-change", json=body, headers=headers))
    assert set(errors) >= {"filter.sort", "adjustment.mode", "adjustment.value"}


def test_bulk_change_with_a_stale_expected_count_is_a_conflict_and_changes_nothing(client, headers, db):
    brand = BrandFactory()
    ProductFactory(price=Decimal("10.00"), brand=brand)
    body = {"filter": {"brand_id": brand.id}, "adjustment": {"mode": "set", "value": "7.00"}}
    assert client.post(f"{ADMIN}/prices/preview", json=body, headers=headers).get_json()["count"] == 1
    ProductFactory(price=Decimal("12.00"), brand=brand)  # the catalog moved on since the preview
    response = client.post(f"{ADMIN}/prices/bulk-change", json={**body, "expected_count": 1}, headers=headers)
    assert response.status_code == 409 and response.mimetype == PROBLEM
    assert response.get_json()["code"] == "preview_out_of_date"
    assert sorted(db.session.scalars(select(Variant.price))) == [Decimal("10.00"), Decimal("12.00")]
    assert db.session.scalars(select(PriceChange)).all() == []
    response = client.post(f"{ADMIN}/prices/bulk-change", json={**body, "expected_count": 2}, headers=headers)
    assert response.status_code == 200 and response.get_json() == {"changed": 2}


def test_bulk_change_expected_count_must_be_a_whole_number(client, headers):
    body = {**BULK, "expected_count": "two"}
    assert "expected_count" in field_errors(
        client.post(f"{ADMIN}/prices/bulk-change", json=body, headers=headers)
    )


def test_an_invalid_compare_at_result_is_named_compare_at(client, headers):
    ProductFactory(price=Decimal("10.00"))
    body = {"filter": {}, "adjustment": {"mode": "set", "value": "5.00", "field": "compare_at_price"}}
    errors = field_errors(client.post(f"{ADMIN}/prices/bulk-change", json=body, headers=headers))
    assert errors["value"] == [
        "1 variants would get an invalid compare-at price. Preview the change to see them."
    ]


# ---- categories and brands ---------------------------------------------------------------


def test_category_tree_create_move_and_delete(client, headers):
    root = client.post(f"{ADMIN}/categories", json={"name": "Home"}, headers=headers).get_json()
    lamps = client.post(
        f"{ADMIN}/categories", json={"name": "Lamps", "parent_id": root["id"]}, headers=headers
    )
    assert lamps.status_code == 201
    lamps = lamps.get_json()
    assert lamps["path"] == f"/{root['id']}/{lamps['id']}/" and lamps["depth"] == 1
    tree = client.get(f"{ADMIN}/categories", headers=headers).get_json()
    assert tree[0]["slug"] == "home" and tree[0]["children"][0]["slug"] == "lamps"
    moved = client.post(f"{ADMIN}/categories/{lamps['id']}/move", json={"parent_id": None}, headers=headers)
    assert moved.status_code == 200 and moved.get_json()["path"] == f"/{lamps['id']}/"
    errors = field_errors(
        client.post(f"{ADMIN}/categories/{root['id']}/move", json={"parent_id": root["id"]}, headers=headers)
    )
    assert "parent_id" in errors
    assert "slug" in field_errors(
        client.post(f"{ADMIN}/categories", json={"name": "x", "slug": "home"}, headers=headers)
    )
    response = client.patch(f"{ADMIN}/categories/{root['id']}", json={"is_active": False}, headers=headers)
    assert response.get_json()["is_active"] is False
    client.post(f"{ADMIN}/categories/{lamps['id']}/move", json={"parent_id": root["id"]}, headers=headers)
    assert client.delete(f"{ADMIN}/categories/{root['id']}", headers=headers).status_code == 409
    assert client.delete(f"{ADMIN}/categories/{lamps['id']}", headers=headers).status_code == 204


def test_brands_crud(client, headers):
    response = client.post(f"{ADMIN}/brands", json={"name": "Acme"}, headers=headers)
    assert response.status_code == 201 and response.get_json()["slug"] == "acme"
    brand_id = response.get_json()["id"]
    assert "name" in field_errors(client.post(f"{ADMIN}/brands", json={"name": "acme"}, headers=headers))
    response = client.patch(f"{ADMIN}/brands/{brand_id}", json={"is_active": False}, headers=headers)
    assert response.get_json()["is_active"] is False
    assert [b["name"] for b in client.get(f"{ADMIN}/brands", headers=headers).get_json()] == ["Acme"]
    assert client.delete(f"{ADMIN}/brands/{brand_id}", headers=headers).status_code == 204
    assert client.get(f"{ADMIN}/brands", headers=headers).get_json() == []


def test_malformed_json_is_a_problem_not_a_500(client, headers):
    response = client.post(
        f"{ADMIN}/products", data="{nope", headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422) and response.mimetype == PROBLEM
