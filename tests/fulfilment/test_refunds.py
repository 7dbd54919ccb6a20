"""The refunds service: what is refundable (exact Decimal arithmetic per line, the last
unit's remainder, shipping in tax-inclusive and tax-exclusive stores), the rules of a
refund (never above what is refundable, units and shipping once), idempotency keys,
manual and gateway refunds (Stripe against a local server), refusals kept, and what a
refund leaves behind: credit note, timeline, one audit entry, the return marked refunded,
`refund.created`."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.blueprints.fulfilment import refunds
from app.blueprints.fulfilment.models import CreditNote, Refund, ReturnLine, ReturnRequest
from app.blueprints.orders import order_queries, payments
from app.blueprints.orders.order_models import Order, OrderEvent
from app.blueprints.orders.payment_models import PaymentTransaction
from app.core import events
from app.core.errors import Conflict, InvalidInput
from app.core.models import AuditEntry
from app.core.transaction import transaction
from app.extensions import db
from tests.factories.auth import UserFactory
from tests.orders.checkout_helpers import make_shop, place_order_directly
from tests.orders.test_stripe_gateway import (
    configure_stripe,
    form_of,
    payment_intent,
    sent_requests,
    stripe_error,
)

D = Decimal
# make_shop: NL, VAT 21 %, prices include tax; teapot 12.10, cup 3.50, standard shipping 4.95.
TEAPOTS_AND_CUP = D("32.65")  # 2 x 12.10 + 3.50 + 4.95


# ---- helpers shared by the refund and credit note tests ------------------------------------


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def staff(db):
    with transaction():  # stored, as a signed-in staff member is: a failed use case keeps them
        return UserFactory(roles=["admin"])


def pay(order: Order, staff) -> Order:
    with transaction():
        order = order_queries.order_by_number(order.number, for_update=True)
        payments.mark_paid(order, actor=staff)
    return order


def paid_order(shop, staff, lines=None, **kwargs) -> Order:
    """A manual (bank transfer) order, paid: 2 teapots and a cup by default (32.65)."""
    lines = lines or [(shop.teapot, 2), (shop.cup, 1)]
    return pay(place_order_directly(lines, **kwargs), staff)


def line_of(order: Order, variant):
    return next(line for line in order.lines if line.variant_id == variant.id)


def refund(order: Order, staff, *, key="refund-1", reason="Arrived damaged", method="manual", **kwargs):
    with transaction():
        locked = order_queries.order_by_number(order.number, for_update=True)
        return refunds.refund_order(
            locked, reason=reason, method=method, actor=staff, idempotency_key=key, **kwargs
        )


def refusal(order: Order, staff, error=InvalidInput, **kwargs):
    with pytest.raises(error) as refused:
        refund(order, staff, **kwargs)
    return refused.value


def refund_count(order: Order) -> int:
    return db.session.scalar(select(func.count()).select_from(Refund).where(Refund.order_id == order.id))


@pytest.fixture
def heard():
    """The `refund.created` events delivered while the test runs."""
    received = []

    def listener(event):
        received.append(event.payload)

    events.subscribe("refund.created")(listener)
    yield received
    events.LISTENERS["refund.created"].remove(listener)


# ---- the arithmetic ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line_total", "quantity", "units", "expected"),
    [
        (D("10.00"), 3, 1, D("3.33")),
        (D("10.00"), 3, 2, D("6.66")),
        (D("10.00"), 3, 3, D("10.00")),  # the last unit takes the remainder: 3.34
        (D("20.00"), 3, 1, D("6.66")),  # rounded down, never more than the exact share
        (D("20.00"), 3, 3, D("20.00")),
        (D("24.20"), 2, 1, D("12.10")),
        (D("0.05"), 2, 1, D("0.02")),
        (D("0.05"), 2, 2, D("0.05")),
    ],
)
def test_units_cost_their_share_rounded_down_and_the_last_unit_takes_the_remainder(
    line_total, quantity, units, expected
):
    assert refunds.paid_for_units(line_total, quantity, units) == expected


def test_what_is_refundable_of_a_paid_tax_inclusive_order(shop, staff):
    order = paid_order(shop, staff)
    summary = refunds.refundable(order)

    assert (summary.captured, summary.refunded, summary.refundable) == (
        TEAPOTS_AND_CUP,
        D("0.00"),
        TEAPOTS_AND_CUP,
    )
    assert summary.currency == "EUR"
    teapots = summary.line(line_of(order, shop.teapot).id)
    assert (teapots.quantity, teapots.refunded_units, teapots.refundable_units) == (2, 0, 2)
    assert (teapots.unit_amount, teapots.refundable_amount) == (D("12.10"), D("24.20"))
    # Prices include tax: the shipping total is what was paid.
    assert (summary.shipping_paid, summary.shipping_refunded, summary.shipping_refundable) == (
        D("4.95"),
        D("0.00"),
        D("4.95"),
    )
    assert summary.methods == ("manual",)  # a bank transfer is paid back by hand
    assert sum(line.refundable_amount for line in summary.lines) + summary.shipping_refundable == order.total


@pytest.fixture
def tax_exclusive(app):
    app.config["PRICES_INCLUDE_TAX"] = False
    yield
    app.config["PRICES_INCLUDE_TAX"] = True


def test_a_line_whose_total_does_not_divide_gives_the_remainder_to_its_last_unit(shop, staff, tax_exclusive):
    # Tax-exclusive, tax rounded per line: 3 cups at 3.50 net + 21 % = 12.71, not a multiple of 3.
    order = paid_order(shop, staff, [(shop.cup, 3)])
    line_id = line_of(order, shop.cup).id

    amounts = [refund(order, staff, key=f"unit-{n}", lines={line_id: 1}).amount for n in range(3)]

    assert amounts == [D("4.23"), D("4.23"), D("4.25")]
    assert sum(amounts) == line_of(order, shop.cup).line_total == D("12.71")
    assert refunds.refundable(order).line(line_id).refundable_units == 0


def test_in_a_tax_exclusive_store_a_unit_costs_its_taxed_share_and_shipping_carries_its_tax(
    shop, staff, tax_exclusive
):
    order = paid_order(shop, staff, [(shop.cup, 3)])
    cups = line_of(order, shop.cup)
    # 3 x 3.50 = 10.50 net, tax 2.205 -> 2.21: 12.71 paid for the line.
    assert (cups.line_total, order.shipping_total, order.shipping_tax) == (D("12.71"), D("4.95"), D("1.04"))
    summary = refunds.refundable(order)

    line = summary.line(cups.id)
    assert (line.unit_amount, line.amount_for(2), line.amount_for(3)) == (D("4.23"), D("8.46"), D("12.71"))
    assert summary.shipping_paid == D("5.99")  # 4.95 net + 1.04 tax
    assert summary.refundable == order.total == D("18.70")
    assert line.refundable_amount + summary.shipping_refundable == summary.refundable

    made = refund(order, staff, lines={cups.id: 3}, include_shipping=True)
    assert (made.amount, made.shipping_amount) == (D("18.70"), D("5.99"))
    assert order.payment_status == "refunded"


def test_an_unpaid_order_has_nothing_to_refund(shop, staff):
    order = place_order_directly([(shop.cup, 1)])
    summary = refunds.refundable(order)
    assert (summary.captured, summary.refundable, summary.methods) == (D("0.00"), D("0.00"), ("manual",))
    refused = refusal(order, staff, Conflict, amount=D("1.00"))
    assert refused.code == "nothing_to_refund"


# ---- the rules of a refund ---------------------------------------------------------------------


def test_refunding_lines_gives_back_their_units_and_records_them(shop, staff):
    order = paid_order(shop, staff)
    teapots = line_of(order, shop.teapot)

    made = refund(order, staff, lines={teapots.id: 1})

    assert (made.amount, made.shipping_amount, made.method, made.currency) == (
        D("12.10"),
        D("0.00"),
        "manual",
        "EUR",
    )
    assert made.lines == [{"order_line_id": teapots.id, "quantity": 1, "amount": "12.10"}]
    assert (order.amount_refunded, order.payment_status) == (D("12.10"), "partially_refunded")
    summary = refunds.refundable(order)
    assert summary.refundable == D("20.55")
    assert (summary.line(teapots.id).refunded_units, summary.line(teapots.id).refundable_units) == (1, 1)


def test_refunding_everything_with_the_shipping_refunds_the_order_in_full(shop, staff):
    order = paid_order(shop, staff)
    lines = {line.id: line.quantity for line in order.lines}

    made = refund(order, staff, lines=lines, include_shipping=True)

    assert (made.amount, made.shipping_amount) == (TEAPOTS_AND_CUP, D("4.95"))
    assert (order.amount_refunded, order.payment_status) == (TEAPOTS_AND_CUP, "refunded")
    assert payments.payments_of(order)[-1].status == "refunded"
    assert refunds.refundable(order).refundable == D("0.00")


def test_a_free_amount_and_the_shipping_alone_are_refunds_too(shop, staff):
    order = paid_order(shop, staff)

    goodwill = refund(order, staff, key="k1", amount=D("5.00"))
    shipping = refund(order, staff, key="k2", include_shipping=True)

    assert (goodwill.amount, goodwill.lines, goodwill.shipping_amount) == (D("5.00"), [], D("0.00"))
    assert (shipping.amount, shipping.shipping_amount) == (D("4.95"), D("4.95"))
    assert refunds.refundable(order).refundable == D("22.70")


def test_a_refund_cannot_exceed_what_was_captured_minus_what_was_refunded(shop, staff):
    order = paid_order(shop, staff)
    refund(order, staff, key="k1", amount=D("20.25"))

    refused = refusal(order, staff, key="k2", amount=D("12.41"))
    assert refused.errors == {"amount": ["At most 12.40."]}
    # Lines whose units are left still cannot take more money than is left.
    refused = refusal(order, staff, key="k3", lines={line_of(order, shop.teapot).id: 2})
    assert refused.errors["lines"] == ["These come to 24.20: at most 12.40 is left to refund."]
    # With the shipping, an amount has less room.
    refused = refusal(order, staff, key="k4", amount=D("7.46"), include_shipping=True)
    assert refused.errors == {"amount": ["At most 7.45."]}

    refund(order, staff, key="k5", amount=D("12.40"))
    assert (order.amount_refunded, order.payment_status) == (TEAPOTS_AND_CUP, "refunded")
    assert refusal(order, staff, Conflict, key="k6", amount=D("0.01")).code == "nothing_to_refund"


@pytest.mark.parametrize("amount", [D("0"), D("0.00"), D("-5.00")])
def test_a_refund_of_nothing_or_less_is_refused(shop, staff, amount):
    order = paid_order(shop, staff)
    assert refusal(order, staff, amount=amount).errors == {"amount": ["At least 0.01."]}
    assert refund_count(order) == 0


def test_units_above_what_is_left_of_a_line_are_refused(shop, staff):
    order = paid_order(shop, staff)
    teapots = line_of(order, shop.teapot)
    sku = teapots.sku

    assert refusal(order, staff, lines={teapots.id: 3}).errors == {
        "lines": [f"{sku}: at most 2 left to refund."]
    }
    refund(order, staff, key="k1", lines={teapots.id: 2})
    assert refusal(order, staff, key="k2", lines={teapots.id: 1}).errors == {
        "lines": [f"{sku}: every unit was refunded already."]
    }
    assert refusal(order, staff, key="k3", lines={teapots.id: 0}).errors == {
        "lines": [f"{sku}: give a whole number of units, 1 or more."]
    }


def test_a_line_of_another_order_is_refused(shop, staff):
    order = paid_order(shop, staff)
    other = paid_order(shop, staff, [(shop.cup, 1)])
    stranger = other.lines[0].id
    assert refusal(order, staff, lines={stranger: 1}).errors == {
        "lines": [f"Line {stranger} is not on this order."]
    }


def test_lines_and_an_amount_together_or_neither_are_refused(shop, staff):
    order = paid_order(shop, staff)
    both = refusal(order, staff, lines={line_of(order, shop.cup).id: 1}, amount=D("1.00"))
    assert set(both.errors) == {"lines", "amount"}
    neither = refusal(order, staff)
    assert neither.errors == {"lines": ["Choose the items, an amount or the shipping to refund."]}


def test_the_shipping_is_refunded_once(shop, staff):
    order = paid_order(shop, staff)
    refund(order, staff, key="k1", include_shipping=True)
    refused = refusal(order, staff, key="k2", amount=D("1.00"), include_shipping=True)
    assert refused.errors == {"include_shipping": ["The shipping was refunded already."]}
    assert refunds.refundable(order).shipping_refunded == D("4.95")


def test_a_reason_a_known_method_and_a_key_are_required(shop, staff):
    order = paid_order(shop, staff)
    assert refusal(order, staff, amount=D("1.00"), reason="  ").errors == {"reason": ["Required."]}
    assert refusal(order, staff, amount=D("1.00"), method="cash").errors == {"method": ["gateway or manual."]}
    assert set(refusal(order, staff, amount=D("1.00"), key="").errors) == {"idempotency_key"}
    assert refund_count(order) == 0


def test_a_bank_transfer_order_cannot_be_refunded_through_the_gateway(shop, staff):
    order = paid_order(shop, staff)
    refused = refusal(order, staff, amount=D("1.00"), method="gateway")
    assert list(refused.errors) == ["method"]
    assert order.amount_refunded == D("0.00")


# ---- idempotency ---------------------------------------------------------------------------------


def test_the_same_key_refunds_once_and_answers_the_first_refund(shop, staff):
    order = paid_order(shop, staff)
    first = refund(order, staff, key="double-click", amount=D("5.00"))
    again = refund(order, staff, key="double-click", amount=D("5.00"))
    # Even with another body: the key names the refund it made.
    other = refund(order, staff, key="double-click", amount=D("7.00"))

    assert first.id == again.id == other.id
    assert refund_count(order) == 1
    assert order.amount_refunded == D("5.00")
    assert db.session.scalar(select(func.count()).select_from(CreditNote)) == 1


def test_the_same_key_on_another_order_is_another_refund(shop, staff):
    one, two = paid_order(shop, staff), paid_order(shop, staff)
    assert (
        refund(one, staff, key="same", amount=D("1.00")).id
        != refund(two, staff, key="same", amount=D("1.00")).id
    )


# ---- what a refund leaves behind -----------------------------------------------------------------


def test_a_refund_issues_a_credit_note_and_is_on_the_timeline_and_audited_once(shop, staff, heard):
    order = paid_order(shop, staff)
    teapots = line_of(order, shop.teapot)

    made = refund(order, staff, lines={teapots.id: 1}, include_shipping=True, reason="Lid broken")

    note = db.session.scalar(select(CreditNote).where(CreditNote.refund_id == made.id))
    assert (note.amount, note.currency, note.order_id) == (D("17.05"), "EUR", order.id)
    assert note.number == f"CN-{note.issued_at.year}-{note.sequence:06d}"
    assert made.created_by_id == staff.id and made.reason == "Lid broken"

    entry = db.session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order.id, OrderEvent.kind == "refund")
    ).one()
    assert entry.data["refund_id"] == made.id
    assert (entry.data["amount"], entry.data["method"], entry.data["credit_note"]) == (
        "17.05",
        "manual",
        note.number,
    )
    assert entry.data["lines"] == [{"order_line_id": teapots.id, "quantity": 1, "amount": "12.10"}]
    assert note.number in entry.note and "Lid broken" in entry.note
    assert entry.actor_id == staff.id

    audits = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "order.refunded")).all()
    assert len(audits) == 1
    assert (audits[0].data["refund_id"], audits[0].data["credit_note"], audits[0].data["method"]) == (
        made.id,
        note.number,
        "manual",
    )
    assert heard == [{"order_id": order.id, "refund_id": made.id, "credit_note_id": note.id}]


def test_a_manual_refund_is_a_refund_transaction_of_the_payment_without_the_provider(shop, staff):
    order = paid_order(shop, staff)
    made = refund(order, staff, key="by-hand", amount=D("3.00"))

    payment = payments.payments_of(order)[-1]
    recorded = db.session.scalars(
        select(PaymentTransaction).where(
            PaymentTransaction.payment_id == payment.id, PaymentTransaction.kind == "refund"
        )
    ).one()
    assert (recorded.succeeded, recorded.amount, recorded.idempotency_key) == (True, D("3.00"), "by-hand")
    assert recorded.raw_response == {"paid_back_by_hand": True}
    assert (payment.amount_refunded, payment.status) == (D("3.00"), "partially_refunded")
    assert made.payment_id == payment.id


def test_a_failed_refund_leaves_nothing_behind(shop, staff, heard):
    order = paid_order(shop, staff)
    refusal(order, staff, amount=D("99.00"))

    assert refund_count(order) == 0
    assert db.session.scalar(select(func.count()).select_from(CreditNote)) == 0
    assert order.amount_refunded == D("0.00") and heard == []


# ---- returns ---------------------------------------------------------------------------------------


def received_return(order: Order, line, quantity: int, *, status="received") -> ReturnRequest:
    """A return as the returns service leaves it once the goods came back."""
    with transaction():
        ret = ReturnRequest(
            number=f"R{order.number}-1", order_id=order.id, status=status, reason="damaged", customer_note=""
        )
        ret.lines.append(ReturnLine(order_line_id=line.id, quantity=quantity))
        db.session.add(ret)
    return ret


def test_a_refund_for_a_received_return_marks_it_refunded(shop, staff):
    pytest.importorskip("app.blueprints.fulfilment.returns")
    order = paid_order(shop, staff)
    teapots = line_of(order, shop.teapot)
    ret = received_return(order, teapots, 1)

    made = refund(order, staff, lines={teapots.id: 1}, return_request=ret)

    db.session.refresh(ret)
    assert ret.status == "refunded" and made.return_id == ret.id


def test_a_return_that_cannot_be_refunded_stops_the_refund_before_money_moves(shop, staff):
    pytest.importorskip("app.blueprints.fulfilment.returns")
    order = paid_order(shop, staff)
    teapots = line_of(order, shop.teapot)
    ret = received_return(order, teapots, 1, status="requested")

    refused = refusal(order, staff, Conflict, lines={teapots.id: 1}, return_request=ret)

    assert refused.code == "invalid_transition"
    assert refund_count(order) == 0 and order.amount_refunded == D("0.00")


def test_a_return_of_another_order_is_refused(shop, staff):
    order = paid_order(shop, staff)
    other = paid_order(shop, staff, [(shop.cup, 1)])
    ret = received_return(other, other.lines[0], 1)
    refused = refusal(order, staff, amount=D("1.00"), return_request=ret)
    assert list(refused.errors) == ["return_number"]


# ---- through Stripe (stubbed at the HTTP boundary) -------------------------------------------------


@pytest.fixture
def stripe_order(app, shop, staff, httpserver):
    """A Stripe order of one teapot (17.05) whose intent pi_test_1 was paid."""
    saved = configure_stripe(app, httpserver)
    httpserver.expect_request("/v1/payment_intents", method="POST").respond_with_json(payment_intent())
    order = place_order_directly([(shop.teapot, 1)], payment_method="stripe")
    with transaction():
        payments.start_payment(payments.payments_of(order)[-1], order)
    with transaction():
        payments.apply_capture(payments.payments_of(order)[-1], order, D("17.05"))
    yield order
    app.config.update(saved)


def stripe_refund(amount_cents: int, **fields) -> dict:
    body = {
        "id": "re_test_1",
        "object": "refund",
        "amount": amount_cents,
        "currency": "eur",
        "payment_intent": "pi_test_1",
        "status": "succeeded",
    }
    body.update(fields)
    return body


def test_a_card_order_is_refunded_through_stripe_once_per_key(shop, staff, stripe_order, httpserver):
    httpserver.expect_request("/v1/refunds", method="POST").respond_with_json(stripe_refund(705))
    summary = refunds.refundable(stripe_order)
    assert summary.methods == ("gateway", "manual")

    made = refund(stripe_order, staff, key="card-1", method="gateway", amount=D("7.05"))
    again = refund(stripe_order, staff, key="card-1", method="gateway", amount=D("7.05"))

    assert again.id == made.id
    calls = sent_requests(httpserver, "/v1/refunds")
    assert len(calls) == 1  # the second call with the key did not reach the provider
    sent = form_of(calls[0])
    assert (sent["payment_intent"], sent["amount"]) == ("pi_test_1", "705")
    payment = payments.payments_of(stripe_order)[-1]
    assert calls[0].headers["Idempotency-Key"] == refunds.gateway_key(stripe_order, payment, "card-1")
    assert (made.method, made.gateway_reference, made.payment_id) == ("gateway", "re_test_1", payment.id)
    assert (stripe_order.amount_refunded, stripe_order.payment_status) == (D("7.05"), "partially_refunded")
    # One audit entry for the refund, not one more from the payments service.
    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "order.refunded")
        )
        == 1
    )


def test_a_refund_the_provider_refuses_is_kept_and_refunds_nothing(
    shop, staff, stripe_order, httpserver, heard
):
    httpserver.expect_request("/v1/refunds", method="POST").respond_with_json(
        stripe_error("invalid_request_error", "charge_disputed", "This charge is disputed."), status=400
    )

    refused = refusal(stripe_order, staff, Conflict, method="gateway", amount=D("5.00"))

    assert refused.code == "payment_failed"
    db.session.expire_all()
    order = db.session.get(Order, stripe_order.id)
    assert order.amount_refunded == D("0.00") and refund_count(order) == 0
    assert db.session.scalar(select(func.count()).select_from(CreditNote)) == 0
    attempt = payments.payments_of(order)[-1].transactions[-1]
    assert (attempt.kind, attempt.succeeded, attempt.amount, attempt.error_code) == (
        "refund",
        False,
        D("5.00"),
        "charge_disputed",
    )
    assert heard == []


def test_a_card_order_may_be_refunded_by_hand_without_calling_stripe(shop, staff, stripe_order, httpserver):
    made = refund(stripe_order, staff, method="manual", amount=D("2.00"))
    assert made.method == "manual" and sent_requests(httpserver, "/v1/refunds") == []
    assert stripe_order.amount_refunded == D("2.00")
