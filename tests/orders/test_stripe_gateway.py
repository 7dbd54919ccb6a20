"""The Stripe gateway against a local server that answers like Stripe's API.

Only what is outside our walls is stubbed: Stripe itself, at the HTTP boundary
(pytest-httpserver). The gateway, the stripe library and our services run for real.
The helpers here (settings, intents, signed events) serve test_payment_webhooks.py too.
"""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
import stripe
from sqlalchemy import select
from werkzeug import Response

from app.blueprints.orders import gateways, payments
from app.blueprints.orders.payment_models import PaymentTransaction
from app.blueprints.orders.stripe_gateway import StripeGateway, minor_units
from app.core.transaction import transaction
from tests.orders.checkout_helpers import make_shop, place_order_directly

SECRET_KEY = "sk_test_h1"
PUBLISHABLE_KEY = "pk_test_h1"
WEBHOOK_SECRET = "whsec_test_h1"
STRIPE_KEYS = (
    "STRIPE_SECRET_KEY",
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_BASE",
    "STRIPE_TIMEOUT_SECONDS",
)


def configure_stripe(app, httpserver):
    """Point the app at the local Stripe; returns what to restore."""
    saved = {key: app.config.get(key) for key in STRIPE_KEYS}
    app.config.update(
        STRIPE_SECRET_KEY=SECRET_KEY,
        STRIPE_PUBLISHABLE_KEY=PUBLISHABLE_KEY,
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STRIPE_API_BASE=httpserver.url_for("").rstrip("/"),
        STRIPE_TIMEOUT_SECONDS=5,
    )
    return saved


@pytest.fixture
def stripe_api(app, httpserver):
    saved = configure_stripe(app, httpserver)
    yield httpserver
    app.config.update(saved)


def payment_intent(**fields) -> dict:
    intent = {
        "id": "pi_test_1",
        "object": "payment_intent",
        "amount": 1705,
        "amount_capturable": 0,
        "amount_received": 0,
        "currency": "eur",
        "status": "requires_payment_method",
        "capture_method": "automatic",
        "client_secret": "pi_test_1_secret_s3cr3t",
        "metadata": {},
    }
    intent.update(fields)
    return intent


def stripe_error(kind: str, code: str, message: str, **extra) -> dict:
    return {"error": {"type": kind, "code": code, "message": message, **extra}}


def form_of(request) -> dict:
    """The form-encoded body the stripe library sent, one value per key."""
    return {key: values[0] for key, values in parse_qs(request.get_data(as_text=True)).items()}


def sent_requests(httpserver, path: str) -> list:
    return [request for request, _response in httpserver.log if request.path == path]


def stripe_event(event_type: str, obj: dict, *, event_id: str = "evt_test_1") -> dict:
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "type": event_type,
        "data": {"object": obj},
    }


def signed(event: dict, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None):
    """The body and headers of a delivery as Stripe signs it."""
    body = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp)
    return body.encode(), {"Stripe-Signature": header, "Content-Type": "application/json"}


@pytest.fixture
def gateway(db, stripe_api):
    return StripeGateway()


def test_authorize_creates_one_intent_in_minor_units_with_the_order_in_its_metadata(gateway, stripe_api):
    stripe_api.expect_request("/v1/payment_intents", method="POST").respond_with_json(payment_intent())

    result = gateway.authorize(
        payment_id=7, order_number="100007", amount=Decimal("17.05"), currency="EUR", email="ada@example.org"
    )

    assert (result.succeeded, result.status, result.reference) == (True, "pending", "pi_test_1")
    assert result.client_secret == "pi_test_1_secret_s3cr3t" and "client_secret" not in result.raw
    (request,) = sent_requests(stripe_api, "/v1/payment_intents")
    assert request.headers["Idempotency-Key"] == "payment-7-create"
    assert request.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert form_of(request) == {
        "amount": "1705",
        "currency": "eur",
        "metadata[order_number]": "100007",
        "metadata[payment_id]": "7",
        "description": "Order 100007",
        "receipt_email": "ada@example.org",
        "automatic_payment_methods[enabled]": "true",
        "capture_method": "automatic",
    }


@pytest.mark.parametrize(
    ("intent_status", "ours"),
    [
        ("requires_payment_method", "pending"),
        ("requires_confirmation", "pending"),
        ("requires_action", "pending"),
        ("processing", "pending"),
        ("requires_capture", "authorized"),
        ("succeeded", "paid"),
    ],
)
def test_an_intents_status_maps_to_our_payment_status(gateway, stripe_api, intent_status, ours):
    stripe_api.expect_request("/v1/payment_intents", method="POST").respond_with_json(
        payment_intent(status=intent_status, amount_received=1705 if intent_status == "succeeded" else 0)
    )

    result = gateway.authorize(
        payment_id=1, order_number="1", amount=Decimal("17.05"), currency="EUR", email=""
    )

    assert result.status == ours


def test_zero_decimal_currencies_are_sent_in_whole_units(gateway, stripe_api):
    stripe_api.expect_request("/v1/payment_intents", method="POST").respond_with_json(
        payment_intent(amount=1500, currency="jpy")
    )

    result = gateway.authorize(
        payment_id=2, order_number="2", amount=Decimal("1500.00"), currency="JPY", email=""
    )

    assert form_of(sent_requests(stripe_api, "/v1/payment_intents")[0])["amount"] == "1500"
    assert result.amount == Decimal("1500.00")


def test_minor_units_follow_the_currencys_decimals():
    assert minor_units(Decimal("17.05"), "EUR") == 1705
    assert minor_units(Decimal("1500.00"), "jpy") == 1500
    assert minor_units(Decimal("12.34"), "KWD") == 12340


def test_an_amount_the_currency_cannot_express_fails_without_calling_stripe(gateway, stripe_api):
    result = gateway.authorize(
        payment_id=3, order_number="3", amount=Decimal("99.50"), currency="JPY", email=""
    )

    assert (result.succeeded, result.status, result.error_code) == (
        False,
        "failed",
        "amount_not_representable",
    )
    assert stripe_api.log == []


def test_a_declined_card_is_a_failed_result_without_the_client_secret(gateway, stripe_api):
    stripe_api.expect_request("/v1/payment_intents", method="POST").respond_with_json(
        stripe_error(
            "card_error",
            "card_declined",
            "Your card has insufficient funds.",
            decline_code="insufficient_funds",
            payment_intent=payment_intent(status="requires_payment_method"),
        ),
        status=402,
    )

    result = gateway.authorize(
        payment_id=4, order_number="4", amount=Decimal("17.05"), currency="EUR", email=""
    )

    assert (result.succeeded, result.status) == (False, "failed")
    assert (result.error_code, result.error_message) == ("card_declined", "Your card has insufficient funds.")
    assert result.raw["error"]["decline_code"] == "insufficient_funds"
    assert "secret" not in json.dumps(result.raw)


def test_a_stripe_server_error_is_a_failed_result(gateway, stripe_api):
    stripe_api.expect_request("/v1/payment_intents", method="POST").respond_with_json(
        stripe_error("api_error", "", "Something went wrong on Stripe's end."), status=500
    )

    result = gateway.authorize(
        payment_id=5, order_number="5", amount=Decimal("1.00"), currency="EUR", email=""
    )

    assert not result.succeeded and result.error_code == "api_error"


def test_a_stripe_that_does_not_answer_in_time_is_a_failed_result_within_the_timeout(
    app, gateway, stripe_api
):
    app.config["STRIPE_TIMEOUT_SECONDS"] = 0.5
    release = threading.Event()

    def hang(_request):
        release.wait(10)
        return Response("{}", status=200, content_type="application/json")

    stripe_api.expect_request("/v1/payment_intents", method="POST").respond_with_handler(hang)
    started = time.monotonic()
    try:
        result = gateway.authorize(
            payment_id=6, order_number="6", amount=Decimal("1.00"), currency="EUR", email=""
        )
    finally:
        release.set()
    elapsed = time.monotonic() - started

    assert (result.succeeded, result.status, result.error_code) == (False, "failed", "gateway_unreachable")
    assert elapsed < 3  # one attempt of 0.5 s, no retries


def test_an_unreachable_stripe_is_a_failed_result(app, gateway, unused_tcp_port):
    app.config["STRIPE_API_BASE"] = f"http://127.0.0.1:{unused_tcp_port}"

    result = gateway.void(reference="pi_test_1")

    assert (result.succeeded, result.error_code) == (False, "gateway_unreachable")


def test_refund_sends_the_amount_and_our_idempotency_key(gateway, stripe_api):
    stripe_api.expect_request("/v1/refunds", method="POST").respond_with_json(
        {"id": "re_1", "object": "refund", "amount": 500, "currency": "eur", "status": "succeeded"}
    )

    result = gateway.refund(
        reference="pi_test_1", amount=Decimal("5.00"), currency="EUR", idempotency_key="refund-42"
    )

    assert (result.succeeded, result.status, result.reference, result.amount) == (
        True,
        "refunded",
        "re_1",
        Decimal("5.00"),
    )
    (request,) = sent_requests(stripe_api, "/v1/refunds")
    assert request.headers["Idempotency-Key"] == "refund-42"
    assert form_of(request) == {"payment_intent": "pi_test_1", "amount": "500"}


def test_a_refused_refund_is_a_failed_result(gateway, stripe_api):
    stripe_api.expect_request("/v1/refunds", method="POST").respond_with_json(
        stripe_error("invalid_request_error", "charge_already_refunded", "Charge has already been refunded."),
        status=400,
    )

    result = gateway.refund(
        reference="pi_test_1", amount=Decimal("5.00"), currency="EUR", idempotency_key="k"
    )

    assert (result.succeeded, result.error_code) == (False, "charge_already_refunded")


def test_capture_captures_the_amount_and_answers_paid(gateway, stripe_api):
    stripe_api.expect_request("/v1/payment_intents/pi_test_1/capture", method="POST").respond_with_json(
        payment_intent(status="succeeded", amount_received=1705)
    )

    result = gateway.capture(reference="pi_test_1", amount=Decimal("17.05"), currency="EUR")

    assert (result.succeeded, result.status, result.amount) == (True, "paid", Decimal("17.05"))
    assert form_of(sent_requests(stripe_api, "/v1/payment_intents/pi_test_1/capture")[0]) == {
        "amount_to_capture": "1705"
    }


def test_void_cancels_the_intent(gateway, stripe_api):
    stripe_api.expect_request("/v1/payment_intents/pi_test_1/cancel", method="POST").respond_with_json(
        payment_intent(status="canceled")
    )

    result = gateway.void(reference="pi_test_1")

    assert (result.succeeded, result.status) == (True, "voided")


def test_voiding_an_intent_that_is_already_cancelled_succeeds(gateway, stripe_api):
    # The first cancel went through but its answer was lost: the retry must not block a cancellation.
    stripe_api.expect_request("/v1/payment_intents/pi_test_1/cancel", method="POST").respond_with_json(
        stripe_error(
            "invalid_request_error",
            "payment_intent_unexpected_state",
            "You cannot cancel this PaymentIntent because it has a status of canceled.",
            payment_intent=payment_intent(status="canceled"),
        ),
        status=400,
    )

    result = gateway.void(reference="pi_test_1")

    assert (result.succeeded, result.status) == (True, "voided")


def test_voiding_an_intent_that_succeeded_meanwhile_fails(gateway, stripe_api):
    stripe_api.expect_request("/v1/payment_intents/pi_test_1/cancel", method="POST").respond_with_json(
        stripe_error(
            "invalid_request_error",
            "payment_intent_unexpected_state",
            "You cannot cancel this PaymentIntent because it has a status of succeeded.",
            payment_intent=payment_intent(status="succeeded"),
        ),
        status=400,
    )

    result = gateway.void(reference="pi_test_1")

    assert (result.succeeded, result.error_code) == (False, "payment_intent_unexpected_state")


def test_stripe_is_offered_only_with_a_secret_key(app, db, stripe_api):
    assert "stripe" in [gateway.code for gateway in gateways.offered_gateways()]

    app.config["STRIPE_SECRET_KEY"] = None

    assert "stripe" not in [gateway.code for gateway in gateways.offered_gateways()]
    result = StripeGateway().void(reference="pi_test_1")
    assert (result.succeeded, result.error_code) == (False, "gateway_not_configured")


def test_starting_a_payment_hands_out_the_client_secret_but_never_stores_it(db, stripe_api):
    shop = make_shop()
    stripe_api.expect_request("/v1/payment_intents", method="POST").respond_with_json(payment_intent())
    order = place_order_directly([(shop.teapot, 1)], payment_method="stripe")

    with transaction():
        payment = payments.payments_of(order)[-1]
        result = payments.start_payment(payment, order)

    assert result.client_secret == "pi_test_1_secret_s3cr3t"
    assert (payment.status, payment.gateway_reference, order.payment_status) == (
        "pending",
        "pi_test_1",
        "pending",
    )
    (stored,) = db.session.scalars(
        select(PaymentTransaction).where(PaymentTransaction.payment_id == payment.id)
    )
    assert stored.kind == "authorize" and stored.raw_response["id"] == "pi_test_1"
    assert "secret" not in json.dumps(stored.raw_response)


def test_a_failed_intent_creation_leaves_the_order_pending_with_a_failed_payment(db, stripe_api):
    shop = make_shop()
    stripe_api.expect_request("/v1/payment_intents", method="POST").respond_with_json(
        stripe_error("api_error", "", "Something went wrong on Stripe's end."), status=500
    )
    order = place_order_directly([(shop.teapot, 1)], payment_method="stripe")

    with transaction():
        payment = payments.payments_of(order)[-1]
        result = payments.start_payment(payment, order)

    assert not result.succeeded
    assert (order.status, order.payment_status, payment.status) == ("pending_payment", "failed", "failed")
