"""Refunds under real concurrency (PostgreSQL): staff members (or retries) refunding the
same order at the same moment never give back more than was captured, never refund the
same units twice, and a key sent several times at once refunds once.

Each refund runs in its own thread, app context and connection, released together at a
barrier. Anything but a refund or a clean refusal fails the test.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.blueprints.auth.models import User
from app.blueprints.fulfilment import refunds
from app.blueprints.fulfilment.models import CreditNote, Refund
from app.blueprints.orders import order_queries, payments
from app.blueprints.orders.order_models import Order
from app.core.errors import Conflict, InvalidInput
from app.core.transaction import transaction
from app.extensions import db
from tests.concurrency import run_at_once
from tests.factories.auth import UserFactory
from tests.orders.checkout_helpers import make_shop, place_order_directly

STAFF = 6


@dataclass
class Attempt:
    refund_id: int | None = None
    refused: Exception | None = None
    error: BaseException | None = None


@pytest.fixture
def paid(concurrent):
    """A paid bank-transfer order of two teapots and a cup (32.65), committed."""
    shop = make_shop()
    staff = UserFactory(roles=["admin"])
    concurrent.session.commit()
    order = place_order_directly([(shop.teapot, 2), (shop.cup, 1)])
    with transaction():
        payments.mark_paid(order_queries.order_by_number(order.number, for_update=True), actor=staff)
    number, staff_id = order.number, staff.id
    concurrent.session.remove()
    return number, staff_id


def race(app, number: str, staff_id: int, requests: list[dict]) -> list[Attempt]:
    """Each request (keyword arguments of refund_order) in its own thread, all at once."""

    def refund(request: dict) -> Attempt:
        with transaction():
            order = order_queries.order_by_number(number, for_update=True)
            actor = db.session.get(User, staff_id)
            return Attempt(refund_id=refunds.refund_order(order, reason="Race", actor=actor, **request).id)

    results = run_at_once(app, [lambda request=request: refund(request) for request in requests])
    attempts = [
        result
        if isinstance(result, Attempt)
        else Attempt(refused=result)
        if isinstance(result, Conflict | InvalidInput)
        else Attempt(error=result)
        for result in results
    ]
    assert [attempt.error for attempt in attempts if attempt.error] == []
    return attempts


def stored_order(number: str) -> Order:
    db.session.remove()
    return db.session.scalar(select(Order).where(Order.number == number))


def test_staff_refunding_everything_at_once_refund_it_exactly_once(app, paid):
    number, staff_id = paid
    requests = [
        {"amount": Decimal("32.65"), "method": "manual", "idempotency_key": f"staff-{n}"}
        for n in range(STAFF)
    ]

    attempts = race(app, number, staff_id, requests)

    made = [attempt for attempt in attempts if attempt.refund_id]
    assert len(made) == 1
    assert {attempt.refused.code for attempt in attempts if attempt.refused} == {"nothing_to_refund"}
    order = stored_order(number)
    assert order.amount_refunded == order.amount_paid == Decimal("32.65")
    payment = payments.payments_of(order)[-1]
    assert payment.amount_refunded == payment.amount_captured
    assert db.session.scalars(select(Refund.amount)).all() == [Decimal("32.65")]
    assert db.session.scalars(select(CreditNote.sequence)).all() == [1]


def test_staff_refunding_the_same_units_at_once_refund_them_once(app, paid):
    number, staff_id = paid
    teapots = next(line for line in stored_order(number).lines if line.unit_price == Decimal("12.10"))
    requests = [
        {"lines": {teapots.id: 2}, "method": "manual", "idempotency_key": f"units-{n}"} for n in range(STAFF)
    ]

    attempts = race(app, number, staff_id, requests)

    assert len([attempt for attempt in attempts if attempt.refund_id]) == 1
    assert {attempt.refused.code for attempt in attempts if attempt.refused} == {"invalid_input"}
    order = stored_order(number)
    assert order.amount_refunded == Decimal("24.20") <= order.amount_paid
    assert refunds.refundable(order).line(teapots.id).refundable_units == 0


def test_partial_refunds_racing_never_exceed_what_was_captured(app, paid):
    """Six refunds of 10.00 against 32.65: three fit, the others are refused, whatever the
    order they get the lock in."""
    number, staff_id = paid
    requests = [
        {"amount": Decimal("10.00"), "method": "manual", "idempotency_key": f"part-{n}"} for n in range(STAFF)
    ]

    attempts = race(app, number, staff_id, requests)

    assert len([attempt for attempt in attempts if attempt.refund_id]) == 3
    assert all(
        attempt.refused.errors == {"amount": ["At most 2.65."]} for attempt in attempts if attempt.refused
    )
    order = stored_order(number)
    assert order.amount_refunded == Decimal("30.00") <= order.amount_paid
    # Credit notes numbered 1..3, no gap, no duplicate.
    assert sorted(db.session.scalars(select(CreditNote.sequence))) == [1, 2, 3]


def test_one_key_sent_several_times_at_once_refunds_once(app, paid):
    number, staff_id = paid
    requests = [{"amount": Decimal("5.00"), "method": "manual", "idempotency_key": "retry-storm"}] * STAFF

    attempts = race(app, number, staff_id, requests)

    assert {attempt.refund_id for attempt in attempts} != {None}
    assert len({attempt.refund_id for attempt in attempts}) == 1
    assert stored_order(number).amount_refunded == Decimal("5.00")
