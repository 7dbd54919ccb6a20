"""The customer's own orders on the storefront API: only their own (anyone else's is a 404),
newest first, with a status history that shows no internal notes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app.blueprints.auth import tokens
from app.blueprints.orders import lifecycle, payments
from app.blueprints.orders.order_models import Order
from app.core.transaction import transaction
from app.extensions import db
from tests.factories.auth import UserFactory, make_token
from tests.factories.customers import CustomerFactory
from tests.orders.checkout_helpers import checkout_call, make_shop, place_order_directly, ready_cart

STORE = "/api/v1/store"
PROBLEM = "application/problem+json"


@pytest.fixture
def shop(db):
    return make_shop()


def bearer_for(customer) -> dict:
    _, secret = tokens.issue_customer_token(customer.id)
    return {"Authorization": f"Bearer {secret}"}


def order_for(shop, customer=None, *, email="ada@example.org", quantity=1) -> Order:
    return place_order_directly([(shop.teapot, quantity)], customer=customer, email=email)


def assert_problem(response, status):
    assert response.status_code == status, response.text
    assert response.mimetype == PROBLEM and "Traceback" not in response.text
    return response.get_json()


def test_my_orders_lists_only_my_own_newest_first(client, shop):
    ada, bob = CustomerFactory(), CustomerFactory()
    older = order_for(shop, ada)
    newer = order_for(shop, ada, quantity=2)
    order_for(shop, bob)
    order_for(shop, email=ada.email)  # a guest order with her address is not hers
    with transaction():
        db.session.get(Order, older.id).placed_at = datetime(2026, 1, 1, tzinfo=UTC)

    response = client.get(f"{STORE}/me/orders", headers=bearer_for(ada))

    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert [order["number"] for order in body] == [newer.number, older.number]
    assert body[0]["totals"]["total"] == "29.15" and body[0]["lines"][0]["quantity"] == 2
    assert "id" not in body[0] and "timeline" not in body[0] and "payments" not in body[0]


def test_my_orders_are_paginated(client, shop):
    ada = CustomerFactory()
    for _ in range(3):
        order_for(shop, ada)

    response = client.get(f"{STORE}/me/orders?page=2&page_size=2", headers=bearer_for(ada))

    assert response.status_code == 200 and len(response.get_json()) == 1
    pagination = json.loads(response.headers["X-Pagination"])
    assert (pagination["total"], pagination["total_pages"]) == (3, 2)
    assert_problem(client.get(f"{STORE}/me/orders?page_size=101", headers=bearer_for(ada)), 422)


def test_another_customers_order_is_a_404_not_a_403(client, shop):
    ada, bob = CustomerFactory(), CustomerFactory()
    bobs = order_for(shop, bob)
    guest = order_for(shop, email=ada.email)

    for number in (bobs.number, guest.number, "999999", "x" * 40):
        body = assert_problem(client.get(f"{STORE}/me/orders/{number}", headers=bearer_for(ada)), 404)
        assert body.get("code") in (None, "order_not_found")
    assert client.get(f"{STORE}/me/orders/{bobs.number}", headers=bearer_for(bob)).status_code == 200


def test_my_order_shows_status_changes_but_no_internal_notes(client, shop):
    ada = CustomerFactory()
    order = order_for(shop, ada)
    staff = UserFactory()
    with transaction():
        order = db.session.get(Order, order.id)
        lifecycle.add_note(order, actor=staff, text="Customer sounded drunk")
        lifecycle.hold_order(order, actor=staff, reason="Fraud check on the card")
        lifecycle.release_hold(order, actor=staff, note="Checked with the bank")
        payments.mark_paid(order, actor=staff, note="Transfer from a third party")

    response = client.get(f"{STORE}/me/orders/{order.number}", headers=bearer_for(ada))

    assert response.status_code == 200, response.text
    body = response.get_json()
    assert (body["number"], body["status"], body["payment"]["status"]) == (order.number, "paid", "paid")
    assert [(e["kind"], e["from_status"], e["to_status"]) for e in body["timeline"]] == [
        ("placed", None, "pending_payment"),
        ("status", "pending_payment", "on_hold"),
        ("status", "on_hold", "pending_payment"),
        ("status", "pending_payment", "paid"),
    ]
    assert all(set(event) == {"kind", "from_status", "to_status", "created_at"} for event in body["timeline"])
    for secret in ("drunk", "Fraud", "bank", "third party", staff.email):
        assert secret not in response.text


def test_my_orders_need_a_customer_token(client, shop):
    order = order_for(shop, CustomerFactory())
    staff = {"Authorization": f"Bearer {make_token(UserFactory(), ['orders.read'])}"}

    for path in ("/me/orders", f"/me/orders/{order.number}"):
        assert_problem(client.get(STORE + path), 401)
        assert_problem(client.get(STORE + path, headers={"Authorization": "Bearer crm_nonsense"}), 401)
        assert_problem(client.get(STORE + path, headers=staff), 403)


def test_a_blocked_customer_is_refused(client, shop):
    ada = CustomerFactory()
    order_for(shop, ada)
    headers = bearer_for(ada)
    ada.status = "blocked"
    db.session.flush()

    assert_problem(client.get(f"{STORE}/me/orders", headers=headers), 403)


def test_a_customers_checkout_points_at_the_new_order(client, shop):
    ada = CustomerFactory()
    headers = bearer_for(ada)
    cart_id = ready_cart(client, [(shop.cup.sku, 1)], headers=headers)

    placed = checkout_call(client, cart_id, headers=headers)

    assert placed.status_code == 201, placed.text
    number = placed.get_json()["number"]
    assert placed.headers["Location"].endswith(f"/api/v1/store/me/orders/{number}")
    mine = client.get(placed.headers["Location"], headers=headers)
    assert mine.status_code == 200 and mine.get_json()["number"] == number


def test_the_my_orders_paths_are_in_the_openapi_document(client, db):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert paths[f"{STORE}/me/orders"]["get"]["security"] == [{"bearerAuth": []}]
    assert paths[f"{STORE}/me/orders/{{number}}"]["get"]["security"] == [{"bearerAuth": []}]
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert "timeline" in schemas["CustomerOrder"]["properties"]
    assert "note" not in schemas["CustomerOrderEvent"]["properties"]


def test_my_orders_endpoints_declare_the_customer_as_caller(app):
    from app.core.permissions import access_declaration

    declared = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(f"{STORE}/me/orders"):
            view_class = app.view_functions[rule.endpoint].view_class
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                declared[(rule.endpoint, method)] = access_declaration(getattr(view_class, method.lower()))
    assert {("store_orders_api.MyOrders", "GET"), ("store_orders_api.MyOrder", "GET")} <= set(declared)
    assert set(declared.values()) == {"customer"}
