"""The ParcelHub adapter against a local server that answers like ParcelHub's API, and its
webhook signature check.

Only what is outside our walls is stubbed: ParcelHub itself, at the HTTP boundary
(pytest-httpserver), reached through PARCELHUB_API_BASE. The helpers here (settings, signed
events) serve the webhook tests too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from werkzeug import Response

from app.blueprints.fulfilment import providers
from app.blueprints.fulfilment.parcelhub import ParcelHubProvider, our_status
from app.blueprints.fulfilment.providers import Parcel, WebhookRejected

API_KEY = "ph_test_key"
WEBHOOK_SECRET = "ph_whsec_test"
PARCELHUB_KEYS = (
    "PARCELHUB_API_KEY",
    "PARCELHUB_WEBHOOK_SECRET",
    "PARCELHUB_API_BASE",
    "PARCELHUB_TIMEOUT_SECONDS",
    "SHIPPING_PROVIDERS",
)
FROM = {
    "name": "Main warehouse",
    "line1": "Kade 5",
    "postal_code": "3511 AA",
    "city": "Utrecht",
    "country": "NL",
}
TO = {
    "recipient": "Ada Lovelace",
    "line1": "Damrak 1",
    "postal_code": "1012 LG",
    "city": "Amsterdam",
    "country": "NL",
}


def configure_parcelhub(app, base_url: str):
    """Point the app at a local ParcelHub; returns what to restore."""
    saved = {key: app.config.get(key) for key in PARCELHUB_KEYS}
    app.config.update(
        PARCELHUB_API_KEY=API_KEY,
        PARCELHUB_WEBHOOK_SECRET=WEBHOOK_SECRET,
        PARCELHUB_API_BASE=base_url.rstrip("/"),
        PARCELHUB_TIMEOUT_SECONDS=5,
        SHIPPING_PROVIDERS="manual,parcelhub",
    )
    return saved


@pytest.fixture
def parcelhub_api(app, httpserver):
    saved = configure_parcelhub(app, httpserver.url_for(""))
    yield httpserver
    app.config.update(saved)


@pytest.fixture
def provider(app, parcelhub_api):
    with app.test_request_context():
        yield ParcelHubProvider()


def tracking_event(status="in_transit", *, event_id="evt_1", shipment_id="shp_1", **data) -> dict:
    return {
        "id": event_id,
        "type": "tracking.updated",
        "created_at": "2026-03-02T10:00:00Z",
        "data": {
            "shipment_id": shipment_id,
            "tracking_number": "PH123456789",
            "status": status,
            "occurred_at": "2026-03-02T09:58:00Z",
            "message": "",
            "location": "",
            **data,
        },
    }


def sign(body: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    stamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={signature}"


def signed(event: dict, **signing) -> tuple[bytes, dict]:
    """The body and headers of a delivery as ParcelHub signs it."""
    body = json.dumps(event).encode()
    return body, {"ParcelHub-Signature": sign(body, **signing), "Content-Type": "application/json"}


def parcel(**fields) -> Parcel:
    values = {
        "order_number": "100042",
        "shipment_number": "100042-1",
        "from_address": FROM,
        "to_address": TO,
        "packages": 2,
        "weight_grams": 1501,
    }
    values.update(fields)
    return Parcel(**values)


# ParcelHub's answer to a rates request: two carriers, the dearer first (the ship page
# lists them cheapest first).
TWO_RATES = {
    "rates": [
        {"id": "rate_9", "carrier": "DHL", "service": "express", "amount": "12.50", "currency": "EUR"},
        {
            "id": "rate_1",
            "carrier": "PostNL",
            "service": "standard",
            "amount": "6.95",
            "currency": "EUR",
            "estimated_days": 2,
        },
    ]
}


def label_answer(**fields) -> dict:
    answer = {
        "id": "shp_1",
        "carrier": "DHL",
        "service": "dhl_parcel",
        "tracking_number": "PH123456789",
        "tracking_url": "https://track.parcelhub.example/PH123456789",
        "label_url": "https://labels.parcelhub.example/shp_1.pdf",
        "estimated_delivery": "2026-03-04",
    }
    answer.update(fields)
    return answer


def sent(httpserver, path: str) -> list:
    return [request for request, _response in httpserver.log if request.path == path]


# ---- rates and labels ---------------------------------------------------------------------------


def test_rates_send_the_addresses_and_each_package_with_the_api_key_and_come_back_cheapest_first(
    provider, parcelhub_api
):
    dhl, postnl = TWO_RATES["rates"]
    unreadable = {"id": "rate_bad", "carrier": "X", "service": "y", "amount": "n/a", "currency": "EUR"}
    parcelhub_api.expect_request("/v1/rates", method="POST").respond_with_json(
        {"rates": [{**dhl, "currency": "eur"}, postnl, unreadable]}
    )

    rates = provider.rates(parcel())

    assert [(r.rate_id, r.carrier, r.amount, r.currency, r.estimated_days) for r in rates] == [
        ("rate_1", "PostNL", Decimal("6.95"), "EUR", 2),
        ("rate_9", "DHL", Decimal("12.50"), "EUR", None),
    ]
    (request,) = sent(parcelhub_api, "/v1/rates")
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    body = request.get_json()
    assert body["parcels"] == [{"weight_grams": 751}, {"weight_grams": 750}]
    assert body["to"]["name"] == "Ada Lovelace" and body["to"]["postal_code"] == "1012 LG"
    assert body["from"]["city"] == "Utrecht"


def test_rates_that_cannot_be_had_are_an_empty_list_not_an_error(provider, parcelhub_api):
    parcelhub_api.expect_request("/v1/rates", method="POST").respond_with_data("oops", status=502)

    assert provider.rates(parcel()) == []


def test_a_label_is_bought_once_under_our_idempotency_key_for_our_shipment_number(provider, parcelhub_api):
    parcelhub_api.expect_request("/v1/shipments", method="POST").respond_with_json(label_answer(), status=201)

    result = provider.create_label(parcel(), service="dhl_parcel", idempotency_key="shipment:42:1")

    assert result.succeeded and result.error_code == ""
    assert (result.carrier, result.service, result.tracking_number, result.reference) == (
        "DHL",
        "dhl_parcel",
        "PH123456789",
        "shp_1",
    )
    assert result.label_url.endswith("shp_1.pdf") and result.tracking_url.endswith("PH123456789")
    assert result.estimated_delivery == date(2026, 3, 4)
    (request,) = sent(parcelhub_api, "/v1/shipments")
    assert request.headers["Idempotency-Key"] == "shipment:42:1"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    body = request.get_json()
    assert (body["reference"], body["service"]) == ("100042-1", "dhl_parcel") and "rate_id" not in body
    assert len(body["parcels"]) == 2


def test_a_label_for_a_chosen_rate_sends_the_rate_id(provider, parcelhub_api):
    parcelhub_api.expect_request("/v1/shipments", method="POST").respond_with_json(label_answer())

    provider.create_label(parcel(), service="rate_1", idempotency_key="k")

    (request,) = sent(parcelhub_api, "/v1/shipments")
    assert request.get_json()["rate_id"] == "rate_1" and "service" not in request.get_json()


def test_a_refused_label_is_a_failed_result_with_parcelhubs_code_and_message(provider, parcelhub_api):
    parcelhub_api.expect_request("/v1/shipments", method="POST").respond_with_json(
        {"error": {"code": "address_invalid", "message": "The postal code does not exist."}}, status=422
    )

    result = provider.create_label(parcel(), service="dhl_parcel", idempotency_key="k")

    assert (result.succeeded, result.error_code, result.error_message) == (
        False,
        "address_invalid",
        "The postal code does not exist.",
    )


@pytest.mark.parametrize(
    ("status", "body", "content_type", "code"),
    [
        (500, {"error": {"code": "internal", "message": "boom"}}, "application/json", "provider_error"),
        (503, "Service Unavailable", "text/html", "provider_error"),
        (200, "<html>not json</html>", "text/html", "invalid_response"),
        (200, ["a", "list"], "application/json", "invalid_response"),
        (201, {"carrier": "DHL"}, "application/json", "invalid_response"),  # no shipment id
        (404, "Not Found", "text/plain", "provider_refused"),
    ],
)
def test_a_broken_answer_is_a_failed_result_never_an_exception(
    provider, parcelhub_api, status, body, content_type, code
):
    data = body if isinstance(body, str) else json.dumps(body)
    parcelhub_api.expect_request("/v1/shipments", method="POST").respond_with_data(
        data, status=status, content_type=content_type
    )

    result = provider.create_label(parcel(), service="dhl_parcel", idempotency_key="k")

    assert (result.succeeded, result.error_code) == (False, code)
    assert result.error_message


def test_a_parcelhub_that_does_not_answer_in_time_is_one_failed_attempt_within_the_timeout(
    app, provider, parcelhub_api
):
    app.config["PARCELHUB_TIMEOUT_SECONDS"] = 0.5
    release, calls = threading.Event(), []

    def hang(_request):
        calls.append(1)
        release.wait(10)
        return Response(json.dumps(label_answer()), status=201, content_type="application/json")

    parcelhub_api.expect_request("/v1/shipments", method="POST").respond_with_handler(hang)
    started = time.monotonic()
    try:
        result = provider.create_label(parcel(), service="dhl_parcel", idempotency_key="k")
    finally:
        release.set()
    elapsed = time.monotonic() - started

    assert (result.succeeded, result.error_code) == (False, "provider_unreachable")
    assert elapsed < 3
    assert len(calls) == 1  # no retry


def test_an_unreachable_parcelhub_is_a_failed_result(app, provider, unused_tcp_port):
    app.config["PARCELHUB_API_BASE"] = f"http://127.0.0.1:{unused_tcp_port}"

    result = provider.create_label(parcel(), service="dhl_parcel", idempotency_key="k")

    assert (result.succeeded, result.error_code) == (False, "provider_unreachable")


def test_without_an_api_key_parcelhub_is_not_offered_and_asks_nothing(app, provider, parcelhub_api):
    app.config["PARCELHUB_API_KEY"] = None

    result = provider.create_label(parcel(), service="dhl_parcel", idempotency_key="k")

    assert (result.succeeded, result.error_code) == (False, "provider_not_configured")
    assert parcelhub_api.log == []
    assert [p.code for p in providers.offered_providers()] == ["manual"]


def test_with_an_api_key_parcelhub_is_offered_as_a_provider_that_makes_labels(provider):
    offered = {p.code: p for p in providers.offered_providers()}

    assert offered["parcelhub"].label == "ParcelHub" and offered["parcelhub"].makes_labels


# ---- webhooks -----------------------------------------------------------------------------------


def test_a_signed_tracking_event_is_read_into_a_tracking_update(provider):
    event = tracking_event(
        "out_for_delivery",
        message="With the courier",
        location="Amsterdam",
        estimated_delivery="2026-03-03",
        occurred_at="2026-03-02T11:58:00+02:00",
    )
    body, headers = signed(event)

    (update,) = provider.parse_tracking_webhook(body, headers)

    assert (update.event_id, update.shipment_reference, update.tracking_number) == (
        "evt_1",
        "shp_1",
        "PH123456789",
    )
    assert (update.status, update.description, update.location) == (
        "out_for_delivery",
        "With the courier",
        "Amsterdam",
    )
    assert update.occurred_at == datetime(2026, 3, 2, 9, 58, tzinfo=UTC)
    assert update.estimated_delivery == date(2026, 3, 3)


@pytest.mark.parametrize(
    ("carrier_status", "ours"),
    [
        ("pre_transit", "label_created"),
        ("picked_up", "picked_up"),
        ("in_transit", "in_transit"),
        ("out_for_delivery", "out_for_delivery"),
        ("available_for_pickup", "out_for_delivery"),
        ("delivered", "delivered"),
        ("failure", "exception"),
        ("return_to_sender", "exception"),
        ("DELIVERY_FAILED", "exception"),
        ("held_at_sorting_robot", "in_transit"),
    ],
)
def test_parcelhub_statuses_map_onto_ours(carrier_status, ours):
    assert our_status(carrier_status) == ours


def test_an_unknown_carrier_status_is_in_transit_with_the_carriers_words_kept(provider):
    with_message = tracking_event("customs_review", message="Waiting for customs")
    without = tracking_event("customs_review", event_id="evt_2")

    (first,) = provider.parse_tracking_webhook(*signed(with_message))
    (second,) = provider.parse_tracking_webhook(*signed(without))

    assert (first.status, first.description) == ("in_transit", "Waiting for customs")
    assert (second.status, second.description) == ("in_transit", "Customs review")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"ParcelHub-Signature": ""},
        {"ParcelHub-Signature": "v1=abc"},
        {"ParcelHub-Signature": "t=notanumber,v1=abc"},
    ],
    ids=["missing", "empty", "no time", "bad time"],
)
def test_a_missing_or_malformed_signature_is_rejected(provider, headers):
    with pytest.raises(WebhookRejected):
        provider.parse_tracking_webhook(json.dumps(tracking_event()).encode(), headers)


def test_a_signature_made_with_another_secret_is_rejected(provider):
    with pytest.raises(WebhookRejected, match="does not match"):
        provider.parse_tracking_webhook(*signed(tracking_event(), secret="someone-else"))


def test_a_body_changed_after_signing_is_rejected(provider):
    body, headers = signed(tracking_event("in_transit"))

    with pytest.raises(WebhookRejected):
        provider.parse_tracking_webhook(body.replace(b"in_transit", b"delivered"), headers)


@pytest.mark.parametrize("offset", [-301, 301])
def test_a_signature_more_than_five_minutes_away_is_rejected_as_a_replay(provider, offset):
    body, headers = signed(tracking_event(), timestamp=int(time.time()) + offset)

    with pytest.raises(WebhookRejected, match="too far"):
        provider.parse_tracking_webhook(body, headers)


def test_a_signature_within_five_minutes_is_accepted(provider):
    body, headers = signed(tracking_event(), timestamp=int(time.time()) - 290)

    assert len(provider.parse_tracking_webhook(body, headers)) == 1


def test_while_a_secret_rotates_any_of_several_signatures_may_match(provider):
    body = json.dumps(tracking_event()).encode()
    good = sign(body)
    stamp, signature = good.split(",")
    header = f"{stamp},v1={'0' * 64},{signature}"

    assert len(provider.parse_tracking_webhook(body, {"ParcelHub-Signature": header})) == 1


def test_without_a_webhook_secret_nothing_is_trusted(app, provider):
    body, headers = signed(tracking_event())
    app.config["PARCELHUB_WEBHOOK_SECRET"] = None

    with pytest.raises(WebhookRejected, match="secret"):
        provider.parse_tracking_webhook(body, headers)


@pytest.mark.parametrize(
    "event",
    [
        ["not", "an", "object"],
        {"type": "tracking.updated", "data": {}},  # no id
        tracking_event(shipment_id="", tracking_number=""),
        tracking_event(status=""),
        tracking_event(occurred_at="yesterday"),
        {"id": "evt_1", "type": "tracking.updated"},
    ],
    ids=["list", "no id", "no shipment", "no status", "bad time", "no data"],
)
def test_a_signed_body_that_is_no_tracking_event_is_rejected(provider, event):
    with pytest.raises(WebhookRejected):
        provider.parse_tracking_webhook(*signed(event))


def test_events_of_other_types_carry_no_tracking_update(provider):
    event = {"id": "evt_9", "type": "shipment.label_voided", "data": {"shipment_id": "shp_1"}}

    assert provider.parse_tracking_webhook(*signed(event)) == []
