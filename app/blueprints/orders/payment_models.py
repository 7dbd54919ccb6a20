"""Payments of orders, every attempt made with a gateway, and the webhooks received.

A `Payment` is one way an order is being paid (a Stripe PaymentIntent, a bank transfer
awaited); each call to the gateway (authorize, capture, void, refund) and each webhook
that changed it is a `PaymentTransaction` with the gateway's reference and raw answer.
Card data never reaches us: Stripe collects it on the storefront, we keep ids.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db

PAYMENT_RECORD_STATUSES = (
    "pending",
    "authorized",
    "paid",
    "partially_refunded",
    "refunded",
    "failed",
    "voided",
)
TRANSACTION_KINDS = ("authorize", "capture", "void", "refund", "webhook", "mark_paid")


class Payment(db.Model):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("amount_captured >= 0 AND amount_captured <= amount", name="captured_within_amount"),
        CheckConstraint(
            "amount_refunded >= 0 AND amount_refunded <= amount_captured", name="refunded_within_captured"
        ),
        UniqueConstraint("gateway", "gateway_reference", name="uq_payments_gateway_reference"),
        Index("ix_payments_order_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    gateway: Mapped[str] = mapped_column(String(20))
    gateway_reference: Mapped[str | None] = mapped_column(String(255))  # e.g. pi_3Nx...
    status: Mapped[str] = mapped_column(String(20), default="pending")
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    amount_captured: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0.00"))
    amount_refunded: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0.00"))
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    transactions: Mapped[list[PaymentTransaction]] = relationship(
        back_populates="payment", cascade="all, delete-orphan", order_by="PaymentTransaction.id"
    )


class PaymentTransaction(db.Model):
    """One attempt with the gateway (or a staff member's "mark as paid"), kept whatever
    its outcome."""

    __tablename__ = "payment_transactions"
    __table_args__ = (Index("ix_payment_transactions_payment_id", "payment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    succeeded: Mapped[bool] = mapped_column()
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3))
    gateway_reference: Mapped[str | None] = mapped_column(String(255))  # refund id, event id, ...
    error_code: Mapped[str] = mapped_column(String(100), default="")
    error_message: Mapped[str] = mapped_column(Text, default="")
    raw_response: Mapped[dict] = mapped_column(JSON, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    actor_label: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    payment: Mapped[Payment] = relationship(back_populates="transactions")


class GatewayWebhookEvent(db.Model):
    """A webhook delivery accepted from a gateway; the unique (gateway, event id) makes a
    second delivery of the same event a no-op."""

    __tablename__ = "gateway_webhook_events"
    __table_args__ = (UniqueConstraint("gateway", "event_id", name="uq_gateway_webhook_events_event"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(100))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="SET NULL"), index=True)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    outcome: Mapped[str] = mapped_column(String(200), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
