"""Tracking webhooks end to end: POST /api/v1/hooks/parcelhub, signed as ParcelHub signs,
stored once, applied through the tracking service; untrusted deliveries store nothing."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from app.blueprints.fulfilment.models import DeliveryIssue, ShippingWebhookEvent, TrackingEvent
from app.blueprints.orders.order_models import Order
from app.core.permissions import access_declaration
from app.core.transaction import transaction
from app.extensions import db as database
from tests.concurrency import run_at_once
from tests.fulfilment.test_parcelhub import configure_parcelhub, signed, tracking_event
from tests.fulfilment.test_tracking import reload, shipped_order
from tests.orders.checkout_helpers import make_shop

HOOK = "/api/v1/hooks/parcelhub"
PROBLEM = "application/problem+json"


@pytest.fixture
def parcelhub(app):
    saved = configure_parcelhub(app, "http://127.0.0.1:9")  # no call goes out in these tests
    yield
    app.config.update(saved)


@pytest.fixture
def shipment(db, parcelhub):
    _order, (shipment,) = shipped_order(make_shop())
    return shipment


def event_for(shipment, status="in_transit", **kwargs) -> dict:
    return tracking_event(
        status, shipment_id=shipment.provider_reference, tracking_number=shipment.tracking_number, **kwargs
    )


def deliver(client, event, **signing):
    body, headers = signed(event, **signing)
    return client.post(HOOK, data=body, headers=headers)


def count(model) -> int:
    return database.session.scalar(select(func.count()).select_from(model))


def assert_nothing_stored():
    assert (count(ShippingWebhookEvent), count(TrackingEvent)) == (0, 0)


def test_a_signed_tracking_event_is_recorded_on_its_shipment_and_stored_once(client, shipment):
    response = deliver(client, event_for(shipment, "in_transit", message="Sorted", location="Utrecht"))

    assert response.status_code == 200, response.text
    assert response.get_json() == {
        "status": "applied",
        "events": [{"event_id": "evt_1", "status": "applied"}],
    }
    assert reload(shipment).status == "in_transit"
    (event,) = database.session.scalars(select(TrackingEvent)).all()
    assert (event.source, event.description, event.location) == ("parcelhub", "Sorted", "Utrecht")
    (stored,) = database.session.scalars(select(ShippingWebhookEvent)).all()
    assert (stored.provider, stored.event_id, stored.shipment_id, stored.outcome) == (
        "parcelhub",
        "evt_1",
        shipment.id,
        "applied",
    )
    assert stored.payload["data"]["status"] == "in_transit"


def test_a_shipment_is_found_by_its_tracking_number_when_parcelhub_names_no_id_we_know(client, shipment):
    event = tracking_event("picked_up", shipment_id="shp_unknown", tracking_number=shipment.tracking_number)

    assert deliver(client, event).get_json()["status"] == "applied"
    assert reload(shipment).status == "picked_up"


def test_the_same_event_delivered_again_is_a_duplicate_that_changes_nothing(client, shipment):
    deliver(client, event_for(shipment, "in_transit"))

    again = deliver(client, event_for(shipment, "in_transit"))

    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
    assert (count(ShippingWebhookEvent), count(TrackingEvent)) == (1, 1)


def test_an_event_for_a_shipment_we_do_not_know_is_stored_and_answered_200(client, shipment):
    event = tracking_event("delivered", shipment_id="shp_elsewhere", tracking_number="NOT-OURS")

    response = deliver(client, event)

    assert response.status_code == 200 and response.get_json()["status"] == "unknown shipment"
    (stored,) = database.session.scalars(select(ShippingWebhookEvent)).all()
    assert (stored.outcome, stored.shipment_id) == ("unknown shipment", None)
    assert count(TrackingEvent) == 0 and reload(shipment).status == "label_created"


def test_an_event_of_another_provider_never_touches_a_manual_shipment_with_the_same_number(
    client, parcelhub, db
):
    _order, (manual,) = shipped_order(make_shop(), provider="manual")

    response = deliver(
        client, tracking_event("delivered", shipment_id="", tracking_number=manual.tracking_number)
    )

    assert response.get_json()["status"] == "unknown shipment"
    assert reload(manual).status == "label_created"


@pytest.mark.parametrize(
    "tamper",
    ["wrong secret", "missing header", "stale", "in the future", "body changed"],
)
def test_an_untrusted_delivery_is_a_400_problem_and_nothing_is_stored(client, shipment, tamper):
    body, headers = signed(event_for(shipment, "delivered"))
    if tamper == "wrong secret":
        body, headers = signed(event_for(shipment, "delivered"), secret="not-the-secret")
    elif tamper == "missing header":
        headers.pop("ParcelHub-Signature")
    elif tamper == "stale":
        body, headers = signed(event_for(shipment, "delivered"), timestamp=int(time.time()) - 600)
    elif tamper == "in the future":
        body, headers = signed(event_for(shipment, "delivered"), timestamp=int(time.time()) + 600)
    else:
        body = body.replace(b"delivered", b"in_transit")

    response = client.post(HOOK, data=body, headers=headers)

    assert response.status_code == 400 and response.mimetype == PROBLEM
    assert response.get_json()["code"] == "webhook_signature_invalid"
    assert_nothing_stored()
    assert reload(shipment).status == "label_created"


def test_without_a_webhook_secret_every_delivery_is_refused(app, client, shipment):
    app.config["PARCELHUB_WEBHOOK_SECRET"] = ""

    response = deliver(client, event_for(shipment))

    assert response.status_code == 400 and "secret" in response.get_json()["detail"]
    assert_nothing_stored()


def test_a_signed_event_of_another_type_is_answered_and_ignored(client, shipment):
    event = {
        "id": "evt_5",
        "type": "shipment.label_voided",
        "data": {"shipment_id": shipment.provider_reference},
    }

    response = deliver(client, event)

    assert response.status_code == 200 and response.get_json() == {"status": "ignored", "events": []}
    assert_nothing_stored()


@pytest.mark.parametrize("provider", ["manual", "fedex", "x" * 40])
def test_a_provider_that_sends_no_webhooks_is_a_404_problem(client, shipment, provider):
    body, headers = signed(event_for(shipment))

    response = client.post(f"/api/v1/hooks/{provider}", data=body, headers=headers)

    assert response.status_code == 404 and response.mimetype == PROBLEM
    assert_nothing_stored()


def test_the_stripe_hook_still_belongs_to_payments(app, client, db):
    saved = app.config.get("STRIPE_WEBHOOK_SECRET")
    app.config["STRIPE_WEBHOOK_SECRET"] = None
    try:
        response = client.post(
            "/api/v1/hooks/stripe", data=b"{}", headers={"Content-Type": "application/json"}
        )
    finally:
        app.config["STRIPE_WEBHOOK_SECRET"] = saved

    assert response.status_code == 400 and "Stripe" in response.get_json()["detail"]


def test_the_hook_is_public_and_documented(app, client):
    view_class = app.view_functions["shipping_hooks_api.TrackingWebhook"].view_class
    assert access_declaration(view_class.post) == "public"
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/hooks/{provider}"]["post"]
    assert operation["security"] == [] and {"200", "400", "404"} <= set(operation["responses"])


# ---- what the events do ----------------------------------------------------------------------------


def test_a_delivered_webhook_delivers_the_order_in_parcelhubs_name(client, shipment):
    response = deliver(client, event_for(shipment, "delivered", occurred_at="2026-03-02T12:00:00Z"))

    assert response.get_json()["status"] == "applied"
    order = database.session.get(Order, shipment.order_id)
    assert (reload(shipment).status, order.status) == ("delivered", "delivered")


def test_an_exception_webhook_opens_a_delivery_issue_once(client, shipment):
    deliver(client, event_for(shipment, "failure", message="Address not found", event_id="evt_a"))
    deliver(client, event_for(shipment, "failure", message="Address not found", event_id="evt_a"))  # again

    (issue,) = database.session.scalars(select(DeliveryIssue)).all()
    assert (issue.status, issue.summary) == ("open", "Address not found")
    assert reload(shipment).status == "exception"


def test_an_event_that_arrives_after_a_later_one_is_recorded_late_and_moves_nothing(client, shipment):
    deliver(client, event_for(shipment, "delivered", event_id="evt_2", occurred_at="2026-03-02T12:00:00Z"))

    late = deliver(
        client, event_for(shipment, "in_transit", event_id="evt_1", occurred_at="2026-03-02T08:00:00Z")
    )

    assert late.get_json()["status"] == "recorded late"
    assert reload(shipment).status == "delivered" and count(TrackingEvent) == 2


# ---- under concurrency (PostgreSQL) ------------------------------------------------------------------


def test_the_same_event_delivered_by_several_threads_at_once_is_recorded_once(app, committed_db):
    if committed_db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL: SQLite lets one transaction write at a time")
    saved = configure_parcelhub(app, "http://127.0.0.1:9")
    try:
        with transaction():
            shop = make_shop()
        _order, (shipment,) = shipped_order(shop)
        shipment_id = shipment.id
        body, headers = signed(event_for(shipment, "failure", message="Damaged"))
        committed_db.session.remove()
        answers = deliver_at_once(app, body, headers, threads=6)

        assert [a for a in answers if isinstance(a, BaseException)] == []
        assert Counter(status for status, _ in answers) == Counter({200: 6})
        assert Counter(body["status"] for _, body in answers) == Counter({"applied": 1, "duplicate": 5})
        with app.app_context():
            stored = database.session.scalars(
                select(TrackingEvent).where(TrackingEvent.shipment_id == shipment_id)
            ).all()
            assert [event.status for event in stored] == ["exception"]
            assert count(ShippingWebhookEvent) == 1
            assert count(DeliveryIssue) == 1
    finally:
        app.config.update(saved)


def test_exceptions_of_one_shipment_racing_each_other_open_one_issue(app, committed_db):
    if committed_db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL: SQLite lets one transaction write at a time")
    saved = configure_parcelhub(app, "http://127.0.0.1:9")
    try:
        with transaction():
            shop = make_shop()
        _order, (shipment,) = shipped_order(shop)
        deliveries = [
            signed(event_for(shipment, "failure", message=f"Problem {n}", event_id=f"evt_{n}"))
            for n in range(4)
        ]
        committed_db.session.remove()
        answers = deliver_each_at_once(app, deliveries)

        assert [a for a in answers if isinstance(a, BaseException)] == []
        assert {body["status"] for _, body in answers} == {"applied"}
        with app.app_context():
            (issue,) = database.session.scalars(select(DeliveryIssue)).all()
            assert issue.summary.count("Problem") == 4
    finally:
        app.config.update(saved)


def deliver_at_once(app, body, headers, *, threads):
    return deliver_each_at_once(app, [(body, headers)] * threads)


def deliver_each_at_once(app, deliveries):
    """Post each (body, headers) from its own thread, app context and client, released
    together; a response is (status, json), an exception is kept as what a 500 would be."""

    def delivered(body: bytes, headers: dict):
        response = app.test_client().post(HOOK, data=body, headers=headers)
        return response.status_code, json.loads(response.data)

    work = [lambda body=body, headers=headers: delivered(body, headers) for body, headers in deliveries]
    return run_at_once(app, work, timeout=60)
