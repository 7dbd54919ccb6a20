"""Stripe checkout end to end: the checkout API creates the intent, signed webhooks on
POST /api/v1/hooks/stripe move the order; every event counts once."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from werkzeug import Response

from app.blueprints.orders import payments
from app.blueprints.orders.invoice_models import Invoice
from app.blueprints.orders.order_models import Order, OrderEvent
from app.blueprints.orders.payment_models import GatewayWebhookEvent, Payment, PaymentTransaction
from app.core.transaction import transaction
from app.extensions import db as database
from tests.factories.auth import UserFactory
from tests.orders.checkout_helpers import checkout_call, make_shop, place_order_directly, ready_cart
from tests.orders.test_stripe_gateway import (
    PUBLISHABLE_KEY,
    configure_stripe,
    payment_intent,
    sent_requests,
    signed,
    stripe_event,
)

HOOK = "/api/v1/hooks/stripe"
TOTAL_MINOR = 1705  # one teapot (12.10) + standard shipping (4.95)


@pytest.fixture
def stripe_shop(app, db, httpserver):
    saved = configure_stripe(app, httpserver)
    shop = make_shop()
    yield shop
    app.config.update(saved)


@pytest.fixture
def stripe_order(client, stripe_shop, httpserver, db):
    """An order checked out with Stripe through the API: pending_payment, intent pi_test_1."""
    httpserver.expect_request("/v1/payment_intents", method="POST").respond_with_json(payment_intent())
    cart_id = ready_cart(client, [(stripe_shop.teapot.sku, 1)])
    response = checkout_call(client, cart_id, {"payment_method": "stripe"})
    assert response.status_code == 201, response.text
    return db.session.scalar(select(Order).where(Order.number == response.get_json()["number"]))


def deliver(client, event, **signing):
    body, headers = signed(event, **signing)
    return client.post(HOOK, data=body, headers=headers)


def succeeded(amount_received=TOTAL_MINOR, **kwargs):
    intent = payment_intent(status="succeeded", amount_received=amount_received)
    return stripe_event("payment_intent.succeeded", intent, **kwargs)


def charge_refunded(amount_refunded, *, amount_captured=TOTAL_MINOR, event_id="evt_refund_1"):
    charge = {
        "id": "ch_test_1",
        "object": "charge",
        "amount": TOTAL_MINOR,
        "amount_captured": amount_captured,
        "amount_refunded": amount_refunded,
        "currency": "eur",
        "payment_intent": "pi_test_1",
        "refunded": amount_refunded >= amount_captured,
    }
    return stripe_event("charge.refunded", charge, event_id=event_id)


def payment_of(order) -> Payment:
    return payments.payments_of(order)[-1]


def captures_on_timeline(order) -> int:
    kinds = database.session.scalars(
        select(OrderEvent.data).where(OrderEvent.order_id == order.id, OrderEvent.kind == "payment")
    )
    return sum(1 for data in kinds if data.get("status") == "captured")


def stored_events() -> int:
    return database.session.scalar(select(func.count()).select_from(GatewayWebhookEvent))


def test_checkout_with_stripe_answers_the_client_secret_and_leaves_the_order_pending(
    client, stripe_shop, httpserver, db
):
    httpserver.expect_request("/v1/payment_intents", method="POST").respond_with_json(payment_intent())
    cart_id = ready_cart(client, [(stripe_shop.teapot.sku, 1)])

    response = checkout_call(client, cart_id, {"payment_method": "stripe"})

    assert response.status_code == 201, response.text
    body = response.get_json()
    assert body["payment_action"]["client_secret"] == "pi_test_1_secret_s3cr3t"
    assert body["payment_action"]["publishable_key"] == PUBLISHABLE_KEY
    assert body["status"] == "pending_payment" and body["payment"] == {
        "method": "stripe",
        "status": "pending",
    }
    order = db.session.scalar(select(Order).where(Order.number == body["number"]))
    payment = payment_of(order)
    assert (payment.status, payment.gateway_reference) == ("pending", "pi_test_1")
    (request,) = sent_requests(httpserver, "/v1/payment_intents")
    assert request.headers["Idempotency-Key"] == f"payment-{payment.id}-create"


def test_a_signed_succeeded_webhook_pays_the_order_and_issues_its_invoice(client, stripe_order, db):
    response = deliver(client, succeeded())

    assert response.status_code == 200 and response.get_json() == {"status": "applied"}
    db.session.refresh(stripe_order)
    assert (stripe_order.status, stripe_order.payment_status) == ("paid", "paid")
    assert stripe_order.amount_paid == Decimal("17.05") and stripe_order.paid_at is not None
    assert payment_of(stripe_order).status == "paid"
    assert (
        db.session.scalar(
            select(func.count()).select_from(Invoice).where(Invoice.order_id == stripe_order.id)
        )
        == 1
    )
    assert captures_on_timeline(stripe_order) == 1


def test_the_same_webhook_twice_is_a_duplicate_that_changes_nothing(client, stripe_order, db):
    assert deliver(client, succeeded()).get_json() == {"status": "applied"}

    again = deliver(client, succeeded())

    assert again.status_code == 200 and again.get_json() == {"status": "duplicate"}
    db.session.refresh(stripe_order)
    assert stripe_order.amount_paid == Decimal("17.05")
    assert captures_on_timeline(stripe_order) == 1
    assert stored_events() == 1


def test_another_event_saying_what_is_recorded_already_changes_nothing(client, stripe_order, db):
    deliver(client, succeeded())

    response = deliver(client, succeeded(event_id="evt_test_2"))

    assert response.get_json() == {"status": "no change"}
    db.session.refresh(stripe_order)
    assert stripe_order.amount_paid == Decimal("17.05") and captures_on_timeline(stripe_order) == 1


def without_signature(body, headers):
    del headers["Stripe-Signature"]
    return body


def with_a_wrong_signature(body, headers):
    headers["Stripe-Signature"] = f"t={int(time.time())},v1={'0' * 64}"
    return body


def changed_after_signing(body, headers):
    return body.replace(b"1705", b"9999")


@pytest.mark.parametrize("spoil", [without_signature, with_a_wrong_signature, changed_after_signing])
def test_a_webhook_without_a_valid_signature_is_a_400_and_nothing_is_stored(client, stripe_order, db, spoil):
    body, headers = signed(succeeded())
    body = spoil(body, headers)

    response = client.post(HOOK, data=body, headers=headers)

    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert response.get_json()["code"] == "webhook_signature_invalid"
    assert stored_events() == 0
    db.session.refresh(stripe_order)
    assert (stripe_order.status, stripe_order.amount_paid) == ("pending_payment", Decimal("0.00"))


@pytest.mark.parametrize("amount", ["1e99", 1.5, 10**20, -5, True])
def test_a_signed_event_whose_amount_is_not_minor_units_is_a_400_and_changes_nothing(
    client, stripe_order, db, amount
):
    event = charge_refunded(0)
    event["data"]["object"]["amount_refunded"] = amount

    response = deliver(client, event)

    assert response.status_code == 400 and stored_events() == 0
    db.session.refresh(stripe_order)
    assert stripe_order.amount_refunded == Decimal("0.00")


def test_a_webhook_signed_with_another_secret_is_rejected(client, stripe_order):
    response = deliver(client, succeeded(), secret="whsec_someone_else")

    assert response.status_code == 400 and stored_events() == 0


def test_a_replayed_old_delivery_is_rejected(client, stripe_order):
    response = deliver(client, succeeded(), timestamp=int(time.time()) - 301)

    assert response.status_code == 400 and response.get_json()["code"] == "webhook_signature_invalid"


def test_without_a_webhook_secret_every_webhook_is_rejected(app, client, stripe_order):
    app.config["STRIPE_WEBHOOK_SECRET"] = None

    response = deliver(client, succeeded())

    assert response.status_code == 400 and stored_events() == 0


def test_a_failed_payment_leaves_the_order_pending_payment(client, stripe_order, db):
    intent = payment_intent(
        status="requires_payment_method",
        last_payment_error={"code": "card_declined", "message": "Your card was declined."},
    )

    response = deliver(client, stripe_event("payment_intent.payment_failed", intent))

    assert response.get_json() == {"status": "applied"}
    db.session.refresh(stripe_order)
    assert (stripe_order.status, stripe_order.payment_status) == ("pending_payment", "failed")
    assert payment_of(stripe_order).status == "failed"
    errors = db.session.scalars(
        select(OrderEvent.data).where(OrderEvent.order_id == stripe_order.id, OrderEvent.kind == "payment")
    ).all()
    assert {"status": "failed", "error": "Your card was declined."} in errors


def test_a_payment_that_succeeds_after_a_failed_attempt_pays_the_order(client, stripe_order, db):
    failed = payment_intent(last_payment_error={"message": "Your card was declined."})
    deliver(client, stripe_event("payment_intent.payment_failed", failed, event_id="evt_failed"))

    deliver(client, succeeded())

    db.session.refresh(stripe_order)
    assert (stripe_order.status, stripe_order.payment_status) == ("paid", "paid")


def test_a_refund_webhook_after_our_own_refund_is_not_counted_twice(client, stripe_order, httpserver, db):
    deliver(client, succeeded())
    httpserver.expect_request("/v1/refunds", method="POST").respond_with_json(
        {"id": "re_1", "object": "refund", "amount": 500, "currency": "eur", "status": "succeeded"}
    )
    with transaction():
        order = db.session.get(Order, stripe_order.id)
        payments.refund_payment(
            payment_of(order), order, Decimal("5.00"), actor=UserFactory(), idempotency_key="refund-1"
        )

    response = deliver(client, charge_refunded(500))

    assert response.get_json() == {"status": "no change"}
    db.session.refresh(stripe_order)
    assert (stripe_order.amount_refunded, stripe_order.payment_status) == (
        Decimal("5.00"),
        "partially_refunded",
    )
    assert payment_of(stripe_order).amount_refunded == Decimal("5.00")


def test_a_refund_webhook_racing_our_own_refund_waits_for_it_and_counts_it_once(
    app, committed_db, httpserver
):
    """Stripe announces a refund while the transaction that asked for it is still open: the
    webhook waits for the order's row lock, then finds the refund recorded."""
    if committed_db.engine.dialect.name != "postgresql":
        pytest.skip("row locks are what is tested; SQLite serializes writers anyway")
    saved = configure_stripe(app, httpserver)
    try:
        with transaction():
            shop, staff = make_shop(), UserFactory()
        httpserver.expect_request("/v1/payment_intents", method="POST").respond_with_json(payment_intent())
        order = place_order_directly([(shop.teapot, 1)], payment_method="stripe")
        with transaction():
            payments.start_payment(payment_of(order), order)
        assert deliver(app.test_client(), succeeded()).get_json() == {"status": "applied"}
        answers, webhook = (
            [],
            threading.Thread(
                target=lambda: answers.append(deliver(app.test_client(), charge_refunded(500)).get_json())
            ),
        )

        def refund_at_stripe(_request):
            webhook.start()
            refund = {
                "id": "re_1",
                "object": "refund",
                "amount": 500,
                "currency": "eur",
                "status": "succeeded",
            }
            return Response(json.dumps(refund), content_type="application/json")

        httpserver.expect_request("/v1/refunds", method="POST").respond_with_handler(refund_at_stripe)
        with transaction():
            order = database.session.get(Order, order.id)
            payments.refund_payment(
                payment_of(order), order, Decimal("5.00"), actor=staff, idempotency_key="r1"
            )
            wait_for_a_lock_wait(committed_db)
        webhook.join(10)

        assert answers == [{"status": "no change"}]
        order = database.session.get(Order, order.id, populate_existing=True)
        assert (order.amount_refunded, order.payment_status) == (Decimal("5.00"), "partially_refunded")
    finally:
        app.config.update(saved)


def wait_for_a_lock_wait(database, seconds=10):
    """Until another connection waits for a row lock (the webhook, for the order's)."""
    deadline = time.monotonic() + seconds
    with database.engine.connect() as connection:
        while time.monotonic() < deadline:
            waiting = connection.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            ).scalar()
            if waiting:
                return
            time.sleep(0.05)
    raise AssertionError("the webhook never waited for the order's lock")


def test_a_refund_made_at_stripe_is_recorded_by_its_cumulative_amount(client, stripe_order, db):
    deliver(client, succeeded())

    first = deliver(client, charge_refunded(500, event_id="evt_refund_1"))
    second = deliver(client, charge_refunded(1705, event_id="evt_refund_2"))

    assert first.get_json() == second.get_json() == {"status": "applied"}
    db.session.refresh(stripe_order)
    assert (stripe_order.amount_refunded, stripe_order.payment_status) == (Decimal("17.05"), "refunded")
    refunds = db.session.scalars(
        select(PaymentTransaction.amount)
        .where(PaymentTransaction.kind == "webhook")
        .order_by(PaymentTransaction.id)
    ).all()
    assert refunds == [Decimal("17.05"), Decimal("5.00"), Decimal("17.05")]  # cumulative, as Stripe says


def test_a_refund_that_overtakes_the_capture_event_records_both(client, stripe_order, db):
    response = deliver(client, charge_refunded(500))

    assert response.get_json() == {"status": "applied"}
    db.session.refresh(stripe_order)
    assert (stripe_order.amount_paid, stripe_order.amount_refunded) == (Decimal("17.05"), Decimal("5.00"))
    assert stripe_order.status == "paid" and stripe_order.payment_status == "partially_refunded"
    assert deliver(client, succeeded()).get_json() == {"status": "no change"}


def test_a_cancelled_intent_voids_the_payment(client, stripe_order, db):
    response = deliver(client, stripe_event("payment_intent.canceled", payment_intent(status="canceled")))

    assert response.get_json() == {"status": "applied"}
    db.session.refresh(stripe_order)
    assert payment_of(stripe_order).status == "voided" and stripe_order.payment_status == "voided"


def test_an_authorization_marks_the_payment_authorized(client, stripe_order, db):
    intent = payment_intent(status="requires_capture", amount_capturable=TOTAL_MINOR)

    response = deliver(client, stripe_event("payment_intent.amount_capturable_updated", intent))

    assert response.get_json() == {"status": "applied"}
    db.session.refresh(stripe_order)
    assert (stripe_order.status, stripe_order.payment_status) == ("pending_payment", "authorized")


def test_an_event_type_we_do_not_act_on_is_stored_and_ignored(client, stripe_order, db):
    response = deliver(client, stripe_event("payment_intent.created", payment_intent()))

    assert response.status_code == 200 and response.get_json() == {"status": "ignored"}
    stored = db.session.scalar(select(GatewayWebhookEvent))
    assert (stored.event_type, stored.outcome, stored.payment_id) == (
        "payment_intent.created",
        "ignored",
        payment_of(stripe_order).id,
    )


def test_an_event_about_an_unknown_payment_is_stored_and_answered_200(client, stripe_shop, db):
    response = deliver(client, stripe_event("payment_intent.succeeded", payment_intent(id="pi_elsewhere")))

    assert response.status_code == 200 and response.get_json() == {"status": "unknown payment"}
    stored = db.session.scalar(select(GatewayWebhookEvent))
    assert (stored.event_id, stored.payment_id, stored.outcome) == ("evt_test_1", None, "unknown payment")


def test_stored_webhooks_keep_no_client_secret(client, stripe_order, db):
    deliver(client, succeeded())

    stored = db.session.scalar(select(GatewayWebhookEvent))
    assert stored.payload["data"]["object"]["id"] == "pi_test_1"
    assert "client_secret" not in stored.payload["data"]["object"]
    transaction_raw = db.session.scalar(
        select(PaymentTransaction.raw_response).where(PaymentTransaction.kind == "webhook")
    )
    assert "client_secret" not in str(transaction_raw)


def test_the_hook_is_documented_as_public_in_the_openapi_document(client, db):
    operation = client.get("/api/v1/openapi.json").get_json()["paths"][HOOK]["post"]

    assert operation["security"] == []
    assert {"200", "400"} <= set(operation["responses"])
    assert any(parameter["name"] == "Stripe-Signature" for parameter in operation["parameters"])
