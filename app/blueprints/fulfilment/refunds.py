"""Refunds: money given back on an order, in full or in part, per line or as an amount,
with or without the shipping, through the payment's gateway or recorded as paid back by
hand, each with its credit note.

Rules (`refund_order`):
- Never more than was captured minus what was refunded. The order's money is locked first
  (`payments.lock_order_money`) and every check reads the figures as committed, so two
  staff members (or a retry racing its original) cannot both refund the last euro; the
  CHECK constraints on payments and orders are the backstop.
- Per line: never more units than the line has minus the units refunded already. The
  shipping is refunded at most once (all of what is left of it).
- One refund per idempotency key and order: the same key answers the refund it made
  (the gateway is not called again), so a double submit or a retried request refunds once.
- A refusal by the gateway fails the use case (Conflict `payment_failed`) and is kept on
  record (the payment transaction and a timeline entry) by the payments service.
- Every refund gets a credit note (numbered without gaps per year), a `refund` entry on the
  order's timeline, one audit entry `order.refunded`, and `refund.created` after commit
  (the credit note PDF and the customer's mail follow from it).

What can be refunded and the arithmetic of a refund's plan are in `refundable.py`.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

from sqlalchemy import select

from app.blueprints.fulfilment import credit_notes
from app.blueprints.fulfilment.models import REFUND_METHODS, Refund, ReturnRequest
from app.blueprints.fulfilment.refundable import paid_for_units, plan_refund, refundable  # noqa: F401
from app.blueprints.orders import lifecycle, payments
from app.blueprints.orders.order_models import Order
from app.blueprints.orders.payment_models import Payment
from app.core import audit
from app.core.errors import Conflict, InvalidInput
from app.core.events import emit
from app.extensions import db

MAX_REASON = 500
MAX_KEY = 255
METHOD_WORDS = {"gateway": "through the payment provider", "manual": "paid back by hand"}


# ---- refunding -----------------------------------------------------------------------------------


def return_of_order(order: Order, number: str | None) -> ReturnRequest | None:
    """The order's return of that number, for a refund that settles it (None for no
    number); a number of no return of this order is a field error."""
    if not number:
        return None
    found = db.session.scalar(
        select(ReturnRequest).where(ReturnRequest.number == number, ReturnRequest.order_id == order.id)
    )
    if found is None:
        message = f"Order {order.number} has no return {number}."
        raise InvalidInput(message, errors={"return_number": [message]})
    return found


def refund_by_key(order: Order, idempotency_key: str) -> Refund | None:
    return db.session.scalar(
        select(Refund).where(Refund.order_id == order.id, Refund.idempotency_key == idempotency_key)
    )


def refund_order(
    order: Order,
    *,
    lines: dict[int, int] | None = None,
    amount: Decimal | None = None,
    include_shipping: bool = False,
    reason: str,
    method: str,
    actor,
    idempotency_key: str,
    return_request: ReturnRequest | None = None,
) -> Refund:
    """Refund `lines` ({order line id: units}) or a free `amount`, plus the shipping when
    `include_shipping`, `method` "gateway" (through the payment's provider) or "manual"
    (paid back by hand), never more than is refundable (see the module doc). The same
    `idempotency_key` on the same order answers the refund made with it."""
    key = _checked_key(idempotency_key)
    payments.lock_order_money(order)
    existing = refund_by_key(order, key)
    if existing is not None:
        return existing
    reason = _checked_reason(reason)
    _check_method(method)
    summary = refundable(order)
    plan = plan_refund(summary, lines=lines, amount=amount, include_shipping=include_shipping)
    if method == "gateway" and not summary.refundable_online:
        message = "This order's payment cannot be refunded online: record a manual refund."
        raise InvalidInput(message, errors={"method": [message]})
    if return_request is not None and return_request.order_id != order.id:
        message = "That return belongs to another order."
        raise InvalidInput(message, errors={"return_number": [message]})

    refund = Refund(
        order_id=order.id,
        return_id=return_request.id if return_request is not None else None,
        method=method,
        amount=plan.total,
        shipping_amount=plan.shipping_amount,
        currency=order.currency,
        reason=reason,
        lines=plan.lines,
        idempotency_key=key,
        created_by_id=actor.id if audit.is_staff(actor) else None,
    )
    db.session.add(refund)
    db.session.flush()
    if return_request is not None:
        # Before any money moves: a return that cannot be refunded stops the refund whole.
        from app.blueprints.fulfilment import returns  # returns may read refunds: a cycle

        returns.mark_refunded(return_request, actor=actor, refund_id=refund.id)
    given = _give_money_back(order, refund, actor=actor)
    refund.payment_id = given[0][0].id
    refund.gateway_reference = ", ".join(reference for _, _, reference in given if reference)[:255]
    credit_note = credit_notes.issue_credit_note(refund, order)
    _record(order, refund, credit_note, given, actor=actor, return_request=return_request)
    emit("refund.created", order_id=order.id, refund_id=refund.id, credit_note_id=credit_note.id)
    return refund


def _checked_key(idempotency_key: str) -> str:
    key = (idempotency_key or "").strip()
    if not key or len(key) > MAX_KEY:
        raise InvalidInput(
            "An idempotency key of 1 to 255 characters is required.",
            errors={"idempotency_key": ["1 to 255 characters."]},
        )
    return key


def _checked_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the money is refunded.", errors={"reason": ["Required."]})
    if len(reason) > MAX_REASON:
        raise InvalidInput(
            "The reason is too long.", errors={"reason": [f"At most {MAX_REASON} characters."]}
        )
    return reason


def _check_method(method: str) -> None:
    if method not in REFUND_METHODS:
        raise InvalidInput("Unknown refund method.", errors={"method": ["gateway or manual."]})


def gateway_key(order: Order, payment: Payment, idempotency_key: str) -> str:
    """The provider's idempotency key for one payment's share of a refund: from the
    refund's own key, so a retry after a crash (after the provider refunded, before our
    commit) gets the provider's first answer instead of a second refund."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"refund-{order.id}-{payment.id}-{digest}"


def _give_money_back(order: Order, refund: Refund, *, actor) -> list[tuple[Payment, Decimal, str]]:
    """Take the refund from the order's payments holding money, oldest first: (payment,
    amount, reference) per payment used."""
    remaining = refund.amount
    given = []
    for payment in payments.payments_of(order):
        share = min(remaining, payments.refundable(payment))
        if share <= 0:
            continue
        if refund.method == "gateway":
            result = payments.refund_through_gateway(
                payment,
                order,
                share,
                actor=actor,
                idempotency_key=gateway_key(order, payment, refund.idempotency_key),
            )
            reference = result.reference or ""
        else:
            payments.record_manual_refund(
                payment, order, share, actor=actor, reference="", idempotency_key=refund.idempotency_key
            )
            reference = ""
        given.append((payment, share, reference))
        remaining -= share
        if remaining <= 0:
            break
    if remaining > 0 or not given:  # the plan was checked against these figures: a bug if so
        raise Conflict("The order's payments do not hold that much.", code="nothing_to_refund")
    return given


def refund_description(refund: Refund, credit_note) -> str:
    return (
        f"{refund.amount} {refund.currency} {METHOD_WORDS[refund.method]} · credit note {credit_note.number}"
    )


def _record(order: Order, refund: Refund, credit_note, given, *, actor, return_request) -> None:
    lifecycle.record_event(
        order,
        "refund",
        actor=actor,
        note=f"{refund_description(refund, credit_note)} · {refund.reason}",
        refund_id=refund.id,
        amount=str(refund.amount),
        shipping_amount=str(refund.shipping_amount),
        method=refund.method,
        credit_note=credit_note.number,
        lines=refund.lines,
        return_number=return_request.number if return_request is not None else None,
    )
    audit.record(
        "order.refunded",
        actor=actor,
        target=order,
        summary=f"Order {order.number}: {refund_description(refund, credit_note)}",
        refund_id=refund.id,
        amount=str(refund.amount),
        shipping_amount=str(refund.shipping_amount),
        currency=refund.currency,
        method=refund.method,
        reason=refund.reason,
        credit_note=credit_note.number,
        lines=refund.lines,
        payments=[
            {"payment_id": payment.id, "amount": str(share), "reference": reference}
            for payment, share, reference in given
        ],
        return_id=refund.return_id,
    )
