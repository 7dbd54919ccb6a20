"""Every refund has its record and credit note, also when the money went back outside the
refund dialog: cancelling a paid order, or a refund announced by the payment provider."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from app.blueprints.fulfilment import external_refunds
from app.blueprints.fulfilment.models import CreditNote, Refund
from app.blueprints.orders import lifecycle, order_queries, payments
from app.core.transaction import transaction
from app.extensions import db
from tests.fulfilment.test_refunds import TEAPOTS_AND_CUP, paid_order, refund, shop, staff  # noqa: F401


def records_of(order) -> list[Refund]:
    return list(db.session.scalars(select(Refund).where(Refund.order_id == order.id).order_by(Refund.id)))


def test_cancelling_a_paid_order_records_its_refund_with_a_credit_note(shop, staff):  # noqa: F811
    order = paid_order(shop, staff)

    with transaction():
        locked = order_queries.order_by_number(order.number, for_update=True)
        lifecycle.cancel_order(locked, actor=staff, reason="Customer changed their mind")

    (record,) = records_of(order)
    assert record.amount == TEAPOTS_AND_CUP
    assert record.reason == external_refunds.CANCELLED_REASON
    assert record.method == "manual"  # a bank transfer goes back by hand
    note = db.session.scalar(select(CreditNote).where(CreditNote.refund_id == record.id))
    assert note is not None and note.amount == TEAPOTS_AND_CUP


def test_a_refund_through_the_dialog_is_not_recorded_twice(shop, staff):  # noqa: F811
    order = paid_order(shop, staff)

    refund(order, staff, amount=Decimal("5.00"))

    assert [r.amount for r in records_of(order)] == [Decimal("5.00")]


def test_a_refund_made_at_the_provider_is_recorded_once_however_often_it_is_announced(shop, staff):  # noqa: F811
    order = paid_order(shop, staff)
    with transaction():
        locked = order_queries.order_by_number(order.number, for_update=True)
        payment = payments.payments_of(locked)[0]
        payments.apply_refund(payment, locked, Decimal("7.50"), actor=None, reference="re_dashboard")

    external_refunds.record_refund_made_elsewhere_job(order.id)  # announced a second time

    (record,) = records_of(order)
    assert record.amount == Decimal("7.50")
    assert record.reason == external_refunds.ELSEWHERE_REASON
