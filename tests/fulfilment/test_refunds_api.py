"""The staff refunds API: what is refundable, the refunds of an order, a new refund with
its Idempotency-Key (replayed, reused with another body, required), every bad input a
422 naming its field, state conflicts 409s, and the scopes."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.blueprints.fulfilment.models import Refund
from app.blueprints.orders.order_models import Order
from app.core.transaction import transaction
from app.extensions import db
from tests.factories.auth import UserFactory, make_token
from tests.fulfilment.test_refunds import line_of, paid_order, received_return, refund
from tests.orders.checkout_helpers import make_shop, place_order_directly

ADMIN = "/api/v1/admin"
PROBLEM = "application/problem+json"


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def staff(db):
    with transaction():
        return UserFactory(roles=["admin"])


@pytest.fixture
def order(shop, staff) -> Order:
    """Paid by bank transfer: 2 teapots (24.20), a cup (3.50), shipping 4.95 = 32.65."""
    return paid_order(shop, staff)


def headers(scopes=("orders.read", "orders.refund"), key: str | None = "auto") -> dict:
    sent = {"Authorization": f"Bearer {make_token(UserFactory(roles=['admin']), list(scopes))}"}
    if key is not None:
        sent["Idempotency-Key"] = str(uuid.uuid4()) if key == "auto" else key
    return sent


def post_refund(client, order, body, **kwargs):
    return client.post(f"{ADMIN}/orders/{order.number}/refunds", json=body, headers=headers(**kwargs))


def assert_problem(response, status, code=None):
    assert response.status_code == status, response.text
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status and "Traceback" not in response.text
    if code:
        assert body["code"] == code, body
    return body


def field_errors(response) -> dict:
    return assert_problem(response, 422)["errors"]


def refunds_of(order) -> int:
    return db.session.scalar(select(func.count()).select_from(Refund).where(Refund.order_id == order.id))


AMOUNT = {"amount": "5.00", "reason": "Goodwill", "method": "manual"}


# ---- reading --------------------------------------------------------------------------------------


def test_what_is_refundable_as_decimal_strings(client, shop, order):
    response = client.get(f"{ADMIN}/orders/{order.number}/refundable", headers=headers(["orders.read"]))

    assert response.status_code == 200
    body = response.get_json()
    assert (body["currency"], body["captured"], body["refunded"], body["refundable"]) == (
        "EUR",
        "32.65",
        "0.00",
        "32.65",
    )
    assert body["shipping"] == {"paid": "4.95", "refunded": "0.00", "refundable": "4.95"}
    assert body["methods"] == ["manual"]
    teapots = next(line for line in body["lines"] if line["order_line_id"] == line_of(order, shop.teapot).id)
    assert teapots == {
        "order_line_id": line_of(order, shop.teapot).id,
        "sku": shop.teapot.sku,
        "name": "Teapot",
        "title": line_of(order, shop.teapot).title,
        "quantity": 2,
        "line_total": "24.20",
        "refunded_quantity": 0,
        "refundable_quantity": 2,
        "unit_amount": "12.10",
        "refundable_amount": "24.20",
    }


def test_reading_needs_orders_read_and_an_existing_order(client, order):
    path = f"{ADMIN}/orders/{order.number}/refundable"
    assert client.get(path).status_code == 401
    assert_problem(client.get(path, headers=headers(["orders.settings"])), 403)
    assert_problem(client.get(f"{ADMIN}/orders/999999999/refunds", headers=headers()), 404, "order_not_found")


def test_the_refunds_of_an_order_with_their_credit_notes(client, shop, staff, order):
    made = refund(order, staff, lines={line_of(order, shop.cup).id: 1}, reason="Chipped")

    response = client.get(f"{ADMIN}/orders/{order.number}/refunds", headers=headers(["orders.read"]))

    assert response.status_code == 200
    (entry,) = response.get_json()
    assert entry["id"] == made.id and entry["order_number"] == order.number
    assert (entry["amount"], entry["shipping_amount"], entry["currency"], entry["method"]) == (
        "3.50",
        "0.00",
        "EUR",
        "manual",
    )
    assert entry["lines"] == [{"order_line_id": line_of(order, shop.cup).id, "quantity": 1, "amount": "3.50"}]
    assert (entry["reason"], entry["created_by"], entry["return_number"]) == ("Chipped", staff.email, None)
    assert entry["credit_note"]["number"].startswith("CN-") and entry["credit_note"]["status"] == "rendered"
    assert entry["created_at"].endswith("+00:00")


# ---- refunding ------------------------------------------------------------------------------------


def test_refunding_lines_and_the_shipping(client, shop, order):
    body = {
        "lines": [{"order_line_id": line_of(order, shop.teapot).id, "quantity": 1}],
        "include_shipping": True,
        "reason": "Broken lid",
        "method": "manual",
    }
    response = post_refund(client, order, body)

    assert response.status_code == 201, response.text
    created = response.get_json()
    assert (created["amount"], created["shipping_amount"]) == ("17.05", "4.95")
    assert created["credit_note"]["amount"] == "17.05"
    assert response.headers["Location"].endswith(f"/orders/{order.number}/refunds")
    db.session.refresh(order)
    assert (order.amount_refunded, order.payment_status) == (Decimal("17.05"), "partially_refunded")


def test_a_replay_answers_the_first_refund_and_refunds_once(client, order):
    sent = headers(key="refund-abc")
    first = client.post(f"{ADMIN}/orders/{order.number}/refunds", json=AMOUNT, headers=sent)
    again = client.post(f"{ADMIN}/orders/{order.number}/refunds", json=AMOUNT, headers=sent)

    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert refunds_of(order) == 1


def test_the_same_key_with_another_body_is_a_422(client, order):
    sent = headers(key="refund-xyz")
    assert client.post(f"{ADMIN}/orders/{order.number}/refunds", json=AMOUNT, headers=sent).status_code == 201
    other = client.post(
        f"{ADMIN}/orders/{order.number}/refunds", json={**AMOUNT, "amount": "6.00"}, headers=sent
    )
    assert assert_problem(other, 422, "idempotency_key_reused")
    assert refunds_of(order) == 1


def test_a_refund_needs_an_idempotency_key(client, order):
    response = post_refund(client, order, AMOUNT, key=None)
    assert_problem(response, 400, "idempotency_key_required")
    assert refunds_of(order) == 0


def test_a_failed_refund_frees_its_key_for_a_corrected_retry(client, order):
    sent = headers(key="fix-and-retry")
    too_much = client.post(
        f"{ADMIN}/orders/{order.number}/refunds", json={**AMOUNT, "amount": "99.00"}, headers=sent
    )
    assert field_errors(too_much) == {"amount": ["At most 32.65."]}
    fixed = client.post(
        f"{ADMIN}/orders/{order.number}/refunds", json={**AMOUNT, "amount": "9.00"}, headers=sent
    )
    assert fixed.status_code == 201


def test_refunding_needs_the_orders_refund_scope(client, order):
    assert post_refund(client, order, AMOUNT, scopes=["orders.read", "orders.manage"]).status_code == 403
    response = client.post(f"{ADMIN}/orders/{order.number}/refunds", json=AMOUNT)
    assert response.status_code == 401
    assert refunds_of(order) == 0


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"amount": "32.66"}, "amount", "At most 32.65."),
        ({"amount": "0.00"}, "amount", "At least 0.01."),
        ({"amount": "-1.00"}, "amount", "At least 0.01."),
        ({"amount": 5}, "amount", None),  # a JSON number for money
        ({"amount": "5.001"}, "amount", "At most two decimals."),
        ({"amount": "1e40"}, "amount", None),
        ({"amount": "lots"}, "amount", None),
        ({"reason": ""}, "reason", None),
        ({"reason": "   "}, "reason", "Required."),
        ({"method": "cash"}, "method", None),
        ({"method": "gateway"}, "method", None),  # a bank transfer is not refunded online
        ({"surprise": 1}, "surprise", None),
        ({"return_number": "R1-1"}, "return_number", None),
    ],
)
def test_bad_refunds_are_422s_naming_the_field(client, order, change, field, message):
    response = post_refund(client, order, {**AMOUNT, **change})
    errors = field_errors(response)
    assert field in errors, errors
    if message:
        assert errors[field] == [message]
    assert refunds_of(order) == 0


def test_bad_lines_are_422s(client, shop, order):
    teapots = line_of(order, shop.teapot).id
    cases = [
        (
            {"lines": [{"order_line_id": teapots, "quantity": 3}]},
            f"{shop.teapot.sku}: at most 2 left to refund.",
        ),
        ({"lines": [{"order_line_id": 999999, "quantity": 1}]}, "Line 999999 is not on this order."),
    ]
    for lines, message in cases:
        body = {"reason": "Bad", "method": "manual", **lines}
        assert field_errors(post_refund(client, order, body)) == {"lines": [message]}
    for bad in (
        {"lines": [{"order_line_id": teapots, "quantity": 0}]},
        {"lines": [{"order_line_id": teapots, "quantity": "1"}]},
        {"lines": []},
        {"lines": [{"order_line_id": teapots, "quantity": 1}, {"order_line_id": teapots, "quantity": 1}]},
        {"lines": [{"order_line_id": teapots, "quantity": 1}], "amount": "1.00"},
        {},  # neither lines, an amount nor the shipping
    ):
        body = {"reason": "Bad", "method": "manual", **bad}
        errors = field_errors(post_refund(client, order, body))
        assert any(key.startswith("lines") for key in errors), errors
    assert refunds_of(order) == 0


def test_nothing_left_to_refund_is_a_409(client, staff, order):
    refund(order, staff, amount=Decimal("32.65"))
    assert_problem(post_refund(client, order, AMOUNT), 409, "nothing_to_refund")


def test_an_unpaid_order_is_a_409(client, shop):
    unpaid = place_order_directly([(shop.cup, 1)])
    assert_problem(post_refund(client, unpaid, AMOUNT), 409, "nothing_to_refund")


def test_a_refund_for_a_return_names_it_and_marks_it_refunded(client, shop, order):
    pytest.importorskip("app.blueprints.fulfilment.returns")
    ret = received_return(order, line_of(order, shop.teapot), 1)
    body = {
        "lines": [{"order_line_id": line_of(order, shop.teapot).id, "quantity": 1}],
        "reason": "Returned",
        "method": "manual",
        "return_number": ret.number,
    }
    response = post_refund(client, order, body)
    assert response.status_code == 201, response.text
    assert response.get_json()["return_number"] == ret.number
    db.session.refresh(ret)
    assert ret.status == "refunded"


def test_the_refund_endpoints_are_in_the_openapi_document(client, db):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    refunds_path = paths["/api/v1/admin/orders/{number}/refunds"]
    assert {"get", "post"} <= set(refunds_path)
    assert "422" in refunds_path["post"]["responses"] and "409" in refunds_path["post"]["responses"]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in refunds_path["post"]["parameters"])
    assert "get" in paths["/api/v1/admin/orders/{number}/refundable"]
