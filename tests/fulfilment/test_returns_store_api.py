"""Returns on the storefront API: what an order allows to be returned, asking for a return
(customer token for their own orders, or the order's tracking token for guests), the
customer's returns. Another customer's order and a wrong token are a 404; bad bodies are
422 field errors, a closed window a 409, never a 500."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.blueprints.auth import tokens
from app.blueprints.fulfilment.models import ReturnRequest
from app.blueprints.orders import checkout
from app.blueprints.orders.order_models import OrderEvent
from app.core.transaction import transaction
from app.extensions import db
from tests.factories.auth import UserFactory, make_token
from tests.factories.customers import CustomerFactory
from tests.fulfilment.return_helpers import Staff, days_ago, delivered_order, line_of, return_in_state
from tests.orders.checkout_helpers import make_shop

STORE = "/api/v1/store"
PROBLEM = "application/problem+json"
STAFF = Staff()


@pytest.fixture
def shop(db):
    return make_shop()


def bearer_for(customer) -> dict:
    _, secret = tokens.issue_customer_token(customer.id)
    return {"Authorization": f"Bearer {secret}"}


def assert_problem(response, status):
    assert response.status_code == status, response.text
    assert response.mimetype == PROBLEM and "Traceback" not in response.text
    return response.get_json()


def body_for(line_id, quantity=1, reason="damaged", note="") -> dict:
    return {"lines": [{"order_line_id": line_id, "quantity": quantity}], "reason": reason, "note": note}


def returns_count() -> int:
    return db.session.scalar(select(func.count()).select_from(ReturnRequest))


# ---- what can be returned ------------------------------------------------------------------


def test_the_returnable_lines_of_my_order_draw_the_return_form(client, shop):
    ada = CustomerFactory()
    order = delivered_order(shop, [(shop.teapot, 1), (shop.cup, 2)], staff=STAFF, customer=ada)

    response = client.get(f"{STORE}/orders/{order.number}/returnable", headers=bearer_for(ada))

    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert body["order_number"] == order.number and body["window_days"] == 30 and body["can_return"]
    assert "changed_mind" in body["reasons"]
    cup = next(line for line in body["lines"] if line["sku"] == shop.cup.sku)
    assert cup["order_line_id"] == line_of(order, shop.cup)
    assert (cup["quantity"], cup["delivered"], cup["in_returns"], cup["returnable"]) == (2, 2, 0, 2)
    assert cup["window_open"] and cup["can_return"] and cup["window_closes_at"].endswith("+00:00")


def test_a_guest_uses_the_tracking_token(client, shop):
    order = delivered_order(shop, [(shop.cup, 1)], staff=STAFF, email="guest@example.org")
    token = checkout.tracking_token(order)

    assert client.get(f"{STORE}/orders/{order.number}/returnable?token={token}").status_code == 200
    for wrong in ("nope", token[:-1] + ("A" if token[-1] != "A" else "B"), "é" * 10):
        assert_problem(client.get(f"{STORE}/orders/{order.number}/returnable?token={wrong}"), 404)
    body = assert_problem(client.get(f"{STORE}/orders/{order.number}/returnable"), 401)
    assert body["code"] == "unauthenticated"


def test_another_customers_order_is_a_404_for_every_returns_endpoint(client, shop):
    ada, bob = CustomerFactory(), CustomerFactory()
    bobs = delivered_order(shop, [(shop.cup, 1)], staff=STAFF, customer=bob)
    guest = delivered_order(shop, [(shop.cup, 1)], staff=STAFF, email=ada.email)

    for number in (bobs.number, guest.number, "999999"):
        path = f"{STORE}/orders/{number}"
        assert_problem(client.get(f"{path}/returnable", headers=bearer_for(ada)), 404)
        assert_problem(client.get(f"{path}/returns", headers=bearer_for(ada)), 404)
        assert_problem(client.post(f"{path}/returns", json=body_for(1), headers=bearer_for(ada)), 404)
    assert returns_count() == 0


# ---- asking for a return -------------------------------------------------------------------


def test_a_customer_asks_for_a_return_of_delivered_units(client, shop):
    ada = CustomerFactory()
    order = delivered_order(shop, [(shop.teapot, 1), (shop.cup, 2)], staff=STAFF, customer=ada)
    cup = line_of(order, shop.cup)

    response = client.post(
        f"{STORE}/orders/{order.number}/returns",
        json=body_for(cup, 2, reason="not_as_described", note="Smaller than the photo"),
        headers=bearer_for(ada),
    )

    assert response.status_code == 201, response.text
    body = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/store/orders/{order.number}/returns")
    assert (body["number"], body["order_number"], body["status"]) == (
        f"R{order.number}-1",
        order.number,
        "requested",
    )
    assert (body["reason"], body["note"], body["rejection_reason"]) == (
        "not_as_described",
        "Smaller than the photo",
        None,
    )
    assert body["lines"] == [
        {
            "order_line_id": cup,
            "sku": shop.cup.sku,
            "product_name": "Cup",
            "variant_title": order.lines[1].title,
            "quantity": 2,
        }
    ]
    assert (body["refunded_amount"], body["currency"]) == ("0.00", "EUR")
    assert "staff_note" not in body and "id" not in body
    event = db.session.scalars(select(OrderEvent).where(OrderEvent.kind == "return")).one()
    assert event.actor_label == f"customer {ada.email}"

    listed = client.get(f"{STORE}/orders/{order.number}/returns", headers=bearer_for(ada)).get_json()
    assert [ret["number"] for ret in listed] == [body["number"]]
    returnable = client.get(f"{STORE}/orders/{order.number}/returnable", headers=bearer_for(ada)).get_json()
    assert next(line for line in returnable["lines"] if line["order_line_id"] == cup)["returnable"] == 0


def test_a_guest_asks_for_a_return_with_the_tracking_token(client, shop):
    order = delivered_order(shop, [(shop.cup, 1)], staff=STAFF, email="guest@example.org")
    token = checkout.tracking_token(order)

    response = client.post(
        f"{STORE}/orders/{order.number}/returns?token={token}", json=body_for(order.lines[0].id)
    )

    assert response.status_code == 201, response.text
    event = db.session.scalars(select(OrderEvent).where(OrderEvent.kind == "return")).one()
    assert event.actor_label == "customer guest@example.org"
    assert_problem(client.post(f"{STORE}/orders/{order.number}/returns?token=wrong", json=body_for(1)), 404)
    assert_problem(client.post(f"{STORE}/orders/{order.number}/returns", json=body_for(1)), 401)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "lines"),
        ({"lines": [], "reason": "damaged"}, "lines"),
        ({"lines": [{"order_line_id": "LINE", "quantity": "2"}], "reason": "damaged"}, "lines.0.quantity"),
        ({"lines": [{"order_line_id": "LINE", "quantity": 0}], "reason": "damaged"}, "lines.0.quantity"),
        ({"lines": [{"order_line_id": "LINE", "quantity": 1}], "reason": "ugly"}, "reason"),
        ({"lines": [{"order_line_id": "LINE", "quantity": 1}]}, "reason"),
        ({"lines": [{"quantity": 1}], "reason": "damaged"}, "lines.0.order_line_id"),
        (
            {"lines": [{"order_line_id": "LINE", "quantity": 1}], "reason": "damaged", "note": "x" * 2001},
            "note",
        ),
        (
            {"lines": [{"order_line_id": "LINE", "quantity": 1}], "reason": "damaged", "colour": "red"},
            "colour",
        ),
        (
            {
                "lines": [{"order_line_id": "LINE", "quantity": 1}, {"order_line_id": "LINE", "quantity": 1}],
                "reason": "damaged",
            },
            "lines.1.order_line_id",
        ),
        ({"lines": [{"order_line_id": 2**40, "quantity": 1}], "reason": "damaged"}, "lines.0.order_line_id"),
        ({"lines": [{"order_line_id": 999999, "quantity": 1}], "reason": "damaged"}, "lines.999999"),
        ({"lines": [{"order_line_id": "LINE", "quantity": 3}], "reason": "damaged"}, "lines.LINE"),
    ],
)
def test_bad_bodies_are_422_field_errors(client, shop, body, field):
    ada = CustomerFactory()
    order = delivered_order(shop, [(shop.cup, 2)], staff=STAFF, customer=ada)
    line_id = order.lines[0].id
    body = json.loads(json.dumps(body).replace('"LINE"', str(line_id)))

    problem = assert_problem(
        client.post(f"{STORE}/orders/{order.number}/returns", json=body, headers=bearer_for(ada)), 422
    )

    assert field.replace("LINE", str(line_id)) in problem["errors"], problem
    assert returns_count() == 0


def test_outside_the_window_is_a_409_naming_the_lines(client, shop):
    ada = CustomerFactory()
    order = delivered_order(shop, [(shop.cup, 1)], staff=STAFF, customer=ada, delivered_at=days_ago(40))
    line_id = order.lines[0].id

    problem = assert_problem(
        client.post(
            f"{STORE}/orders/{order.number}/returns", json=body_for(line_id), headers=bearer_for(ada)
        ),
        409,
    )

    assert problem["code"] == "return_window_closed" and f"lines.{line_id}" in problem["errors"]


def test_an_order_not_delivered_yet_is_a_409(client, shop):
    from tests.fulfilment.return_helpers import shipped_order

    ada = CustomerFactory()
    order = shipped_order(shop, [(shop.cup, 1)], staff=STAFF, customer=ada)
    problem = assert_problem(
        client.post(
            f"{STORE}/orders/{order.number}/returns",
            json=body_for(order.lines[0].id),
            headers=bearer_for(ada),
        ),
        409,
    )
    assert problem["code"] == "not_delivered"


def test_a_retried_request_with_its_idempotency_key_answers_the_first_return(client, shop):
    ada = CustomerFactory()
    order = delivered_order(shop, [(shop.cup, 2)], staff=STAFF, customer=ada)
    headers = {**bearer_for(ada), "Idempotency-Key": str(uuid.uuid4())}
    path = f"{STORE}/orders/{order.number}/returns"

    first = client.post(path, json=body_for(order.lines[0].id), headers=headers)
    again = client.post(path, json=body_for(order.lines[0].id), headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true" and again.get_json() == first.get_json()
    assert returns_count() == 1
    other_body = assert_problem(client.post(path, json=body_for(order.lines[0].id, 2), headers=headers), 422)
    assert other_body["code"] == "idempotency_key_reused"


# ---- my returns ----------------------------------------------------------------------------


def test_my_returns_are_mine_only_newest_first_and_paginated(client, shop):
    ada, bob = CustomerFactory(), CustomerFactory()
    order = delivered_order(shop, [(shop.cup, 5)], staff=STAFF, customer=ada)
    older = return_in_state(order, "rejected", actor=STAFF, location=shop.location)
    newer = return_in_state(
        order, "received", actor=STAFF, location=shop.location, lines={order.lines[0].id: 2}
    )
    with transaction():
        db.session.get(ReturnRequest, older.id).requested_at = newer.requested_at - timedelta(days=1)
    return_in_state(
        delivered_order(shop, [(shop.cup, 1)], staff=STAFF, customer=bob),
        "requested",
        actor=STAFF,
        location=shop.location,
    )

    response = client.get(f"{STORE}/me/returns", headers=bearer_for(ada))

    assert response.status_code == 200
    body = response.get_json()
    assert [ret["number"] for ret in body] == [newer.number, older.number]
    assert body[1]["status"] == "rejected" and body[1]["rejection_reason"] == "Outside our policy"
    assert body[0]["lines"][0]["quantity"] == 2 and "restocked_quantity" not in body[0]["lines"][0]
    paged = client.get(f"{STORE}/me/returns?page=2&page_size=1", headers=bearer_for(ada))
    assert [ret["number"] for ret in paged.get_json()] == [older.number]
    assert json.loads(paged.headers["X-Pagination"])["total"] == 2
    assert_problem(client.get(f"{STORE}/me/returns?page_size=101", headers=bearer_for(ada)), 422)


def test_my_returns_need_a_customer_token(client, shop):
    staff = {"Authorization": f"Bearer {make_token(UserFactory(), ['fulfilment.read'])}"}
    assert_problem(client.get(f"{STORE}/me/returns"), 401)
    assert_problem(client.get(f"{STORE}/me/returns", headers={"Authorization": "Bearer crm_nonsense"}), 401)
    assert_problem(client.get(f"{STORE}/me/returns", headers=staff), 403)


def test_a_bad_bearer_token_is_a_401_even_with_a_tracking_token(client, shop):
    order = delivered_order(shop, [(shop.cup, 1)], staff=STAFF, email="guest@example.org")
    token = checkout.tracking_token(order)
    response = client.get(
        f"{STORE}/orders/{order.number}/returns?token={token}",
        headers={"Authorization": "Bearer crm_nonsense"},
    )
    assert_problem(response, 401)


def test_the_returns_endpoints_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/orders/{number}/returns", "/orders/{number}/returnable", "/me/returns"):
        assert f"/api/v1/store{path}" in paths
