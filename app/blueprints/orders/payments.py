"""Payment services: every gateway call recorded, the order's payment status kept true.

Rules:
- Every call to a gateway, successful or not, is a `PaymentTransaction` with amount,
  currency, the gateway's reference and its raw answer (card data never comes back to us).
- Captured money moves the order from pending_payment to paid (or, when the order is on
  hold, changes where the hold returns to), issues the invoice and emits `order.paid`.
- Refunds never exceed what was captured minus what was refunded (service check here,
  CHECK constraints on payments and orders as the backstop).
- A webhook is processed once: its (gateway, event id) is stored first and a second
  delivery finds it and changes nothing. Amounts in webhooks are cumulative, so an event
  about money we already recorded (our own capture or refund) changes nothing either.
- Whatever changes money takes the order's row lock first and re-reads the amounts, so a
  webhook about our own refund waits for that refund's commit and then finds it recorded
  (no double counting), and two staff members cannot both refund the last euro.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from sqlalchemy import select

from app.blueprints.orders import gateways, lifecycle
from app.blueprints.orders.gateways import GatewayResult
from app.blueprints.orders.order_models import Order
from app.blueprints.orders.payment_models import Payment, PaymentTransaction
from app.core import audit
from app.core.audit import actor_label
from app.core.errors import Conflict, InvalidInput
from app.core.events import emit
from app.core.money import to_money
from app.core.timeutil import utcnow
from app.core.transaction import keep_if_rolled_back
from app.extensions import db

log = logging.getLogger(__name__)

ZERO = Decimal("0.00")


def create_payment(order: Order, gateway_code: str) -> Payment:
    """The order's payment, pending until the gateway or staff say otherwise."""
    payment = Payment(order_id=order.id, gateway=gateway_code, amount=order.total, currency=order.currency)
    db.session.add(payment)
    return payment


def payments_of(order: Order) -> list[Payment]:
    return list(db.session.scalars(select(Payment).where(Payment.order_id == order.id).order_by(Payment.id)))


def lock_order_money(order: Order) -> None:
    """Take the order's row lock (until the commit) and re-read its amounts and payments'
    as committed by whoever held it before (see the module doc)."""
    db.session.flush()  # a refresh must not drop what this transaction changed already
    db.session.refresh(order, with_for_update=True)
    db.session.scalars(
        select(Payment).where(Payment.order_id == order.id).execution_options(populate_existing=True)
    ).all()


def record_transaction(
    payment: Payment, kind: str, result: GatewayResult, *, amount: Decimal, actor=None, idempotency_key=None
) -> PaymentTransaction:
    transaction = PaymentTransaction(
        payment=payment,
        kind=kind,
        succeeded=result.succeeded,
        amount=amount,
        currency=payment.currency,
        gateway_reference=result.reference,
        error_code=(result.error_code or "")[:100],
        error_message=result.error_message or "",
        raw_response=audit.json_safe(result.raw or {}),
        idempotency_key=idempotency_key,
        actor_label=actor_label(actor)[:255] if actor is not None else "system",
    )
    db.session.add(transaction)
    return transaction


def start_payment(payment: Payment, order: Order, *, only_payment: bool = False) -> GatewayResult:
    """Ask the gateway to start collecting (create the PaymentIntent); run right after the
    checkout committed. A failure leaves the order pending_payment with a failed payment
    the customer can retry. An order that costs nothing is paid at once (no provider
    takes a payment of zero). `only_payment`: the caller knows `payment` is the order's
    only one (an order being placed), so its payment status needs no query of them."""
    if payment.amount <= 0:
        result = GatewayResult(True, status="paid", amount=ZERO)
        record_transaction(payment, "capture", result, amount=ZERO)
        payment.status = "paid"
        sync_order_payment_status(order)
        _order_paid(order, actor=None)
        return result
    gateway = gateways.get_gateway(payment.gateway)
    result = gateway.authorize(
        payment_id=payment.id,
        order_number=order.number,
        amount=payment.amount,
        currency=payment.currency,
        email=order.email,
    )
    record_transaction(payment, "authorize", result, amount=payment.amount)
    if result.reference and not payment.gateway_reference:
        payment.gateway_reference = result.reference
    if not result.succeeded:
        payment.status = "failed"
        lifecycle.record_event(
            order, "payment", note=result.error_message, status="failed", error=result.error_code
        )
    elif result.status == "paid":
        apply_capture(payment, order, result.amount or payment.amount)
    elif result.status == "authorized":
        mark_authorized(payment, order)
    sync_order_payment_status(order, [payment] if only_payment else None)
    return result


def mark_authorized(payment: Payment, order: Order) -> None:
    if payment.status in ("pending", "failed"):
        payment.status = "authorized"
        lifecycle.record_event(order, "payment", status="authorized", amount=str(payment.amount))


def apply_capture(payment: Payment, order: Order, amount: Decimal, *, actor=None) -> None:
    """Captured money: amounts, statuses, the order to paid, the invoice, `order.paid`."""
    amount = to_money(amount)
    room = payment.amount - payment.amount_captured
    amount = min(amount, room)
    if amount <= 0:
        return
    payment.amount_captured += amount
    payment.status = "paid" if payment.amount_captured >= payment.amount else payment.status
    order.amount_paid += amount
    lifecycle.record_event(order, "payment", actor=actor, status="captured", amount=str(amount))
    sync_order_payment_status(order)
    _order_paid(order, actor=actor)


def _order_paid(order: Order, *, actor) -> None:
    """Once the whole total is in: the order to paid, its invoice, `order.paid`."""
    if order.payment_status != "paid" or order.paid_at is not None:
        return
    if order.status == "cancelled":
        # Money that arrived after the cancellation (it could not be voided in time) is
        # recorded as it is, and staff are told to give it back; a cancelled order is
        # neither invoiced nor announced as paid.
        lifecycle.record_event(
            order, "payment", actor=actor, note="Payment received for a cancelled order: refund it."
        )
        return
    order.paid_at = utcnow()
    if order.status == "pending_payment":
        lifecycle.transition(order, "paid", actor=actor, note="Payment received")
    elif order.status == "on_hold" and order.held_from == "pending_payment":
        order.held_from = "paid"
    from app.blueprints.orders import invoices  # invoices read payments: a cycle

    invoices.issue_invoice(order)
    emit("order.paid", order_id=order.id)


def apply_refund(payment: Payment, order: Order, amount: Decimal, *, actor=None, reference=None) -> None:
    amount = to_money(amount)
    if amount <= 0:
        return
    payment.amount_refunded += amount
    payment.status = (
        "refunded" if payment.amount_refunded >= payment.amount_captured else "partially_refunded"
    )
    order.amount_refunded += amount
    lifecycle.record_event(
        order, "payment", actor=actor, status="refunded", amount=str(amount), reference=reference
    )
    sync_order_payment_status(order)
    emit("order.refunded", order_id=order.id, amount=str(amount))


def sync_order_payment_status(order: Order, payments: list[Payment] | None = None) -> None:
    """The order's payment status from its money and its payments (read unless given)."""
    if payments is None:
        payments = payments_of(order)
    if order.amount_refunded > 0:
        status = "refunded" if order.amount_refunded >= order.amount_paid else "partially_refunded"
    elif order.amount_paid >= order.total and (order.amount_paid > 0 or order.total == 0):
        status = "paid"
    elif any(p.status == "authorized" for p in payments):
        status = "authorized"
    elif payments and payments[-1].status == "failed":
        status = "failed"
    elif payments and all(p.status == "voided" for p in payments):
        status = "voided"
    else:
        status = "pending"
    order.payment_status = status


def _open_payment(order: Order, *statuses: str) -> Payment:
    for payment in reversed(payments_of(order)):
        if payment.status in statuses:
            return payment
    raise Conflict("The order has no payment in that state.", code="invalid_payment_state")


def mark_paid(order: Order, *, actor, amount: Decimal | None = None, note: str = "") -> Order:
    """Staff record money received outside a gateway (bank transfer, cash on delivery): the
    amount due by default, or part of it (the order stays pending until all is in)."""
    if order.payment_method != "manual":
        raise Conflict("Only manual payments are marked paid by hand.", code="invalid_payment_state")
    lock_order_money(order)
    if order.status == "cancelled" or order.payment_status == "paid":
        raise Conflict("This order is not waiting for payment.", code="invalid_payment_state")
    payment = _open_payment(order, "pending", "failed")
    due = payment.amount - payment.amount_captured
    amount = due if amount is None else to_money(amount)
    if amount <= 0 or amount > due:
        raise InvalidInput("Amount out of range.", errors={"amount": [f"Between 0.01 and {due}."]})
    result = gateways.get_gateway("manual").capture(reference="", amount=amount, currency=payment.currency)
    record_transaction(payment, "mark_paid", result, amount=amount, actor=actor)
    apply_capture(payment, order, amount, actor=actor)
    audit.record(
        "order.marked_paid",
        actor=actor,
        target=order,
        summary=f"Order {order.number} marked paid",
        amount=str(amount),
        note=note,
    )
    return order


def capture_payment(order: Order, *, actor) -> Order:
    """Capture an authorized card payment (stores that authorize at checkout and capture
    at shipping)."""
    lock_order_money(order)
    payment = _open_payment(order, "authorized")
    amount = payment.amount - payment.amount_captured
    result = gateways.get_gateway(payment.gateway).capture(
        reference=payment.gateway_reference or "", amount=amount, currency=payment.currency
    )
    if not result.succeeded:
        _refused("capture", payment, result, amount=amount, actor=actor)
    record_transaction(payment, "capture", result, amount=amount, actor=actor)
    apply_capture(payment, order, result.amount or amount, actor=actor)
    audit.record(
        "order.payment_captured", actor=actor, target=order, summary=f"Order {order.number} captured"
    )
    return order


def settle_cancelled_order(order: Order, *, actor) -> None:
    """Give back whatever was captured (in full) and void what is still open (pending,
    authorized, or failed but retryable at the provider), so a cancelled order can neither
    keep nor take money."""
    lock_order_money(order)
    for payment in payments_of(order):
        open_at_provider = payment.status in ("pending", "authorized") or (
            payment.status == "failed" and payment.gateway_reference
        )
        if refundable(payment) > 0:
            refund_payment(
                payment,
                order,
                refundable(payment),
                actor=actor,
                idempotency_key=f"cancel-payment-{payment.id}",
            )
        elif open_at_provider:
            _void(payment, actor=actor)
    sync_order_payment_status(order)


def _void(payment: Payment, *, actor) -> None:
    if payment.gateway_reference:
        result = gateways.get_gateway(payment.gateway).void(reference=payment.gateway_reference)
    else:  # nothing was ever asked of the provider (a bank transfer awaited)
        result = GatewayResult(True, status="voided")
    if not result.succeeded:
        _refused("void", payment, result, amount=payment.amount, actor=actor)
    record_transaction(payment, "void", result, amount=payment.amount, actor=actor)
    payment.status = "voided"


def _refused(action: str, payment: Payment, result: GatewayResult, *, amount: Decimal, actor=None):
    """The provider said no: the use case fails (Conflict), but the attempt stays on record
    (a payment transaction and a timeline entry, kept after the rollback)."""
    log.warning(
        "payment %s: %s refused by %s: %s %s",
        payment.id,
        action,
        payment.gateway,
        result.error_code,
        result.error_message,
    )
    payment_id, order_id = payment.id, payment.order_id

    def keep_the_refusal() -> None:
        kept = db.session.get(Payment, payment_id)
        record_transaction(kept, action, result, amount=amount, actor=actor)
        lifecycle.record_event(
            db.session.get(Order, order_id),
            "payment",
            actor=actor,
            note=result.error_message,
            status=f"{action}_refused",
            error=result.error_code,
        )

    keep_if_rolled_back(keep_the_refusal)
    raise Conflict(
        f"The payment provider refused the {action}: {result.error_message}", code="payment_failed"
    )


def refundable(payment: Payment) -> Decimal:
    return payment.amount_captured - payment.amount_refunded


def refund_payment(payment: Payment, order: Order, amount: Decimal, *, actor, idempotency_key: str) -> None:
    """Give money back through the gateway, never more than is refundable (captured minus
    refunded, as committed: the order is locked first)."""
    result = refund_through_gateway(payment, order, amount, actor=actor, idempotency_key=idempotency_key)
    amount = to_money(amount)
    audit.record(
        "order.refunded",
        actor=actor,
        target=order,
        summary=f"Order {order.number}: {amount} {payment.currency} refunded",
        amount=str(amount),
        payment_id=payment.id,
        reference=result.reference,
    )


def _checked_refund_amount(payment: Payment, order: Order, amount: Decimal) -> Decimal:
    lock_order_money(order)
    amount = to_money(amount)
    if amount <= 0 or amount > refundable(payment):
        raise InvalidInput("Amount out of range.", errors={"amount": [f"At most {refundable(payment)}."]})
    return amount


def refund_through_gateway(
    payment: Payment, order: Order, amount: Decimal, *, actor, idempotency_key: str
) -> GatewayResult:
    """`refund_payment` without its audit entry, for a caller that records its own (the
    fulfilment refund, whose one entry names the credit note). A refusal is kept and
    raised as Conflict `payment_failed`."""
    amount = _checked_refund_amount(payment, order, amount)
    result = gateways.get_gateway(payment.gateway).refund(
        reference=payment.gateway_reference or "",
        amount=amount,
        currency=payment.currency,
        idempotency_key=idempotency_key,
    )
    if not result.succeeded:
        _refused("refund", payment, result, amount=amount, actor=actor)
    record_transaction(payment, "refund", result, amount=amount, actor=actor, idempotency_key=idempotency_key)
    apply_refund(payment, order, amount, actor=actor, reference=result.reference)
    return result


def record_manual_refund(
    payment: Payment, order: Order, amount: Decimal, *, actor, reference: str = "", idempotency_key=None
) -> PaymentTransaction:
    """Money staff paid back by hand (a bank transfer, cash), whatever the payment's
    gateway: recorded as a refund of the payment without calling the provider. Not
    audited here (the caller's entry says why and how)."""
    amount = _checked_refund_amount(payment, order, amount)
    result = GatewayResult(
        True, status="refunded", reference=reference or None, amount=amount, raw={"paid_back_by_hand": True}
    )
    transaction = record_transaction(
        payment, "refund", result, amount=amount, actor=actor, idempotency_key=idempotency_key
    )
    apply_refund(payment, order, amount, actor=actor, reference=reference or None)
    return transaction
