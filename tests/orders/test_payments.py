"""Payment services with the manual gateway (bank transfer, cash on delivery), and what
cancelling does to the money: the rules of payments.py."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.blueprints.inventory.models import StockLevel
from app.blueprints.orders import lifecycle, payments
from app.blueprints.orders.invoice_models import Invoice
from app.blueprints.orders.order_models import Order, OrderEvent
from app.blueprints.orders.payment_models import PaymentTransaction
from app.core import events
from app.core.errors import Conflict, InvalidInput
from app.core.models import AuditEntry
from app.core.transaction import transaction
from tests.factories.auth import UserFactory
from tests.factories.catalog import LocationFactory, ProductFactory, stock
from tests.factories.orders import tax_rates, zone_with_methods
from tests.orders.checkout_helpers import make_shop, place_order_directly
from tests.orders.test_stripe_gateway import configure_stripe, payment_intent, stripe_error

TEAPOT_ORDER_TOTAL = Decimal("17.05")  # 12.10 + 4.95 shipping


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def staff(db):
    with transaction():  # stored, as a signed-in staff member is: a failed use case keeps them
        return UserFactory()


@pytest.fixture
def order(shop) -> Order:
    """A manual (bank transfer) order of one teapot, pending payment."""
    return place_order_directly([(shop.teapot, 1)])


@pytest.fixture
def heard():
    """The domain events delivered while the test runs, as (name, payload)."""
    received = []
    names = ("order.paid", "order.refunded", "order.cancelled")
    listeners = {
        name: events.subscribe(name)(lambda event: received.append((event.name, event.payload)))
        for name in names
    }
    yield received
    for name, listener in listeners.items():
        events.LISTENERS[name].remove(listener)


def invoices_of(db, order) -> int:
    return db.session.scalar(select(func.count()).select_from(Invoice).where(Invoice.order_id == order.id))


def reserved(db, variant) -> int:
    return db.session.scalar(select(func.sum(StockLevel.reserved)).where(StockLevel.variant_id == variant.id))


def mark_paid(order, staff, **kwargs):
    with transaction():
        return payments.mark_paid(order, actor=staff, **kwargs)


def refund(order, staff, amount, key="refund-1"):
    with transaction():
        payment = payments.payments_of(order)[-1]
        payments.refund_payment(payment, order, Decimal(amount), actor=staff, idempotency_key=key)


def test_marking_paid_moves_the_order_to_paid_issues_one_invoice_and_announces_it(db, order, staff, heard):
    mark_paid(order, staff)

    assert (order.status, order.payment_status) == ("paid", "paid")
    assert order.amount_paid == TEAPOT_ORDER_TOTAL and order.paid_at is not None
    assert payments.payments_of(order)[-1].status == "paid"
    assert invoices_of(db, order) == 1
    assert heard == [("order.paid", {"order_id": order.id})]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "order.marked_paid"))
    assert entry.actor_id == staff.id and entry.target_id == str(order.id)


def test_a_part_payment_keeps_the_order_pending_until_the_rest_is_in(db, order, staff, heard):
    mark_paid(order, staff, amount=Decimal("10.00"))

    assert (order.status, order.payment_status, order.amount_paid) == (
        "pending_payment",
        "pending",
        Decimal("10.00"),
    )
    assert invoices_of(db, order) == 0 and heard == []

    mark_paid(order, staff)  # the rest (7.05) by default

    assert (order.status, order.payment_status, order.amount_paid) == ("paid", "paid", TEAPOT_ORDER_TOTAL)
    assert invoices_of(db, order) == 1 and [name for name, _ in heard] == ["order.paid"]


def test_marking_paid_twice_is_a_conflict(order, staff):
    mark_paid(order, staff)

    with pytest.raises(Conflict) as refused:
        mark_paid(order, staff)

    assert refused.value.code == "invalid_payment_state"
    assert order.amount_paid == TEAPOT_ORDER_TOTAL


@pytest.mark.parametrize("amount", ["0.00", "-1.00", "17.06"])
def test_marking_paid_more_than_is_due_or_nothing_is_refused(order, staff, amount):
    with pytest.raises(InvalidInput) as refused:
        mark_paid(order, staff, amount=Decimal(amount))

    assert "amount" in refused.value.errors
    assert order.amount_paid == Decimal("0.00")


def test_only_manual_payments_are_marked_paid_by_hand(app, db, shop, staff, httpserver):
    saved = configure_stripe(app, httpserver)
    try:
        order = place_order_directly([(shop.teapot, 1)], payment_method="stripe")
        with pytest.raises(Conflict):
            mark_paid(order, staff)
    finally:
        app.config.update(saved)


def test_a_cancelled_order_cannot_be_marked_paid(order, staff):
    with transaction():
        lifecycle.cancel_order(order, actor=staff, reason="Customer changed their mind")

    with pytest.raises(Conflict):
        mark_paid(order, staff)


def test_paying_an_order_on_hold_keeps_it_on_hold_and_release_returns_it_paid(db, order, staff):
    with transaction():
        lifecycle.hold_order(order, actor=staff, reason="Address check")

    mark_paid(order, staff)

    assert (order.status, order.held_from, order.payment_status) == ("on_hold", "paid", "paid")
    assert invoices_of(db, order) == 1
    with transaction():
        lifecycle.release_hold(order, actor=staff)
    assert order.status == "paid"


def test_cancelling_a_paid_order_refunds_it_in_full_and_releases_its_stock(db, shop, order, staff, heard):
    mark_paid(order, staff)
    assert reserved(db, shop.teapot) == 1

    with transaction():
        lifecycle.cancel_order(order, actor=staff, reason="Out of business hours")

    assert order.status == "cancelled"
    assert order.amount_refunded == order.amount_paid == TEAPOT_ORDER_TOTAL
    assert order.payment_status == "refunded"
    assert payments.payments_of(order)[-1].status == "refunded"
    assert reserved(db, shop.teapot) == 0
    assert ("order.refunded", {"order_id": order.id, "amount": "17.05"}) in heard
    assert ("order.cancelled", {"order_id": order.id, "reason": "Out of business hours"}) in heard


def test_cancelling_a_pending_order_voids_its_payment(db, shop, order, staff):
    with transaction():
        lifecycle.cancel_order(order, actor=staff, reason="Never paid")

    assert (order.status, order.payment_status) == ("cancelled", "voided")
    payment = payments.payments_of(order)[-1]
    assert payment.status == "voided"
    assert [t.kind for t in payment.transactions] == ["void"]
    assert order.amount_refunded == Decimal("0.00") and reserved(db, shop.teapot) == 0


def test_cancelling_a_part_paid_order_gives_back_the_part_paid(order, staff):
    mark_paid(order, staff, amount=Decimal("5.00"))

    with transaction():
        lifecycle.cancel_order(order, actor=staff, reason="Customer cancelled")

    assert (order.amount_paid, order.amount_refunded, order.payment_status) == (
        Decimal("5.00"),
        Decimal("5.00"),
        "refunded",
    )


def test_refunds_never_exceed_what_was_captured_minus_what_was_refunded(order, staff):
    mark_paid(order, staff)
    refund(order, staff, "10.00", key="r1")

    with pytest.raises(InvalidInput) as refused:
        refund(order, staff, "7.06", key="r2")

    assert refused.value.errors == {"amount": ["At most 7.05."]}
    refund(order, staff, "7.05", key="r3")
    assert (order.amount_refunded, order.payment_status) == (TEAPOT_ORDER_TOTAL, "refunded")
    with pytest.raises(InvalidInput):
        refund(order, staff, "0.01", key="r4")


def test_nothing_is_refundable_before_money_was_captured(order, staff):
    with pytest.raises(InvalidInput):
        refund(order, staff, "1.00")

    assert order.amount_refunded == Decimal("0.00")


def test_a_refund_is_recorded_audited_and_on_the_timeline(db, order, staff):
    mark_paid(order, staff)

    refund(order, staff, "2.50", key="refund-abc")

    payment = payments.payments_of(order)[-1]
    assert (payment.status, payment.amount_refunded, order.payment_status) == (
        "partially_refunded",
        Decimal("2.50"),
        "partially_refunded",
    )
    recorded = db.session.scalar(select(PaymentTransaction).where(PaymentTransaction.kind == "refund"))
    assert (recorded.amount, recorded.idempotency_key, recorded.actor_label) == (
        Decimal("2.50"),
        "refund-abc",
        staff.email,
    )
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "order.refunded"))
    assert entry.actor_id == staff.id and entry.data["amount"] == "2.50"


def test_an_order_that_costs_nothing_is_paid_when_its_payment_starts(db):
    tax_rates("NL", {"standard": 21})
    zone_with_methods("Netherlands", ["NL"], [{"code": "standard", "flat_rate": Decimal("0.00")}])
    sample = ProductFactory(price=Decimal("0.00"), name="Sample").variants[0]
    stock(sample, LocationFactory(), on_hand=5)
    order = place_order_directly([(sample, 1)])
    assert order.total == Decimal("0.00")

    with transaction():
        result = payments.start_payment(payments.payments_of(order)[-1], order)

    assert result.succeeded
    assert (order.status, order.payment_status) == ("paid", "paid")
    assert invoices_of(db, order) == 1


# ---- card payments whose provider says no (Stripe stubbed at the HTTP boundary) ----------


@pytest.fixture
def stripe_order(app, shop, httpserver):
    """A Stripe order whose intent pi_test_1 was created."""
    saved = configure_stripe(app, httpserver)
    httpserver.expect_request("/v1/payment_intents", method="POST").respond_with_json(payment_intent())
    order = place_order_directly([(shop.teapot, 1)], payment_method="stripe")
    with transaction():
        payments.start_payment(payments.payments_of(order)[-1], order)
    yield order
    app.config.update(saved)


def test_capturing_an_authorized_card_payment_pays_the_order(db, stripe_order, staff, httpserver):
    with transaction():
        payments.payments_of(stripe_order)[-1].status = "authorized"
    httpserver.expect_request("/v1/payment_intents/pi_test_1/capture", method="POST").respond_with_json(
        payment_intent(status="succeeded", amount_received=1705)
    )

    with transaction():
        payments.capture_payment(stripe_order, actor=staff)

    assert (stripe_order.status, stripe_order.payment_status) == ("paid", "paid")
    assert invoices_of(db, stripe_order) == 1


def test_a_cancellation_whose_payment_cannot_be_voided_changes_nothing(
    db, shop, stripe_order, staff, httpserver
):
    # The customer paid at the same moment: Stripe refuses to cancel a succeeded intent.
    httpserver.expect_request("/v1/payment_intents/pi_test_1/cancel", method="POST").respond_with_json(
        stripe_error(
            "invalid_request_error",
            "payment_intent_unexpected_state",
            "You cannot cancel this PaymentIntent because it has a status of succeeded.",
            payment_intent=payment_intent(status="succeeded"),
        ),
        status=400,
    )

    with pytest.raises(Conflict) as refused, transaction():
        lifecycle.cancel_order(stripe_order, actor=staff, reason="Customer asked")

    assert refused.value.code == "payment_failed"
    db.session.refresh(stripe_order)
    assert stripe_order.status == "pending_payment" and reserved(db, shop.teapot) == 1
    attempt = payments.payments_of(stripe_order)[-1].transactions[-1]
    assert (attempt.kind, attempt.succeeded) == ("void", False)


def test_cancelling_a_card_order_whose_payment_failed_cancels_the_intent(db, stripe_order, staff, httpserver):
    # A failed intent can still be paid with another card: cancelling the order must close it.
    with transaction():
        payments.payments_of(stripe_order)[-1].status = "failed"
    httpserver.expect_request("/v1/payment_intents/pi_test_1/cancel", method="POST").respond_with_json(
        payment_intent(status="canceled")
    )

    with transaction():
        lifecycle.cancel_order(stripe_order, actor=staff, reason="Gave up")

    assert payments.payments_of(stripe_order)[-1].status == "voided"
    assert stripe_order.payment_status == "voided"


def test_a_refund_the_provider_refuses_changes_no_amounts(db, stripe_order, staff, httpserver):
    with transaction():
        payment = payments.payments_of(stripe_order)[-1]
        payments.apply_capture(payment, stripe_order, TEAPOT_ORDER_TOTAL)
    httpserver.expect_request("/v1/refunds", method="POST").respond_with_json(
        stripe_error("invalid_request_error", "charge_disputed", "This charge is disputed."), status=400
    )

    with pytest.raises(Conflict) as refused:
        refund(stripe_order, staff, "5.00")

    assert refused.value.code == "payment_failed"
    db.session.refresh(stripe_order)
    assert stripe_order.amount_refunded == Decimal("0.00")
    # The refusal itself is kept: the attempt with the provider's answer, and the timeline.
    attempt = payments.payments_of(stripe_order)[-1].transactions[-1]
    assert (attempt.kind, attempt.succeeded, attempt.amount, attempt.error_code) == (
        "refund",
        False,
        Decimal("5.00"),
        "charge_disputed",
    )
    event = db.session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == stripe_order.id).order_by(OrderEvent.id.desc())
    ).first()
    assert (event.kind, event.data["status"], event.note) == (
        "payment",
        "refund_refused",
        "This charge is disputed.",
    )
