"""Refunds made outside the refund dialog still get a refund record and a credit note.

Two kinds of refund happen elsewhere: cancelling a paid order (the orders domain refunds
it whole) and a refund staff make in the payment provider's dashboard (its webhook
records it on the payment). The payments service announces every refund with
`order.refunded`; after the commit this listener queues a job that compares the money
refunded on the order's payments with the order's refund records and records the
difference as one refund with its credit note. A refund made through the dialog or the
API has its record already, so it leaves no difference and adds nothing.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from app.blueprints.fulfilment import credit_notes
from app.blueprints.fulfilment.models import Refund
from app.blueprints.orders import gateways, lifecycle, payments
from app.blueprints.orders.order_models import Order
from app.core.errors import InvalidInput
from app.core.events import Event, emit, subscribe
from app.core.jobs import enqueue
from app.core.transaction import transaction
from app.extensions import db

CANCELLED_REASON = "Refunded when the order was cancelled"
ELSEWHERE_REASON = "Refunded at the payment provider"


def unrecorded_refund(order: Order) -> Decimal:
    """Money refunded on the order's payments that no refund record accounts for."""
    recorded = db.session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(Refund.order_id == order.id)
    )
    return order.amount_refunded - Decimal(recorded)


def _refunded_payment(order: Order):
    refunded = [payment for payment in payments.payments_of(order) if payment.amount_refunded > 0]
    return refunded[-1] if refunded else None


def _method_of(payment) -> str:
    try:
        online = gateways.get_gateway(payment.gateway).collects_online
    except InvalidInput:  # a gateway no longer offered
        online = False
    return "gateway" if online else "manual"


def record_refund_made_elsewhere(order: Order) -> Refund | None:
    """The refund record and credit note of money refunded without one (the order locked
    by the caller); None when every refund is recorded."""
    missing = unrecorded_refund(order)
    payment = _refunded_payment(order)
    if missing <= 0 or payment is None:
        return None
    refund = Refund(
        order_id=order.id,
        payment_id=payment.id,
        method=_method_of(payment),
        amount=missing,
        shipping_amount=Decimal("0.00"),
        currency=order.currency,
        reason=CANCELLED_REASON if order.status == "cancelled" else ELSEWHERE_REASON,
        lines=[],
        # One record per refunded total: a second run for the same refunds finds it.
        idempotency_key=f"recorded:{order.amount_refunded}",
    )
    db.session.add(refund)
    db.session.flush()
    note = credit_notes.issue_credit_note(refund, order)
    lifecycle.record_event(
        order,
        "refund",
        note=f"{refund.amount} {refund.currency} · credit note {note.number} · {refund.reason}",
        refund_id=refund.id,
        amount=str(refund.amount),
        method=refund.method,
        credit_note=note.number,
    )
    emit("refund.created", order_id=order.id, refund_id=refund.id, credit_note_id=note.id)
    return refund


def record_refund_made_elsewhere_job(order_id: int) -> None:
    """Job: record what was refunded without a record (idempotent: the order is locked and
    the difference is recomputed)."""
    with transaction():
        order = db.session.get(Order, order_id, with_for_update=True, populate_existing=True)
        if order is not None:
            record_refund_made_elsewhere(order)


@subscribe("order.refunded")
def record_refunds_made_elsewhere(event: Event) -> None:
    enqueue(record_refund_made_elsewhere_job, event.payload["order_id"])
