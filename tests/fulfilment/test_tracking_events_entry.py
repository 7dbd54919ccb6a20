"""Tracking events entered by staff: the form in each shipment of the order page, and the
staff API (GET and POST /api/v1/admin/shipments/{number}/tracking-events)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.blueprints.fulfilment.models import TrackingEvent
from app.extensions import db as database
from tests.catalog.views_support import field_error, flashes, input_value, role_with, signed_in
from tests.factories.auth import UserFactory, make_token
from tests.fulfilment.test_tracking import reload, report, shipped_order
from tests.orders.checkout_helpers import make_shop

ADMIN = "/api/v1/admin"
PROBLEM = "application/problem+json"


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def shipper(portal, db):
    signed_in(portal, role_with("shipper", "orders.read", "fulfilment.read", "fulfilment.ship"))
    return portal


@pytest.fixture
def reader(portal, db):
    signed_in(portal, role_with("reader", "orders.read", "fulfilment.read"))
    return portal


def headers_with(*scopes) -> dict:
    return {"Authorization": f"Bearer {make_token(UserFactory(roles=['admin']), list(scopes))}"}


def form_url(shipment) -> str:
    return f"/shipments/{shipment.number}/tracking-events"


def field(shipment, name: str) -> str:
    return f"tracking-{shipment.number}-{name}"


def post_form(portal, shipment, **values):
    return portal.post(form_url(shipment), data={field(shipment, k): v for k, v in values.items()})


# ---- the order page's form -------------------------------------------------------------------------


def test_the_order_page_offers_the_form_and_a_confirmed_delivered_button_to_who_may_ship(shop, shipper):
    order, (shipment,) = shipped_order(shop, provider="manual")

    page = shipper.get(f"/orders/{order.number}").text

    assert f'action="{form_url(shipment)}"' in page
    assert f'id="{field(shipment, "status")}"' in page
    assert "Mark shipment delivered" in page
    assert f"order {order.number} becomes delivered (this is its last shipment on the way)" in page


def test_the_form_is_not_offered_without_the_ship_permission(shop, reader):
    order, (shipment,) = shipped_order(shop, provider="manual")

    assert form_url(shipment) not in reader.get(f"/orders/{order.number}").text


def test_the_form_is_not_offered_for_a_delivered_shipment(shop, shipper):
    order, (shipment,) = shipped_order(shop, provider="manual")
    report(shipment, "delivered", hours=1, source="staff")

    assert form_url(shipment) not in shipper.get(f"/orders/{order.number}").text


def test_posting_the_form_records_the_event_and_returns_to_the_order_with_a_flash(shop, shipper):
    order, (shipment,) = shipped_order(shop, provider="manual")

    response = post_form(
        shipper, shipment, status="out_for_delivery", description="With our van", location="Utrecht"
    )

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/orders/{order.number}#shipment-{shipment.number}")
    assert reload(shipment).status == "out_for_delivery"
    page = shipper.get(f"/orders/{order.number}").text
    assert f"Recorded “Out for delivery” for shipment {shipment.number}: it is out for delivery." in flashes(
        page
    )


def test_the_delivered_button_delivers_the_order_when_it_is_the_last_shipment(shop, shipper):
    order, (shipment,) = shipped_order(shop, provider="manual")

    response = post_form(shipper, shipment, status="delivered")

    assert response.status_code == 302
    assert reload(shipment).status == "delivered" and reload(order).status == "delivered"


def test_a_refused_form_shows_the_order_page_with_the_error_and_what_was_typed(shop, shipper):
    order, (shipment,) = shipped_order(shop, provider="manual")

    response = post_form(shipper, shipment, status="in_transit", description="x" * 501, location="Depot 7")

    assert response.status_code == 422
    page = response.text
    assert f"Order {order.number}" in page
    assert "500" in field_error(page, field(shipment, "description"))
    assert input_value(page, field(shipment, "location")) == "Depot 7"
    assert database.session.scalar(select(TrackingEvent.id)) is None


def test_an_unknown_status_from_the_form_is_a_field_error(shop, shipper):
    _order, (shipment,) = shipped_order(shop, provider="manual")

    response = post_form(shipper, shipment, status="label_created")

    assert response.status_code == 422 and field_error(response.text, field(shipment, "status"))


def test_a_delivered_shipment_takes_no_more_events_from_the_form(shop, shipper):
    _order, (shipment,) = shipped_order(shop, provider="manual")
    post_form(shipper, shipment, status="delivered")

    response = post_form(shipper, shipment, status="in_transit")

    assert response.status_code == 302
    page = shipper.get(response.headers["Location"]).text
    assert any("is delivered; its tracking is complete" in message for message in flashes(page))


def test_the_form_needs_the_ship_permission_and_a_known_shipment(shop, reader):
    _order, (shipment,) = shipped_order(shop, provider="manual")

    assert post_form(reader, shipment, status="in_transit").status_code == 403
    assert reader.post("/shipments/999999-1/tracking-events", data={}).status_code in (403, 404)


def test_an_unknown_shipment_is_a_404_page(shop, shipper):
    assert shipper.post("/shipments/999999-1/tracking-events", data={}).status_code == 404


# ---- the staff API ---------------------------------------------------------------------------------


def api_url(shipment) -> str:
    return f"{ADMIN}/shipments/{shipment.number}/tracking-events"


def test_staff_record_a_tracking_event_through_the_api(client, shop):
    order, (shipment,) = shipped_order(shop, provider="manual")

    response = client.post(
        api_url(shipment),
        json={"status": "delivered", "description": "Signed by A. Lovelace", "location": "Amsterdam"},
        headers=headers_with("fulfilment.ship"),
    )

    assert response.status_code == 201, response.text
    body = response.get_json()
    assert (body["status"], body["source"], body["description"]) == (
        "delivered",
        "staff",
        "Signed by A. Lovelace",
    )
    assert (body["shipment_status"], body["order_status"]) == ("delivered", "delivered")
    assert body["occurred_at"].endswith("+00:00")
    assert reload(order).status == "delivered"


def test_an_event_time_given_by_staff_is_kept(client, shop):
    _order, (shipment,) = shipped_order(shop, provider="manual")

    response = client.post(
        api_url(shipment),
        json={"status": "picked_up", "occurred_at": "2026-03-02T09:30:00+01:00"},
        headers=headers_with("fulfilment.ship"),
    )

    assert response.status_code == 201 and response.get_json()["occurred_at"] == "2026-03-02T08:30:00+00:00"


@pytest.mark.parametrize(
    ("body", "field_name"),
    [
        ({}, "status"),
        ({"status": "teleported"}, "status"),
        ({"status": "label_created"}, "status"),
        ({"status": "in_transit", "description": "x" * 501}, "description"),
        ({"status": "in_transit", "location": "x" * 201}, "location"),
        ({"status": "in_transit", "occurred_at": "2026-03-02T09:30:00"}, "occurred_at"),  # no offset
        ({"status": "in_transit", "occurred_at": "next week"}, "occurred_at"),
        ({"status": "in_transit", "carrier": "DHL"}, "carrier"),
    ],
)
def test_a_bad_tracking_event_is_a_422_naming_the_field(client, shop, body, field_name):
    _order, (shipment,) = shipped_order(shop, provider="manual")

    response = client.post(api_url(shipment), json=body, headers=headers_with("fulfilment.ship"))

    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert field_name in response.get_json()["errors"]


def test_an_event_in_the_future_is_a_422(client, shop):
    _order, (shipment,) = shipped_order(shop, provider="manual")

    response = client.post(
        api_url(shipment),
        json={"status": "in_transit", "occurred_at": "2999-01-01T00:00:00+00:00"},
        headers=headers_with("fulfilment.ship"),
    )

    assert response.status_code == 422 and "occurred_at" in response.get_json()["errors"]


def test_a_delivered_shipment_is_a_409_and_an_unknown_one_a_404(client, shop):
    _order, (shipment,) = shipped_order(shop, provider="manual")
    headers = headers_with("fulfilment.ship")
    client.post(api_url(shipment), json={"status": "delivered"}, headers=headers)

    again = client.post(api_url(shipment), json={"status": "in_transit"}, headers=headers)
    missing = client.post(
        f"{ADMIN}/shipments/999999-9/tracking-events", json={"status": "in_transit"}, headers=headers
    )

    assert again.status_code == 409 and again.get_json()["code"] == "shipment_delivered"
    assert missing.status_code == 404 and missing.get_json()["code"] == "shipment_not_found"


def test_a_shipments_tracking_events_are_listed_newest_first_and_paginated(client, shop):
    _order, (shipment,) = shipped_order(shop)
    report(shipment, "picked_up", hours=1)
    report(shipment, "out_for_delivery", hours=3)
    report(shipment, "in_transit", hours=2)

    response = client.get(api_url(shipment), headers=headers_with("fulfilment.read"))

    assert response.status_code == 200
    assert [e["status"] for e in response.get_json()] == ["out_for_delivery", "in_transit", "picked_up"]
    assert json.loads(response.headers["X-Pagination"])["total"] == 3
    assert {e["source"] for e in response.get_json()} == {"parcelhub"}


@pytest.mark.parametrize(
    ("method", "scope"),
    [("get", "fulfilment.read"), ("post", "fulfilment.ship")],
)
def test_the_tracking_events_api_needs_a_token_with_its_scope(client, shop, method, scope):
    _order, (shipment,) = shipped_order(shop, provider="manual")
    others = [s for s in ("fulfilment.read", "fulfilment.ship", "orders.read") if s != scope]

    anonymous = getattr(client, method)(api_url(shipment), json={"status": "in_transit"})
    without = getattr(client, method)(
        api_url(shipment), json={"status": "in_transit"}, headers=headers_with(*others)
    )

    assert anonymous.status_code == 401 and anonymous.mimetype == PROBLEM
    assert without.status_code == 403 and scope in without.get_json()["detail"]
