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
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.blueprints.orders import gateways, lifecycle
from app.blueprints.orders.gateways import GatewayResult, WebhookEvent
from app.blueprints.orders.order_models import Order
from app.blueprints.orders.payment_models import GatewayWebhookEvent, Payment, PaymentTransaction
from app.core import audit
from app.core.audit import actor_label
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.events import emit
from app.core.money import to_money
from app.core.timeutil import utcnow
from app.core.transaction import savepoint
from app.extensions import db

ZERO = Decimal("0.00")


def create_payment(order: Order, gateway_code: str) -> Payment:
    """The order's payment, pending until the gateway or staff say otherwise."""
    payment = Payment(order_id=order.id, gateway=gateway_code, amount=order.total, currency=order.currency)
    db.session.add(payment)
    return payment


def payments_of(order: Order) -> list[Payment]:
    return list(db.session.scalars(select(Payment).where(Payment.order_id == order.id).order_by(Payment.id)))


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


def start_payment(payment: Payment, order: Order) -> GatewayResult:
    """Ask the gateway to start collecting (create the PaymentIntent); run right after the
    checkout committed. A failure leaves the order pending_payment with a failed payment
    the customer can retry."""
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
        _authorized(payment, order)
    sync_order_payment_status(order)
    return result


def _authorized(payment: Payment, order: Order) -> None:
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
    if order.payment_status == "paid" and order.paid_at is None:
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


def sync_order_payment_status(order: Order) -> None:
    """The order's payment status from its money and its payments."""
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
    """Staff record money received outside a gateway (bank transfer, cash on delivery)."""
    if order.payment_method != "manual":
        raise Conflict("Only manual payments are marked paid by hand.", code="invalid_payment_state")
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
    payment = _open_payment(order, "authorized")
    result = gateways.get_gateway(payment.gateway).capture(
        reference=payment.gateway_reference or "", amount=payment.amount, currency=payment.currency
    )
    record_transaction(payment, "capture", result, amount=payment.amount, actor=actor)
    if not result.succeeded:
        raise Conflict(
            f"The payment provider refused the capture: {result.error_message}", code="payment_failed"
        )
    apply_capture(payment, order, result.amount or payment.amount, actor=actor)
    audit.record(
        "order.payment_captured", actor=actor, target=order, summary=f"Order {order.number} captured"
    )
    return order


def settle_cancelled_order(order: Order, *, actor) -> None:
    """Void what is only authorized or pending, refund what was captured (in full)."""
    for payment in payments_of(order):
        gateway = gateways.get_gateway(payment.gateway)
        if payment.status in ("pending", "authorized"):
            result = (
                gateway.void(reference=payment.gateway_reference or "")
                if payment.gateway_reference
                else (GatewayResult(True, status="voided"))
            )
            record_transaction(payment, "void", result, amount=payment.amount, actor=actor)
            if not result.succeeded:
                raise Conflict(
                    f"The payment provider refused to void: {result.error_message}", code="payment_failed"
                )
            payment.status = "voided"
        elif payment.status in ("paid", "partially_refunded"):
            refund_payment(
                payment,
                order,
                payment.amount_captured - payment.amount_refunded,
                actor=actor,
                idempotency_key=f"cancel-payment-{payment.id}",
            )
    sync_order_payment_status(order)


def refundable(payment: Payment) -> Decimal:
    return payment.amount_captured - payment.amount_refunded


def refund_payment(payment: Payment, order: Order, amount: Decimal, *, actor, idempotency_key: str) -> None:
    """Give money back through the gateway, never more than is refundable."""
    amount = to_money(amount)
    if amount <= 0 or amount > refundable(payment):
        raise InvalidInput("Amount out of range.", errors={"amount": [f"At most {refundable(payment)}."]})
    result = gateways.get_gateway(payment.gateway).refund(
        reference=payment.gateway_reference or "",
        amount=amount,
        currency=payment.currency,
        idempotency_key=idempotency_key,
    )
    record_transaction(payment, "refund", result, amount=amount, actor=actor, idempotency_key=idempotency_key)
    if not result.succeeded:
        raise Conflict(
            f"The payment provider refused the refund: {result.error_message}", code="payment_failed"
        )
    apply_refund(payment, order, amount, actor=actor, reference=result.reference)


# ---- webhooks --------------------------------------------------------------------------


def handle_webhook(gateway_code: str, body: bytes, headers) -> str:
    """Verify, store once, apply. Returns what was done ("duplicate", "applied", ...).
    Raises gateways.WebhookRejected for an event that cannot be trusted."""
    gateway = gateways.get_gateway(gateway_code)
    event = gateway.parse_webhook(body, headers)
    payment = None
    if event.payment_reference:
        payment = db.session.scalar(
            select(Payment).where(
                Payment.gateway == gateway_code, Payment.gateway_reference == event.payment_reference
            )
        )
    stored = GatewayWebhookEvent(
        gateway=gateway_code,
        event_id=event.event_id[:255],
        event_type=event.event_type[:100],
        payment_id=payment.id if payment else None,
        payload=audit.json_safe(event.raw),
    )
    try:
        with savepoint():
            db.session.add(stored)
    except IntegrityError:
        return "duplicate"
    stored.outcome = _apply_webhook(event, payment) if payment else "unknown payment"
    return stored.outcome


def _apply_webhook(event: WebhookEvent, payment: Payment) -> str:
    order = db.session.get(Order, payment.order_id, with_for_update=True)
    record_transaction(
        payment,
        "webhook",
        GatewayResult(True, status=event.status, reference=event.event_id, raw=event.raw),
        amount=event.amount if event.amount is not None else ZERO,
    )
    if event.status == "authorized":
        _authorized(payment, order)
    elif event.status == "paid":
        captured = event.amount if event.amount is not None else payment.amount
        apply_capture(payment, order, captured - payment.amount_captured)
    elif event.status == "failed":
        if payment.status in ("pending", "authorized"):
            payment.status = "failed"
            lifecycle.record_event(order, "payment", status="failed", error=event.raw.get("error", ""))
    elif event.status == "refunded" and event.amount is not None:
        apply_refund(payment, order, event.amount - payment.amount_refunded, reference=event.event_id)
    elif event.status == "voided" and payment.status in ("pending", "authorized", "failed"):
        payment.status = "voided"
    else:
        return "ignored"
    sync_order_payment_status(order)
    return "applied"


def find_order_payment(order_id: int, payment_id: int) -> Payment:
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.order_id != order_id:
        raise NotFound("No such payment.", code="payment_not_found")
    return payment
