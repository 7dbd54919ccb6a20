"""The staff returns API: the filtered, paginated list, one return, opening a return for a
customer, and each step (approve, reject, receive, close) with its permission, its 422
field errors and its 409 for a state that does not allow it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.blueprints.fulfilment.models import ReturnRequest
from app.blueprints.inventory.models import InventoryMovement, StockLevel
from app.core.transaction import transaction
from app.extensions import db
from tests.factories.auth import UserFactory, make_token
from tests.factories.customers import CustomerFactory
from tests.fulfilment.return_helpers import Staff, delivered_order, line_of, open_return, return_in_state
from tests.orders.checkout_helpers import make_shop

ADMIN = "/api/v1/admin"
PROBLEM = "application/problem+json"
STAFF = Staff()
READ, MANAGE = "fulfilment.read", "returns.manage"


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def manager(db):
    return {"Authorization": f"Bearer {make_token(UserFactory(roles=['support']), [READ, MANAGE])}"}


@pytest.fixture
def reader(db):
    return {"Authorization": f"Bearer {make_token(UserFactory(roles=['sales']), [READ])}"}


def assert_problem(response, status):
    assert response.status_code == status, response.text
    assert response.mimetype == PROBLEM and "Traceback" not in response.text
    return response.get_json()


def numbers(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [ret["number"] for ret in response.get_json()]


# ---- reading -------------------------------------------------------------------------------


def test_the_list_filters_by_status_reason_search_dates_and_customer(client, shop, reader):
    ada = CustomerFactory(email="ada@example.org")
    adas = delivered_order(shop, [(shop.cup, 5)], staff=STAFF, customer=ada)
    bobs = delivered_order(shop, [(shop.teapot, 2)], staff=STAFF, email="bob@example.org")
    requested = open_return(adas, {adas.lines[0].id: 1}, actor=STAFF, reason="damaged")
    approved = return_in_state(adas, "approved", actor=STAFF, location=shop.location)
    received = return_in_state(bobs, "received", actor=STAFF, location=shop.location)
    with transaction():
        db.session.get(ReturnRequest, requested.id).requested_at -= timedelta(days=10)

    everything = numbers(client.get(f"{ADMIN}/returns", headers=reader))
    assert everything == [received.number, approved.number, requested.number]  # newest first
    assert numbers(client.get(f"{ADMIN}/returns?status=requested,approved", headers=reader)) == [
        approved.number,
        requested.number,
    ]
    assert numbers(client.get(f"{ADMIN}/returns?status=received&status=requested", headers=reader)) == [
        received.number,
        requested.number,
    ]
    assert numbers(client.get(f"{ADMIN}/returns?q={bobs.number}", headers=reader)) == [received.number]
    assert numbers(client.get(f"{ADMIN}/returns?q=ADA@", headers=reader)) == [
        approved.number,
        requested.number,
    ]
    assert numbers(client.get(f"{ADMIN}/returns?q={approved.number.lower()}", headers=reader)) == [
        approved.number
    ]
    assert numbers(client.get(f"{ADMIN}/returns?customer_id={ada.id}", headers=reader)) == [
        approved.number,
        requested.number,
    ]
    db.session.expire_all()
    day = db.session.get(ReturnRequest, requested.id).requested_at.date().isoformat()
    assert numbers(
        client.get(f"{ADMIN}/returns?requested_from={day}&requested_to={day}", headers=reader)
    ) == [requested.number]
    later = (db.session.get(ReturnRequest, requested.id).requested_at + timedelta(days=1)).date().isoformat()
    assert requested.number not in numbers(
        client.get(f"{ADMIN}/returns?requested_from={later}", headers=reader)
    )
    assert numbers(client.get(f"{ADMIN}/returns?reason=damaged&status=requested", headers=reader)) == [
        requested.number
    ]


def test_the_list_is_paginated(client, shop, reader):
    order = delivered_order(shop, [(shop.cup, 3)], staff=STAFF)
    for _ in range(3):
        open_return(order, {order.lines[0].id: 1}, actor=STAFF)
    response = client.get(f"{ADMIN}/returns?page=2&page_size=2", headers=reader)
    assert len(response.get_json()) == 1
    assert json.loads(response.headers["X-Pagination"])["total"] == 3


@pytest.mark.parametrize(
    "query",
    [
        "status=lost",
        "reason=bored",
        "requested_from=2026-13-01",
        "requested_from=2026-05-02&requested_to=2026-05-01",
        "customer_id=0",
        "page_size=500",
    ],
)
def test_bad_filters_are_422(client, reader, query):
    problem = assert_problem(client.get(f"{ADMIN}/returns?{query}", headers=reader), 422)
    assert problem["errors"]


def test_one_return_as_staff_see_it(client, shop, reader):
    order = delivered_order(shop, [(shop.teapot, 1), (shop.cup, 2)], staff=STAFF)
    ret = return_in_state(
        order, "received", actor=STAFF, location=shop.location, lines={line_of(order, shop.cup): 2}
    )

    response = client.get(f"{ADMIN}/returns/{ret.number}", headers=reader)

    assert response.status_code == 200
    body = response.get_json()
    assert (body["id"], body["status"], body["email"], body["order_number"]) == (
        ret.id,
        "received",
        order.email,
        order.number,
    )
    assert (
        body["available_actions"] == ["refund", "close"] and body["restock_location_id"] == shop.location.id
    )
    assert body["lines"][0]["restocked_quantity"] == 2 and body["lines"][0]["written_off_quantity"] == 0
    assert_problem(client.get(f"{ADMIN}/returns/R0-9", headers=reader), 404)
    assert (
        client.get(f"{ADMIN}/orders/{order.number}/returns", headers=reader).get_json()[0]["number"]
        == ret.number
    )
    returnable = client.get(f"{ADMIN}/orders/{order.number}/returnable", headers=reader).get_json()
    assert {line["sku"]: line["returnable"] for line in returnable["lines"]} == {
        shop.teapot.sku: 1,
        shop.cup.sku: 0,
    }


# ---- opening and the steps -----------------------------------------------------------------


def test_staff_open_a_return_for_the_customer(client, shop, manager):
    order = delivered_order(shop, [(shop.cup, 2)], staff=STAFF)

    response = client.post(
        f"{ADMIN}/orders/{order.number}/returns",
        json={
            "lines": [{"order_line_id": order.lines[0].id, "quantity": 2}],
            "reason": "wrong_item",
            "note": "Phoned in",
        },
        headers=manager,
    )

    assert response.status_code == 201, response.text
    body = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/admin/returns/{body['number']}")
    assert (body["status"], body["staff_note"], body["note"]) == ("requested", "Phoned in", "")
    assert body["opened_by_id"] is not None and body["available_actions"] == ["approve", "reject"]


def test_the_steps_move_a_return_to_refundable_and_restock_once(client, shop, manager):
    order = delivered_order(shop, [(shop.cup, 3)], staff=STAFF)
    line_id = order.lines[0].id
    ret = open_return(order, {line_id: 3}, actor=STAFF)
    path = f"{ADMIN}/returns/{ret.number}"
    before = db.session.get(StockLevel, (shop.cup.id, shop.location.id)).on_hand

    approved = client.post(f"{path}/approve", json={"note": "Fine"}, headers=manager)
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    receive = {
        "location_id": shop.location.id,
        "lines": [
            {
                "order_line_id": line_id,
                "restock_quantity": 2,
                "write_off_quantity": 1,
                "write_off_reason": "Chipped",
            }
        ],
    }
    received = client.post(f"{path}/receive", json=receive, headers=manager)
    assert received.status_code == 200, received.text
    assert received.get_json()["lines"][0]["write_off_reason"] == "Chipped"

    again = assert_problem(client.post(f"{path}/receive", json=receive, headers=manager), 409)
    assert again["code"] == "invalid_transition"
    db.session.expire_all()
    assert db.session.get(StockLevel, (shop.cup.id, shop.location.id)).on_hand == before + 2
    assert (
        len(
            db.session.scalars(
                select(InventoryMovement).where(InventoryMovement.reference == f"return:{ret.id}")
            ).all()
        )
        == 1
    )

    closed = client.post(f"{path}/close", json={"note": "Exchanged instead"}, headers=manager)
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"


def test_reject_needs_a_reason_and_a_requested_return(client, shop, manager):
    order = delivered_order(shop, [(shop.cup, 2)], staff=STAFF)
    ret = open_return(order, {order.lines[0].id: 1}, actor=STAFF)
    path = f"{ADMIN}/returns/{ret.number}"

    assert "reason" in assert_problem(client.post(f"{path}/reject", json={}, headers=manager), 422)["errors"]
    assert (
        "reason"
        in assert_problem(client.post(f"{path}/reject", json={"reason": ""}, headers=manager), 422)["errors"]
    )
    rejected = client.post(f"{path}/reject", json={"reason": "Used"}, headers=manager)
    assert rejected.status_code == 200 and rejected.get_json()["rejection_reason"] == "Used"
    assert (
        assert_problem(client.post(f"{path}/approve", json={}, headers=manager), 409)["code"]
        == "invalid_transition"
    )


@pytest.mark.parametrize(
    ("lines", "location", "field"),
    [
        ([{"order_line_id": "LINE", "restock_quantity": 1}], "ok", "lines.LINE"),
        ([{"order_line_id": "LINE", "write_off_quantity": 2}], "ok", "lines.LINE.write_off_reason"),
        ([{"order_line_id": "LINE", "restock_quantity": 2}], None, "location_id"),
        ([{"order_line_id": "LINE", "restock_quantity": -1}], "ok", "lines.0.restock_quantity"),
        ([{"order_line_id": "LINE", "restock_quantity": "2"}], "ok", "lines.0.restock_quantity"),
        ([], "ok", "lines"),
        (
            [
                {"order_line_id": "LINE", "restock_quantity": 1},
                {"order_line_id": "LINE", "restock_quantity": 1},
            ],
            "ok",
            "lines.1.order_line_id",
        ),
    ],
)
def test_a_bad_receipt_is_422_and_changes_nothing(client, shop, manager, lines, location, field):
    order = delivered_order(shop, [(shop.cup, 2)], staff=STAFF)
    line_id = order.lines[0].id
    ret = return_in_state(order, "approved", actor=STAFF, location=shop.location, lines={line_id: 2})
    body = json.loads(json.dumps({"lines": lines}).replace('"LINE"', str(line_id)))
    body["location_id"] = shop.location.id if location == "ok" else None

    problem = assert_problem(
        client.post(f"{ADMIN}/returns/{ret.number}/receive", json=body, headers=manager), 422
    )

    assert field.replace("LINE", str(line_id)) in problem["errors"], problem
    db.session.expire_all()
    assert db.session.get(ReturnRequest, ret.id).status == "approved"


# ---- permissions ---------------------------------------------------------------------------


def test_reading_needs_fulfilment_read_and_changing_needs_returns_manage(client, shop, reader):
    order = delivered_order(shop, [(shop.cup, 2)], staff=STAFF)
    ret = open_return(order, {order.lines[0].id: 1}, actor=STAFF)
    orders_only = {"Authorization": f"Bearer {make_token(UserFactory(roles=['sales']), ['orders.read'])}"}
    # Support holds returns.manage, but this token is limited to reading.
    support_reading = {"Authorization": f"Bearer {make_token(UserFactory(roles=['support']), [READ])}"}

    assert_problem(client.get(f"{ADMIN}/returns"), 401)
    assert_problem(client.get(f"{ADMIN}/returns", headers=orders_only), 403)
    assert client.get(f"{ADMIN}/returns/{ret.number}", headers=reader).status_code == 200
    for headers in (reader, support_reading):
        assert_problem(client.post(f"{ADMIN}/returns/{ret.number}/approve", json={}, headers=headers), 403)
        body = {"lines": [{"order_line_id": order.lines[0].id, "quantity": 1}], "reason": "damaged"}
        assert_problem(client.post(f"{ADMIN}/orders/{order.number}/returns", json=body, headers=headers), 403)
    db.session.expire_all()
    assert db.session.get(ReturnRequest, ret.id).status == "requested"
