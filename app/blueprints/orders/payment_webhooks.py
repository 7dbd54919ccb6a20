"""Payment webhooks: a provider tells us what happened to a payment.

Verified by the gateway (`parse_webhook` raises WebhookRejected before anything is
stored), stored once (the unique (gateway, event id) makes a redelivery, even a concurrent
one, a no-op), then applied through the payment services with the order's money locked.
Amounts in events are cumulative, so an event about money we recorded ourselves (our own
capture or refund) changes nothing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.blueprints.orders import gateways, lifecycle
from app.blueprints.orders.gateways import GatewayResult, WebhookEvent
from app.blueprints.orders.order_models import Order
from app.blueprints.orders.payment_models import GatewayWebhookEvent, Payment
from app.blueprints.orders.payments import (
    ZERO,
    apply_capture,
    apply_refund,
    lock_order_money,
    mark_authorized,
    record_transaction,
    refundable,
    sync_order_payment_status,
)
from app.core import audit
from app.core.transaction import savepoint
from app.extensions import db


def handle_webhook(gateway_code: str, body: bytes, headers) -> str:
    """Verify, store once, apply. Returns what was done: "duplicate" (seen before, nothing
    changed), "unknown payment" (stored, not ours or not yet), "applied", "no change" (what
    it says is recorded already), "ignored" (an event type we do not act on).
    Raises gateways.WebhookRejected, before storing anything, for an event that cannot be
    trusted."""
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
        # A second delivery (even a concurrent one) fails on the unique (gateway, event id).
        with savepoint():
            db.session.add(stored)
    except IntegrityError:
        return "duplicate"
    stored.outcome = _apply_webhook(event, payment) if payment else "unknown payment"
    return stored.outcome


def _apply_webhook(event: WebhookEvent, payment: Payment) -> str:
    order = db.session.get(Order, payment.order_id)
    lock_order_money(order)
    if event.status is None:
        return "ignored"
    changed = _webhook_change(event, payment, order)
    if not changed:
        return "no change"
    record_transaction(
        payment,
        "webhook",
        GatewayResult(True, status=event.status, reference=event.event_id, raw=event.raw),
        amount=event.amount if event.amount is not None else ZERO,
    )
    sync_order_payment_status(order)
    return "applied"


def _webhook_change(event: WebhookEvent, payment: Payment, order: Order) -> bool:
    """Apply what the event says; False when that is what we have recorded already."""
    if event.status == "authorized":
        if payment.status not in ("pending", "failed"):
            return False
        mark_authorized(payment, order)
    elif event.status == "paid":
        captured = event.amount if event.amount is not None else payment.amount
        if min(captured, payment.amount) <= payment.amount_captured:
            return False
        apply_capture(payment, order, captured - payment.amount_captured)
    elif event.status == "failed":
        if payment.status not in ("pending", "authorized"):
            return False
        payment.status = "failed"
        lifecycle.record_event(order, "payment", status="failed", error=event.raw.get("error", ""))
    elif event.status == "refunded":
        return _webhook_refund(event, payment, order)
    elif event.status == "voided":
        if payment.status not in ("pending", "authorized", "failed"):
            return False
        payment.status = "voided"
        lifecycle.record_event(order, "payment", status="voided")
    else:
        return False
    return True


def _webhook_refund(event: WebhookEvent, payment: Payment, order: Order) -> bool:
    if event.amount is None:
        return False
    changed = False
    # The refund may overtake the event about the capture: the capture it implies first.
    if event.captured_amount is not None and event.captured_amount > payment.amount_captured:
        apply_capture(payment, order, event.captured_amount - payment.amount_captured)
        changed = True
    amount = min(event.amount - payment.amount_refunded, refundable(payment))
    if amount > 0:
        apply_refund(payment, order, amount, reference=event.event_id)
        changed = True
    return changed
