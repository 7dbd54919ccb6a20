"""The staff shipments API: an order's shipments and what it has left to ship, shipping
(whole or in part, idempotent), the filtered list and one shipment with its tracking
events; scopes fulfilment.read and fulfilment.ship; errors as problem+json."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.blueprints.fulfilment.models import Shipment
from app.blueprints.inventory.models import InventoryMovement
from app.blueprints.orders.order_models import Order
from app.extensions import db
from tests.factories.auth import UserFactory, make_token
from tests.factories.catalog import LocationFactory
from tests.fulfilment.shipment_helpers import Staff, pay, ship
from tests.orders.checkout_helpers import make_shop, place_order_directly

ADMIN = "/api/v1/admin"
PROBLEM = "application/problem+json"
READ, SHIP = "fulfilment.read", "fulfilment.ship"


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def headers(db):
    return staff_headers([READ, SHIP])


def staff_headers(scopes, roles=("admin",)):
    user = UserFactory(roles=list(roles))
    return {"Authorization": f"Bearer {make_token(user, list(scopes))}"}


def assert_problem(response, status, code=None):
    assert response.status_code == status, response.text
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status and "Traceback" not in response.text
    if code:
        assert body["code"] == code, body
    return body


def field_errors(response):
    return assert_problem(response, 422)["errors"]


def paid_order(shop, lines=None) -> Order:
    return pay(place_order_directly(lines or [(shop.teapot, 2), (shop.cup, 1)]), actor=Staff())


def post_shipment(client, headers, number, body, **kwargs):
    return client.post(f"{ADMIN}/orders/{number}/shipments", json=body, headers=headers, **kwargs)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# ---- access ------------------------------------------------------------------------------------

ENDPOINTS = [
    ("get", "/orders/{number}/shipments", None, READ),
    ("post", "/orders/{number}/shipments", {"location_id": 1}, SHIP),
    ("get", "/orders/{number}/shippable", None, READ),
    ("get", "/orders/{number}/shipping-rates?provider=manual&location_id=1", None, READ),
    ("get", "/shipments", None, READ),
    ("get", "/shipments/{number}-1", None, READ),
]


@pytest.mark.parametrize(("method", "path", "body", "_scope"), ENDPOINTS)
def test_every_endpoint_needs_a_bearer_token(client, shop, method, path, body, _scope):
    order = paid_order(shop)
    response = getattr(client, method)(ADMIN + path.format(number=order.number), json=body)
    assert_problem(response, 401)


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS)
def test_a_token_without_the_scope_is_refused_and_nothing_ships(client, shop, method, path, body, scope):
    order = paid_order(shop)
    body = {"location_id": shop.location.id} if body else None
    others = [s for s in (READ, SHIP, "orders.read", "orders.manage") if s != scope]
    response = getattr(client, method)(
        ADMIN + path.format(number=order.number), json=body, headers=staff_headers(others)
    )
    assert scope in assert_problem(response, 403)["detail"]
    assert count(Shipment) == 0


def test_the_openapi_document_states_each_scope_and_the_idempotency_key(client, db):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for method, path, _body, scope in ENDPOINTS:
        operation = paths[ADMIN + path.split("?")[0].replace("{number}-1", "{shipment_number}")][method]
        assert operation["security"] == [{"bearerAuth": []}]
        assert scope in operation["summary"], path
    parameters = paths[f"{ADMIN}/orders/{{number}}/shipments"]["post"]["parameters"]
    assert any(p["name"] == "Idempotency-Key" for p in parameters)


# ---- shipping ----------------------------------------------------------------------------------


def test_shipping_part_of_an_order_answers_the_shipment_and_moves_the_order(client, shop, headers):
    order = paid_order(shop)
    teapot_line, _ = order.lines

    response = post_shipment(
        client,
        headers,
        order.number,
        {
            "location_id": shop.location.id,
            "lines": [{"order_line_id": teapot_line.id, "quantity": 1}],
            "carrier": "DHL",
            "service": "Parcel Connect",
            "tracking_number": "JVGL0001",
            "tracking_url": "https://www.dhl.com/track?tracking-id=JVGL0001",
            "packages": 2,
            "weight_grams": 1200,
        },
    )

    assert response.status_code == 201, response.text
    body = response.get_json()
    assert response.headers["Location"].endswith(f"{ADMIN}/shipments/{order.number}-1")
    assert (body["number"], body["order_number"], body["status"]) == (
        f"{order.number}-1",
        order.number,
        "label_created",
    )
    assert (body["carrier"], body["tracking_number"], body["packages"], body["weight_grams"]) == (
        "DHL",
        "JVGL0001",
        2,
        1200,
    )
    assert body["location"]["id"] == shop.location.id
    assert [(line["order_line_id"], line["quantity"], line["sku"]) for line in body["lines"]] == [
        (teapot_line.id, 1, shop.teapot.sku)
    ]
    assert [event["status"] for event in body["tracking_events"]] == ["label_created"]
    assert db.session.get(Order, order.id).status == "partially_shipped"

    left = client.get(f"{ADMIN}/orders/{order.number}/shippable", headers=headers).get_json()
    assert left["can_ship"] is True
    assert [(line["to_ship"], line["reserved"]) for line in left["lines"]] == [
        (1, [{"location_id": shop.location.id, "quantity": 1}]),
        (1, [{"location_id": shop.location.id, "quantity": 1}]),
    ]


def test_without_lines_everything_reserved_at_the_location_ships(client, shop, headers):
    order = paid_order(shop)

    response = post_shipment(client, headers, order.number, {"location_id": shop.location.id})

    assert response.status_code == 201, response.text
    assert sorted(line["quantity"] for line in response.get_json()["lines"]) == [1, 2]
    order = db.session.get(Order, order.id)
    assert (order.status, order.fulfilment_status) == ("shipped", "fulfilled")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "location_id"),
        ({"location_id": "1"}, "location_id"),
        ({"location_id": 1, "lines": []}, "lines"),
        ({"location_id": 1, "lines": [{"order_line_id": 1, "quantity": 0}]}, "lines.0.quantity"),
        ({"location_id": 1, "lines": [{"order_line_id": 1, "quantity": "2"}]}, "lines.0.quantity"),
        ({"location_id": 1, "packages": 0}, "packages"),
        ({"location_id": 1, "weight_grams": -5}, "weight_grams"),
        ({"location_id": 1, "carrier": "x" * 81}, "carrier"),
        ({"location_id": 1, "colour": "red"}, "colour"),
    ],
)
def test_a_bad_body_is_a_422_naming_the_field(client, shop, headers, body, field):
    order = paid_order(shop)
    errors = field_errors(post_shipment(client, headers, order.number, body))
    assert field in errors, errors
    assert count(Shipment) == 0


def test_a_line_listed_twice_or_of_another_order_is_a_422(client, shop, headers):
    order = paid_order(shop)
    other = place_order_directly([(shop.cup, 1)])
    line = order.lines[0]

    twice = post_shipment(
        client,
        headers,
        order.number,
        {"location_id": shop.location.id, "lines": [{"order_line_id": line.id, "quantity": 1}] * 2},
    )
    foreign = post_shipment(
        client,
        headers,
        order.number,
        {"location_id": shop.location.id, "lines": [{"order_line_id": other.lines[0].id, "quantity": 1}]},
    )
    nowhere = post_shipment(client, headers, order.number, {"location_id": 987654})
    unknown_provider = post_shipment(
        client, headers, order.number, {"location_id": shop.location.id, "provider": "pigeon"}
    )
    bad_url = post_shipment(
        client, headers, order.number, {"location_id": shop.location.id, "tracking_url": "javascript:x"}
    )

    assert "lines.1.order_line_id" in field_errors(twice)
    assert f"quantities.{other.lines[0].id}" in field_errors(foreign)
    assert "location_id" in field_errors(nowhere)
    assert "provider" in field_errors(unknown_provider)
    assert "tracking_url" in field_errors(bad_url)
    assert count(Shipment) == 0


def test_shipping_more_than_is_left_or_reserved_is_a_409(client, shop, headers):
    order = paid_order(shop)
    teapot_line = order.lines[0]
    elsewhere = LocationFactory()

    too_many = post_shipment(
        client,
        headers,
        order.number,
        {"location_id": shop.location.id, "lines": [{"order_line_id": teapot_line.id, "quantity": 3}]},
    )
    not_there = post_shipment(
        client,
        headers,
        order.number,
        {"location_id": elsewhere.id, "lines": [{"order_line_id": teapot_line.id, "quantity": 1}]},
    )
    nothing_there = post_shipment(client, headers, order.number, {"location_id": elsewhere.id})

    assert f"quantities.{teapot_line.id}" in assert_problem(too_many, 409, "too_many_units")["errors"]
    assert f"quantities.{teapot_line.id}" in assert_problem(not_there, 409, "not_reserved")["errors"]
    assert_problem(nothing_there, 409, "nothing_to_ship")
    assert count(Shipment) == 0


def test_an_unpaid_order_is_a_409_and_an_unknown_one_a_404(client, shop, headers):
    unpaid = place_order_directly([(shop.cup, 1)])

    assert_problem(
        post_shipment(client, headers, unpaid.number, {"location_id": shop.location.id}),
        409,
        "invalid_transition",
    )
    assert_problem(post_shipment(client, headers, "999999", {"location_id": 1}), 404, "order_not_found")
    assert_problem(client.get(f"{ADMIN}/shipments/999999-1", headers=headers), 404, "shipment_not_found")


def test_a_replayed_shipment_answers_the_first_response_and_ships_once(client, shop, headers):
    order = paid_order(shop)
    keyed = {**headers, "Idempotency-Key": "ship-100-once"}
    body = {"location_id": shop.location.id, "carrier": "PostNL"}

    first = post_shipment(client, keyed, order.number, body)
    again = post_shipment(client, keyed, order.number, body)
    other_body = post_shipment(client, keyed, order.number, {**body, "carrier": "DHL"})

    assert first.status_code == again.status_code == 201, first.text
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_json() == first.get_json()
    assert_problem(other_body, 422)
    assert count(Shipment) == 1
    movements = db.session.scalar(
        select(func.count())
        .select_from(InventoryMovement)
        .where(InventoryMovement.reference == order.reference, InventoryMovement.kind == "shipment")
    )
    assert movements == 2  # teapots and cups, once


def test_a_refused_shipment_frees_its_key_for_a_corrected_retry(client, shop, headers):
    order = paid_order(shop)
    keyed = {**headers, "Idempotency-Key": "ship-retry"}

    refused = post_shipment(client, keyed, order.number, {"location_id": shop.location.id, "packages": 0})
    fixed = post_shipment(client, keyed, order.number, {"location_id": shop.location.id, "packages": 0})

    assert refused.status_code == fixed.status_code == 422
    assert "Idempotent-Replayed" not in fixed.headers


# ---- reading -----------------------------------------------------------------------------------


def test_an_order_s_shipments_and_one_shipment_with_its_tracking_events(client, shop, headers):
    order = paid_order(shop)
    teapot_line = order.lines[0]
    ship(order, actor=Staff(), quantities={teapot_line.id: 1}, carrier="PostNL")
    ship(order, actor=Staff(), carrier="DHL")

    listed = client.get(f"{ADMIN}/orders/{order.number}/shipments", headers=headers)
    one = client.get(f"{ADMIN}/shipments/{order.number}-2", headers=headers)

    assert listed.status_code == 200
    assert [(s["number"], s["carrier"]) for s in listed.get_json()] == [
        (f"{order.number}-1", "PostNL"),
        (f"{order.number}-2", "DHL"),
    ]
    assert one.status_code == 200
    detail = one.get_json()
    assert detail["number"] == f"{order.number}-2" and len(detail["tracking_events"]) == 1
    assert sorted(line["quantity"] for line in detail["lines"]) == [1, 1]
    assert (
        client.get(f"{ADMIN}/orders/{order.number}/shippable", headers=headers).get_json()["can_ship"]
        is False
    )


def test_the_list_filters_and_paginates_newest_first(client, shop, headers):
    orders = [paid_order(shop, [(shop.cup, 1)]) for _ in range(3)]
    ship(orders[0], actor=Staff(), carrier="PostNL", tracking_number="3SAAA1")
    ship(orders[1], actor=Staff(), carrier="DHL", tracking_number="JVGL2")
    ship(orders[2], actor=Staff(), carrier="PostNL", tracking_number="3SCCC3")

    def numbers(query=""):
        response = client.get(f"{ADMIN}/shipments{query}", headers=headers)
        assert response.status_code == 200, response.text
        return [s["number"] for s in response.get_json()]

    assert numbers() == [f"{o.number}-1" for o in reversed(orders)]
    assert numbers("?carrier=postnl") == [f"{orders[2].number}-1", f"{orders[0].number}-1"]
    assert numbers("?q=JVGL2") == numbers(f"?q={orders[1].number}") == [f"{orders[1].number}-1"]
    assert numbers(f"?q={orders[0].number}-1") == [f"{orders[0].number}-1"]
    assert numbers("?status=delivered") == []
    assert numbers("?status=label_created,delivered&provider=manual") == numbers()
    page = client.get(f"{ADMIN}/shipments?page_size=2&page=2", headers=headers)
    assert [s["number"] for s in page.get_json()] == [f"{orders[0].number}-1"]
    assert '"total": 3' in page.headers["X-Pagination"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=lost", "status.0"),
        ("created_from=2026-13-01", "created_from"),
        ("created_from=2026-05-02&created_to=2026-05-01", "created_to"),
        ("page_size=1000", "page_size"),
    ],
)
def test_a_bad_filter_is_a_422(client, shop, headers, query, field):
    response = client.get(f"{ADMIN}/shipments?{query}", headers=headers)
    assert field in field_errors(response)


# ---- carrier rates -----------------------------------------------------------------------------


def test_rates_come_from_the_provider_for_the_orders_parcels_cheapest_first(
    app, client, shop, headers, httpserver
):
    from tests.fulfilment.test_parcelhub import configure_parcelhub

    saved = configure_parcelhub(app, httpserver.url_for(""))
    try:
        httpserver.expect_request("/v1/rates", method="POST").respond_with_json(
            {
                "rates": [
                    {
                        "id": "rate_9",
                        "carrier": "DHL",
                        "service": "express",
                        "amount": "12.50",
                        "currency": "EUR",
                    },
                    {
                        "id": "rate_1",
                        "carrier": "PostNL",
                        "service": "standard",
                        "amount": "6.95",
                        "currency": "EUR",
                    },
                ]
            }
        )
        order = paid_order(shop)
        response = client.get(
            f"{ADMIN}/orders/{order.number}/shipping-rates",
            query_string={"provider": "parcelhub", "location_id": shop.location.id, "packages": 2},
            headers=headers,
        )
    finally:
        app.config.update(saved)

    assert response.status_code == 200, response.text
    assert [(r["rate_id"], r["amount"]) for r in response.get_json()] == [
        ("rate_1", "6.95"),
        ("rate_9", "12.50"),
    ]
    (request, _answer) = httpserver.log[0]
    body = request.get_json()
    assert len(body["parcels"]) == 2 and body["to"]["postal_code"] == "1012 LG"


def test_rates_of_an_unknown_provider_or_location_are_a_422_naming_the_field(client, shop, headers):
    order = paid_order(shop)
    url = f"{ADMIN}/orders/{order.number}/shipping-rates"

    assert "provider" in field_errors(
        client.get(url, query_string={"provider": "nosuch", "location_id": 1}, headers=headers)
    )
    assert "location_id" in field_errors(
        client.get(url, query_string={"provider": "manual", "location_id": 999999}, headers=headers)
    )
    assert (
        client.get(
            url, query_string={"provider": "manual", "location_id": shop.location.id}, headers=headers
        ).get_json()
        == []
    )
