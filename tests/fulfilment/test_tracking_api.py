"""Order tracking on the storefront API: the customer's own order (customer token) or the
holder of the tracking link (`?token=`); anyone else gets the 404 an unknown order gets.
ETags make polling cheap, the answer holds nothing internal, and its cost in SQL
statements does not grow with the number of tracking events.

The helpers here (`paid_order`, `ship`, `track`) build the orders the other tracking tests
use too."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.blueprints.auth import tokens
from app.blueprints.fulfilment import shipments, tracking, tracking_queries
from app.blueprints.fulfilment.models import Shipment
from app.blueprints.orders import checkout, lifecycle, order_queries, payments
from app.blueprints.orders.order_models import Order
from app.core.transaction import transaction
from app.extensions import db
from tests.factories.auth import UserFactory
from tests.factories.customers import CustomerFactory
from tests.orders.checkout_helpers import make_shop, place_order_directly
from tests.statements import counted_statements

STORE = "/api/v1/store"
PROBLEM = "application/problem+json"
CARRIER_URL = "https://carrier.example/track/3SABC123"


# ---- building blocks shared by the tracking tests ---------------------------------------------


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def staff(db):
    return UserFactory(roles=["admin"], name="Sam Support")


def paid_order(shop, staff, *, customer=None, email="ada@example.org", cups=2) -> Order:
    """A teapot and `cups` cups, paid by bank transfer."""
    order = place_order_directly([(shop.teapot, 1), (shop.cup, cups)], customer=customer, email=email)
    with transaction():
        payments.mark_paid(order_queries.order_by_number(order.number, for_update=True), actor=staff)
    return order


def ship(
    order: Order,
    shop,
    staff,
    *,
    quantities: dict[int, int] | None = None,
    estimated_delivery: date | None = None,
    carrier: str = "PostNL",
) -> Shipment:
    """A parcel of `order` (everything reserved, or `quantities` by line id) through the
    shipments service, as staff create one; with the carrier's estimated delivery."""
    with transaction():
        locked = order_queries.order_by_number(order.number, for_update=True)
        shipment = shipments.create_shipment(
            locked,
            location_id=shop.location.id,
            quantities=quantities,
            provider="manual",
            carrier=carrier,
            service="Standard",
            tracking_number="3SABC123",
            tracking_url=CARRIER_URL,
            actor=staff,
        )
        shipment.estimated_delivery = estimated_delivery
    return shipment


def track(shipment: Shipment, status: str, *, description: str = "", location: str = "", at=None):
    """A carrier's tracking event, as a webhook records it."""
    with transaction():
        fresh = db.session.get(Shipment, shipment.id)
        return tracking.record_tracking_event(
            fresh, status, source="manual", description=description, location=location, occurred_at=at
        )


def bearer_for(customer) -> dict:
    _, secret = tokens.issue_customer_token(customer.id)
    return {"Authorization": f"Bearer {secret}"}


def tracking_path(order: Order, token: str | None = None) -> str:
    query = f"?token={token}" if token is not None else ""
    return f"{STORE}/orders/{order.number}/tracking{query}"


def assert_problem(response, status):
    assert response.status_code == status, response.text
    assert response.mimetype == PROBLEM and "Traceback" not in response.text
    return response.get_json()


# ---- who may see it ----------------------------------------------------------------------------


def test_a_customer_sees_the_tracking_of_their_own_order(client, shop, staff):
    ada = CustomerFactory()
    order = paid_order(shop, staff, customer=ada, email=ada.email)
    ship(order, shop, staff, estimated_delivery=date(2026, 3, 14))

    response = client.get(tracking_path(order), headers=bearer_for(ada))

    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert body["number"] == order.number
    assert body["status"] == "shipped" and body["stage"] == "shipped" and body["stage_label"] == "Shipped"
    assert body["estimated_delivery"] == "2026-03-14"
    [parcel] = body["shipments"]
    assert parcel["number"] == f"{order.number}-1" and parcel["carrier"] == "PostNL"
    assert parcel["tracking_number"] == "3SABC123" and parcel["tracking_url"] == CARRIER_URL
    assert sorted((line["product_name"], line["quantity"]) for line in parcel["lines"]) == [
        ("Cup", 2),
        ("Teapot", 1),
    ]
    assert [e["status"] for e in parcel["events"]] == ["label_created"]


def test_another_customers_order_is_not_found(client, shop, staff):
    ada, bob = CustomerFactory(), CustomerFactory()
    order = paid_order(shop, staff, customer=ada, email=ada.email)

    body = assert_problem(client.get(tracking_path(order), headers=bearer_for(bob)), 404)
    assert body["code"] == "order_not_found"


def test_the_tracking_token_opens_any_order_without_signing_in(client, shop, staff):
    order = paid_order(shop, staff)  # a guest's

    response = client.get(tracking_path(order, checkout.tracking_token(order)))

    assert response.status_code == 200, response.text
    assert response.get_json()["stage"] == "paid"


def test_a_wrong_token_and_no_credentials_look_like_an_unknown_order(client, shop, staff):
    order = paid_order(shop, staff)
    unknown = {**assert_problem(client.get(f"{STORE}/orders/999999999/tracking?token=x"), 404)}

    wrong = assert_problem(client.get(tracking_path(order, "not-the-token")), 404)
    nothing = assert_problem(client.get(tracking_path(order)), 404)
    non_ascii = assert_problem(client.get(tracking_path(order, "tökén")), 404)

    assert wrong == nothing == non_ascii == unknown


def test_a_customer_may_follow_a_guest_order_by_its_link(client, shop, staff):
    ada = CustomerFactory()
    order = paid_order(shop, staff, email=ada.email)  # placed as a guest

    assert_problem(client.get(tracking_path(order), headers=bearer_for(ada)), 404)
    response = client.get(tracking_path(order, checkout.tracking_token(order)), headers=bearer_for(ada))
    assert response.status_code == 200


def test_a_bearer_token_that_is_not_valid_is_refused(client, shop, staff):
    order = paid_order(shop, staff)
    response = client.get(
        tracking_path(order, checkout.tracking_token(order)), headers={"Authorization": "Bearer nonsense"}
    )
    assert_problem(response, 401)


def test_an_empty_token_is_invalid_input(client, shop, staff):
    order = paid_order(shop, staff)
    body = assert_problem(client.get(tracking_path(order, "")), 422)
    assert "token" in body["errors"]


# ---- what it shows -----------------------------------------------------------------------------


def test_tracking_lists_events_newest_first_and_the_customer_milestones(client, shop, staff):
    order = paid_order(shop, staff)
    shipment = ship(order, shop, staff)
    now = datetime.now(UTC)
    track(shipment, "picked_up", at=now + timedelta(minutes=1))
    track(shipment, "in_transit", location="Utrecht hub", at=now + timedelta(minutes=2))
    track(shipment, "out_for_delivery", description="With the courier", at=now + timedelta(minutes=3))

    body = client.get(tracking_path(order, checkout.tracking_token(order))).get_json()

    [parcel] = body["shipments"]
    assert [e["status"] for e in parcel["events"]] == [
        "out_for_delivery",
        "in_transit",
        "picked_up",
        "label_created",
    ]
    assert parcel["events"][0]["description"] == "With the courier"
    assert parcel["events"][1]["location"] == "Utrecht hub"
    assert body["stage"] == "out_for_delivery"
    assert [e["kind"] for e in body["events"]] == ["shipped", "paid", "placed"]
    assert [(s["stage"], s["done"], s["current"]) for s in body["steps"]] == [
        ("placed", True, False),
        ("paid", True, False),
        ("shipped", True, False),
        ("out_for_delivery", True, True),
        ("delivered", False, False),
    ]


def test_tracking_shows_no_staff_notes_names_sources_or_street_address(client, shop, staff):
    order = paid_order(shop, staff)
    with transaction():
        lifecycle.add_note(db.session.get(Order, order.id), actor=staff, text="Suspected fraud, call first")
    shipment = ship(order, shop, staff)
    track(shipment, "in_transit")

    response = client.get(tracking_path(order, checkout.tracking_token(order)))

    text = response.text
    assert "fraud" not in text.lower() and "Sam Support" not in text and staff.email not in text
    assert "Damrak" not in text and "Ada Lovelace" not in text and "1012 LG" not in text
    assert '"source"' not in text and "ada@example.org" not in text
    assert response.get_json()["ship_to"] == {"city": "Amsterdam", "country": "NL"}


def test_the_estimated_delivery_is_the_latest_of_the_parcels_still_on_their_way(shop, staff):
    order = paid_order(shop, staff, cups=2)
    teapot_line, cup_line = sorted(order.lines, key=lambda line: line.name != "Teapot")
    first = ship(order, shop, staff, quantities={teapot_line.id: 1}, estimated_delivery=date(2026, 3, 20))
    ship(order, shop, staff, quantities={cup_line.id: 2}, estimated_delivery=date(2026, 3, 16))

    assert tracking_queries.order_tracking(order).estimated_delivery == date(2026, 3, 20)

    track(first, "delivered")
    db.session.expire_all()
    assert tracking_queries.order_tracking(order).estimated_delivery == date(2026, 3, 16)


def test_a_delivered_order_is_final_with_no_estimate(client, shop, staff):
    order = paid_order(shop, staff)
    shipment = ship(order, shop, staff, estimated_delivery=date(2026, 3, 14))
    track(shipment, "delivered", location="Amsterdam")

    body = client.get(tracking_path(order, checkout.tracking_token(order))).get_json()

    assert body["stage"] == "delivered" and body["status"] == "delivered"
    assert body["estimated_delivery"] is None
    assert body["shipments"][0]["delivered_at"] is not None
    assert all(step["done"] for step in body["steps"])


def test_a_cancelled_order_shows_what_it_reached_then_cancelled(client, shop, staff):
    order = place_order_directly([(shop.cup, 1)])
    with transaction():
        lifecycle.cancel_order(db.session.get(Order, order.id), actor=staff, reason="Customer asked")

    body = client.get(tracking_path(order, checkout.tracking_token(order))).get_json()

    assert body["stage"] == "cancelled"
    assert [(s["stage"], s["done"]) for s in body["steps"]] == [("placed", True), ("cancelled", True)]
    assert "Customer asked" not in str(body)


def test_a_tracking_url_that_is_not_a_web_link_is_not_handed_out(shop, staff):
    order = paid_order(shop, staff)
    shipment = ship(order, shop, staff)
    with transaction():
        db.session.get(Shipment, shipment.id).tracking_url = "javascript:alert(1)"

    assert tracking_queries.order_tracking(order).shipments[0].tracking_url == ""


# ---- caching -----------------------------------------------------------------------------------


def test_an_unchanged_tracking_is_a_304_with_its_etag(client, shop, staff):
    order = paid_order(shop, staff)
    shipment = ship(order, shop, staff)
    path = tracking_path(order, checkout.tracking_token(order))

    first = client.get(path)
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, no-cache"

    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag

    track(shipment, "in_transit")
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.get_json()["shipments"][0]["status"] == "in_transit"


def test_a_staff_note_does_not_change_the_etag(client, shop, staff):
    order = paid_order(shop, staff)
    path = tracking_path(order, checkout.tracking_token(order))
    etag = client.get(path).headers["ETag"]
    with transaction():
        lifecycle.add_note(db.session.get(Order, order.id), actor=staff, text="Internal")

    assert client.get(path, headers={"If-None-Match": etag}).status_code == 304


def test_tracking_reads_a_bounded_number_of_statements_however_many_events(shop, staff):
    """The order and its lines, shipments and their lines, tracking events, milestones."""
    order = paid_order(shop, staff)
    shipment = ship(order, shop, staff)
    number, token = order.number, checkout.tracking_token(order)

    def statements_for_tracking() -> list[str]:
        db.session.expire_all()
        with counted_statements() as statements:
            tracking_queries.order_tracking(tracking_queries.order_for_tracking(number, token=token))
        # The test's own savepoints are not the query's.
        return [s for s in statements if not s.startswith("SAVEPOINT")]

    few = statements_for_tracking()
    start = datetime.now(UTC)
    for minute in range(1, 31):
        track(shipment, "in_transit", location=f"Hub {minute}", at=start + timedelta(minutes=minute))
    many = statements_for_tracking()

    assert len(tracking_queries.order_tracking(order).shipments[0].events) == 31
    assert len(many) == len(few) == 6


@pytest.fixture
def strict_store_limit(app):
    previous = app.config["STORE_API_RATE_LIMIT"]
    app.config["STORE_API_RATE_LIMIT"] = "2 per minute"
    try:
        yield
    finally:
        app.config["STORE_API_RATE_LIMIT"] = previous


def test_tracking_reads_are_rate_limited_per_address(client, shop, staff, strict_store_limit):
    order = paid_order(shop, staff)
    path = tracking_path(order, checkout.tracking_token(order))

    answers = [client.get(path), client.get(path, headers={"If-None-Match": "x"}), client.get(path)]

    assert [a.status_code for a in answers[:2]] == [200, 200]
    assert_problem(answers[2], 429)
    assert int(answers[2].headers["Retry-After"]) > 0


def test_tracking_the_invoice_and_the_catalog_draw_on_one_budget_per_address(
    client, shop, staff, strict_store_limit
):
    order = paid_order(shop, staff)
    token = checkout.tracking_token(order)

    catalog = client.get(f"{STORE}/categories")
    invoice = client.get(f"{STORE}/orders/{order.number}/invoice?token={token}")
    tracking_read = client.get(tracking_path(order, token))

    assert catalog.status_code == 200 and invoice.status_code != 429
    assert_problem(tracking_read, 429)


def test_the_tracking_endpoint_is_documented_with_both_ways_in_and_its_etag(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"][f"{STORE}/orders/{{number}}/tracking"]["get"]

    assert operation["security"] == [{}, {"bearerAuth": []}]
    assert {"200", "304", "401", "404", "422", "429"} <= set(operation["responses"])
    assert "ETag" in operation["responses"]["200"]["headers"]
    parameters = {p.get("name") for p in operation["parameters"] if isinstance(p, dict)}
    assert "token" in parameters
