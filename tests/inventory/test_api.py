"""The staff inventory API (/api/v1/admin): who may call what, the happy paths, and bad
input answered with problem+json 422 (fields) or 409 (stock), never a 500."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.blueprints.inventory import alerts, reservations
from app.blueprints.inventory.models import Backorder, StockLocation
from app.core.models import AuditEntry
from tests.factories.auth import UserFactory, make_token
from tests.inventory.helpers import level, make_variant, receive

ADMIN = "/api/v1/admin"
PROBLEM = "application/problem+json"
ALL_SCOPES = ["inventory.read", "inventory.write", "inventory.locations"]

# (method, path, body, the scope it needs)
ENDPOINTS = [
    ("get", "/locations", None, "inventory.read"),
    ("post", "/locations", {"code": "N1", "name": "North"}, "inventory.locations"),
    ("get", "/locations/1", None, "inventory.read"),
    ("patch", "/locations/1", {"name": "Renamed"}, "inventory.locations"),
    ("get", "/stock", None, "inventory.read"),
    ("get", "/variants/1/stock", None, "inventory.read"),
    (
        "post",
        "/stock/adjustments",
        {"sku": "X", "location": "WH1", "delta": 1, "reason": "r"},
        "inventory.write",
    ),
    ("post", "/stock/counts", {"sku": "X", "location": "WH1", "counted": 1}, "inventory.write"),
    (
        "post",
        "/stock/transfers",
        {"sku": "X", "from_location": "WH1", "to_location": "WH2", "quantity": 1},
        "inventory.write",
    ),
    ("get", "/stock/movements", None, "inventory.read"),
    ("get", "/receipts", None, "inventory.read"),
    ("post", "/receipts", {"location": "WH1", "lines": [{"sku": "X", "quantity": 1}]}, "inventory.write"),
    ("post", "/receipts/csv", {"location": "WH1", "csv": "sku,quantity\nX,1\n"}, "inventory.write"),
    ("get", "/receipts/1", None, "inventory.read"),
    ("get", "/stock/alerts", None, "inventory.read"),
    ("put", "/stock/alerts/subscription", None, "inventory.read"),
    ("get", "/backorders", None, "inventory.read"),
    ("post", "/backorders/1/cancel", {}, "inventory.write"),
]


def bearer(scopes=ALL_SCOPES, user=None):
    return {"Authorization": f"Bearer {make_token(user or UserFactory(roles=['admin']), list(scopes))}"}


@pytest.fixture
def headers(db):
    return bearer()


def problem(response, status):
    assert response.status_code == status, response.text
    assert response.mimetype == PROBLEM
    return response.get_json()


@pytest.mark.parametrize(("method", "path", "body", "_scope"), ENDPOINTS)
def test_every_endpoint_needs_a_bearer_token(client, db, method, path, body, _scope):
    response = getattr(client, method)(ADMIN + path, json=body)
    problem(response, 401)


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS)
def test_every_endpoint_needs_its_scope(client, db, method, path, body, scope):
    others = [code for code in ALL_SCOPES if code != scope]
    response = getattr(client, method)(ADMIN + path, json=body, headers=bearer(others))
    problem(response, 403)


def test_a_sales_user_may_read_stock_but_not_change_it(client, db, warehouse):
    sales = UserFactory(roles=["sales"])
    assert sales.has_permission("inventory.read") and not sales.has_permission("inventory.write")
    headers = bearer(["inventory.read"], sales)
    assert client.get(ADMIN + "/stock", headers=headers).status_code == 200
    body = {"sku": make_variant().sku, "location": "WH1", "delta": 1, "reason": "found"}
    problem(client.post(ADMIN + "/stock/adjustments", json=body, headers=headers), 403)


# ---- locations ----------------------------------------------------------------------------


def test_locations_are_created_listed_and_changed(client, db, headers):
    response = client.post(
        ADMIN + "/locations", json={"code": "ams-1", "name": "Amsterdam", "kind": "store"}, headers=headers
    )
    assert response.status_code == 201, response.text
    created = response.get_json()
    assert (created["code"], created["fulfils_orders"], created["low_stock_threshold"]) == (
        "AMS-1",
        True,
        None,
    )
    response = client.patch(
        f"{ADMIN}/locations/{created['id']}",
        json={"low_stock_threshold": 4, "is_active": False},
        headers=headers,
    )
    assert response.get_json()["low_stock_threshold"] == 4
    listed = client.get(ADMIN + "/locations", headers=headers).get_json()
    assert [loc["code"] for loc in listed] == ["AMS-1"]
    assert problem(client.get(f"{ADMIN}/locations/9999", headers=headers), 404)


def test_a_duplicate_or_malformed_location_is_a_422(client, db, headers, warehouse):
    errors = problem(
        client.post(ADMIN + "/locations", json={"code": "wh1", "name": "Again"}, headers=headers), 422
    )
    assert list(errors["errors"]) == ["code"]
    errors = problem(client.post(ADMIN + "/locations", json={"kind": "garage"}, headers=headers), 422)[
        "errors"
    ]
    assert {"code", "name", "kind"} <= set(errors)


# ---- stock ----------------------------------------------------------------------------------


def test_the_stock_list_filters_by_location_low_stock_and_text_and_paginates(
    client, db, headers, warehouse, second_warehouse
):
    low = make_variant(low_stock_threshold=5)
    plenty = make_variant()
    receive(low, warehouse, 2)
    receive(plenty, warehouse, 50)
    receive(plenty, second_warehouse, 1)
    response = client.get(ADMIN + "/stock?page_size=2", headers=headers)
    assert response.status_code == 200
    assert json.loads(response.headers["X-Pagination"])["total"] == 3
    assert len(response.get_json()) == 2
    rows = client.get(ADMIN + "/stock?location=wh1&low_stock=true", headers=headers).get_json()
    assert [(r["sku"], r["available"], r["is_low"], r["threshold"]) for r in rows] == [(low.sku, 2, True, 5)]
    rows = client.get(ADMIN + f"/stock?q={plenty.sku[-4:].lower()}", headers=headers).get_json()
    assert {r["location_code"] for r in rows} == {"WH1", "WH2"}
    errors = problem(client.get(ADMIN + "/stock?location=NOPE", headers=headers), 422)["errors"]
    assert list(errors) == ["location"]


def test_a_variants_stock_shows_levels_and_storefront_availability(client, db, headers, warehouse):
    variant = make_variant()
    receive(variant, warehouse, 4)
    reservations.reserve([(variant.id, 1)], reference="order:1")
    body = client.get(f"{ADMIN}/variants/{variant.id}/stock", headers=headers).get_json()
    assert body["availability"] == {
        "state": "in_stock",
        "available": 3,
        "backorderable": 0,
        "expected_restock_date": None,
    }
    assert [(lvl["location_code"], lvl["on_hand"], lvl["reserved"]) for lvl in body["levels"]] == [
        ("WH1", 4, 1)
    ]
    problem(client.get(f"{ADMIN}/variants/999999/stock", headers=headers), 404)


def test_adjust_count_and_transfer_through_the_api(client, db, headers, warehouse, second_warehouse):
    variant = make_variant()
    response = client.post(
        ADMIN + "/stock/adjustments",
        json={"sku": variant.sku, "location": "WH1", "delta": 10, "reason": "opening stock"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    movement = response.get_json()
    assert (movement["kind"], movement["on_hand_delta"], movement["sku"], movement["location_code"]) == (
        "adjustment",
        10,
        variant.sku,
        "WH1",
    )
    assert movement["actor_email"]
    response = client.post(
        ADMIN + "/stock/counts", json={"sku": variant.sku, "location": "WH1", "counted": 8}, headers=headers
    )
    assert response.get_json()["on_hand_delta"] == -2
    response = client.post(
        ADMIN + "/stock/transfers",
        json={"sku": variant.sku, "from_location": "WH1", "to_location": "WH2", "quantity": 3},
        headers=headers,
    )
    assert response.status_code == 201
    body = response.get_json()
    assert [m["kind"] for m in body["movements"]] == ["transfer_out", "transfer_in"]
    assert level(variant, warehouse) == (5, 0) and level(variant, second_warehouse) == (3, 0)


def test_taking_stock_that_is_not_there_is_a_409(client, db, headers, warehouse, second_warehouse):
    variant = make_variant()
    receive(variant, warehouse, 1)
    body = {"sku": variant.sku, "location": "WH1", "delta": -2, "reason": "lost"}
    assert problem(client.post(ADMIN + "/stock/adjustments", json=body, headers=headers), 409)["code"] == (
        "insufficient_stock"
    )
    body = {"sku": variant.sku, "from_location": "WH1", "to_location": "WH2", "quantity": 5}
    problem(client.post(ADMIN + "/stock/transfers", json=body, headers=headers), 409)
    assert level(variant, second_warehouse) == (0, 0)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"sku": "NOPE", "location": "WH1", "delta": 1, "reason": "r"}, {"sku"}),
        ({"sku": "{sku}", "location": "NOPE", "delta": 1, "reason": "r"}, {"location"}),
        ({"sku": "{sku}", "location": "WH1", "delta": 0, "reason": ""}, {"delta", "reason"}),
        ({"sku": "{sku}", "location": "WH1", "delta": "1", "reason": "r"}, {"delta"}),
        ({}, {"sku", "location", "delta", "reason"}),
    ],
)
def test_bad_adjustments_are_a_422_naming_the_fields(client, db, headers, warehouse, body, fields):
    sku = make_variant().sku
    body = {key: value.format(sku=sku) if isinstance(value, str) else value for key, value in body.items()}
    errors = problem(client.post(ADMIN + "/stock/adjustments", json=body, headers=headers), 422)["errors"]
    assert set(errors) == fields


def test_the_ledger_is_walked_newest_first_by_keyset(client, db, headers, warehouse):
    variant = make_variant()
    for quantity in (1, 2, 3):
        receive(variant, warehouse, quantity)
    first = client.get(ADMIN + f"/stock/movements?sku={variant.sku}&limit=2", headers=headers).get_json()
    assert [m["on_hand_delta"] for m in first["items"]] == [3, 2]
    rest = client.get(
        ADMIN + f"/stock/movements?limit=2&before_id={first['next_before_id']}", headers=headers
    )
    assert [m["on_hand_delta"] for m in rest.get_json()["items"]] == [1]
    assert rest.get_json()["next_before_id"] is None
    kinds = client.get(ADMIN + "/stock/movements?kind=receipt&location=WH1", headers=headers).get_json()
    assert len(kinds["items"]) == 3
    problem(client.get(ADMIN + "/stock/movements?kind=theft", headers=headers), 422)


# ---- receipts -----------------------------------------------------------------------------


def test_a_receipt_is_posted_as_json_and_read_back(client, db, headers, warehouse):
    first, second = make_variant(), make_variant()
    body = {
        "location": "WH1",
        "supplier": "Acme",
        "supplier_reference": "DN-7",
        "lines": [{"sku": first.sku, "quantity": 3, "unit_cost": "4.10"}, {"sku": second.sku, "quantity": 1}],
    }
    response = client.post(ADMIN + "/receipts", json=body, headers=headers)
    assert response.status_code == 201, response.text
    receipt = response.get_json()
    assert (receipt["units"], receipt["currency"], receipt["location_code"]) == (4, "EUR", "WH1")
    assert [(line["sku"], line["unit_cost"]) for line in receipt["lines"]] == [
        (first.sku, "4.10"),
        (second.sku, None),
    ]
    again = client.get(f"{ADMIN}/receipts/{receipt['id']}", headers=headers).get_json()
    assert again == receipt
    listed = client.get(ADMIN + "/receipts?supplier_reference=DN-7", headers=headers).get_json()
    assert [r["id"] for r in listed] == [receipt["id"]]
    assert level(first, warehouse) == (3, 0)


def test_a_receipt_with_bad_lines_saves_nothing(client, db, headers, warehouse):
    variant = make_variant()
    body = {"location": "WH1", "lines": [{"sku": variant.sku, "quantity": 2}, {"sku": "NOPE", "quantity": 1}]}
    errors = problem(client.post(ADMIN + "/receipts", json=body, headers=headers), 422)["errors"]
    assert list(errors) == ["lines.1.sku"]
    body = {"location": "WH1", "lines": [{"sku": variant.sku, "quantity": -2, "unit_cost": "-1"}]}
    errors = problem(client.post(ADMIN + "/receipts", json=body, headers=headers), 422)["errors"]
    assert set(errors) == {"lines.0.quantity", "lines.0.unit_cost"}
    assert level(variant, warehouse) == (0, 0)


@pytest.mark.parametrize(
    ("unit_cost", "message"),
    [(4.1, "not a JSON number"), (4, "not a JSON number"), ("4.105", "At most two decimals.")],
)
def test_a_unit_cost_is_a_decimal_string_never_rounded(client, db, headers, warehouse, unit_cost, message):
    variant = make_variant()
    body = {"location": "WH1", "lines": [{"sku": variant.sku, "quantity": 2, "unit_cost": unit_cost}]}
    errors = problem(client.post(ADMIN + "/receipts", json=body, headers=headers), 422)["errors"]
    assert list(errors) == ["lines.0.unit_cost"] and message in errors["lines.0.unit_cost"][0]
    assert level(variant, warehouse) == (0, 0)


def test_a_receipt_is_posted_as_csv_text(client, db, headers, warehouse):
    variant = make_variant()
    body = {"location": "WH1", "supplier": "Acme", "csv": f"sku,quantity,unit_cost\n{variant.sku},6,1.99\n"}
    response = client.post(ADMIN + "/receipts/csv", json=body, headers=headers)
    assert response.status_code == 201, response.text
    receipt = response.get_json()
    assert (receipt["supplier"], receipt["lines"][0]["unit_cost"]) == ("Acme", "1.99")
    assert level(variant, warehouse) == (6, 0)


def test_bad_csv_text_is_a_422_naming_the_file_or_the_cell(client, db, headers, warehouse):
    response = client.post(
        ADMIN + "/receipts/csv", json={"location": "WH1", "csv": "sku,quantity\nNOPE,1\n"}, headers=headers
    )
    assert list(problem(response, 422)["errors"]) == ["rows.2.sku"]
    response = client.post(
        ADMIN + "/receipts/csv", json={"location": "WH1", "csv": "name\nx\n"}, headers=headers
    )
    assert list(problem(response, 422)["errors"]) == ["csv"]
    response = client.post(ADMIN + "/receipts/csv", json={"csv": "sku,quantity\n"}, headers=headers)
    assert "location" in problem(response, 422)["errors"]
    response = client.post(
        ADMIN + "/receipts/csv", data="sku,quantity\n", content_type="text/csv", headers=headers
    )
    problem(response, 415)


# ---- alerts and backorders ------------------------------------------------------------------


def test_open_alerts_are_listed_and_the_subscription_follows_the_token_user(client, db, warehouse):
    user = UserFactory(roles=["support"])
    headers = bearer(["inventory.read"], user)
    variant = make_variant(low_stock_threshold=3)
    receive(variant, warehouse, 5)
    reservations.reserve([(variant.id, 3)], reference="order:1")
    rows = client.get(ADMIN + "/stock/alerts", headers=headers).get_json()
    assert [(r["sku"], r["available"], r["status"]) for r in rows] == [(variant.sku, 2, "open")]
    assert client.get(ADMIN + "/stock/alerts?status=resolved", headers=headers).get_json() == []
    assert client.put(ADMIN + "/stock/alerts/subscription", headers=headers).get_json() == {
        "subscribed": True
    }
    assert alerts.is_subscribed(user)
    assert client.get(ADMIN + "/stock/alerts/subscription", headers=headers).get_json() == {
        "subscribed": True
    }
    assert client.delete(ADMIN + "/stock/alerts/subscription", headers=headers).get_json() == {
        "subscribed": False
    }
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "inventory.alerts_subscribed"))
    assert entry.target_type == "User"


def test_backorders_are_listed_in_serving_order_and_can_be_cancelled(client, db, headers, warehouse):
    variant = make_variant(backorder_policy="allow")
    reservations.reserve([(variant.id, 2)], reference="order:1")
    reservations.reserve([(variant.id, 1)], reference="order:2")
    rows = client.get(ADMIN + f"/backorders?status=waiting&sku={variant.sku}", headers=headers).get_json()
    assert [(r["reference"], r["quantity"]) for r in rows] == [("order:1", 2), ("order:2", 1)]
    response = client.post(
        f"{ADMIN}/backorders/{rows[1]['id']}/cancel", json={"reason": "asked"}, headers=headers
    )
    assert response.get_json()["status"] == "cancelled"
    receive(variant, warehouse, 2)
    response = client.post(f"{ADMIN}/backorders/{rows[0]['id']}/cancel", json={}, headers=headers)
    assert problem(response, 409)["code"] == "backorder_allocated"
    problem(client.post(f"{ADMIN}/backorders/999999/cancel", json={}, headers=headers), 404)
    assert db.session.get(Backorder, rows[0]["id"]).status == "allocated"


def test_no_location_is_left_behind_by_a_refused_request(client, db, headers):
    client.post(ADMIN + "/locations", json={"code": "!!", "name": "x"}, headers=headers)
    assert db.session.scalar(select(StockLocation.id)) is None
