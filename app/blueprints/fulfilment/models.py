"""Fulfilment's tables: shipments and their lines, tracking events, provider webhook
deliveries, delivery issues for support, returns and their lines, refunds and credit notes.

Quantities are checked by constraints as a backstop; the services check them first, with
the order row locked, so two staff members (or a staff member and a webhook) can never
ship, return, restock or refund the same units twice.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db

# What a carrier says about a parcel, in the order it usually happens. `exception` can come
# at any point (address unknown, damaged, held at customs).
TRACKING_STATUSES = (
    "label_created",
    "picked_up",
    "in_transit",
    "out_for_delivery",
    "delivered",
    "exception",
)
RETURN_STATUSES = ("requested", "approved", "rejected", "received", "refunded", "closed")
RETURN_REASONS = (
    "damaged",
    "defective",
    "wrong_item",
    "not_as_described",
    "does_not_fit",
    "changed_mind",
    "other",
)
REFUND_METHODS = ("gateway", "manual")
ISSUE_STATUSES = ("open", "resolved")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Shipment(db.Model):
    """Units of an order leaving one stock location in one or more parcels with a carrier."""

    __tablename__ = "shipments"
    __table_args__ = (
        CheckConstraint(_in("status", TRACKING_STATUSES), name="status_known"),
        CheckConstraint("packages >= 1", name="packages_positive"),
        CheckConstraint("weight_grams >= 0", name="weight_not_negative"),
        UniqueConstraint("order_id", "sequence", name="uq_shipments_order_sequence"),
        # A tracking webhook finds its shipment by the provider's reference or tracking number.
        Index("ix_shipments_provider_tracking", "provider", "tracking_number"),
        Index("ix_shipments_provider_reference", "provider", "provider_reference"),
        Index("ix_shipments_status_created", "status", "created_at"),
        # The shipments list: newest first, and a search by tracking number alone.
        Index("ix_shipments_created_at", "created_at"),
        Index("ix_shipments_tracking_number", "tracking_number"),
        Index("ix_shipments_order_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"))
    sequence: Mapped[int] = mapped_column()  # 1, 2, ... within the order
    number: Mapped[str] = mapped_column(String(30), unique=True)  # "100042-1"
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id", ondelete="RESTRICT"))
    provider: Mapped[str] = mapped_column(String(30))  # the provider code: manual, parcelhub
    carrier: Mapped[str] = mapped_column(String(80), default="")
    service: Mapped[str] = mapped_column(String(80), default="")
    tracking_number: Mapped[str] = mapped_column(String(100), default="")
    tracking_url: Mapped[str] = mapped_column(String(500), default="")
    provider_reference: Mapped[str] = mapped_column(String(100), default="")  # the label/shipment id there
    label_url: Mapped[str] = mapped_column(String(500), default="")
    packages: Mapped[int] = mapped_column(default=1)
    weight_grams: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(20), default="label_created")
    estimated_delivery: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    lines: Mapped[list[ShipmentLine]] = relationship(
        back_populates="shipment", cascade="all, delete-orphan", order_by="ShipmentLine.id"
    )


class ShipmentLine(db.Model):
    __tablename__ = "shipment_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        UniqueConstraint("shipment_id", "order_line_id", name="uq_shipment_lines_line"),
        Index("ix_shipment_lines_order_line_id", "order_line_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="RESTRICT"))
    quantity: Mapped[int] = mapped_column()

    shipment: Mapped[Shipment] = relationship(back_populates="lines")


class TrackingEvent(db.Model):
    """What happened to a parcel, from the provider's webhook or entered by staff.
    Append-only; the order's tracking timeline reads these newest first."""

    __tablename__ = "tracking_events"
    __table_args__ = (
        CheckConstraint(_in("status", TRACKING_STATUSES), name="status_known"),
        Index("ix_tracking_events_order_time", "order_id", "occurred_at"),
        Index("ix_tracking_events_shipment_time", "shipment_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(String(500), default="")
    location: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(30))  # the provider code, or "staff"
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ShippingWebhookEvent(db.Model):
    """A tracking webhook delivery accepted from a provider; the unique (provider, event id)
    makes a second delivery of the same event a no-op."""

    __tablename__ = "shipping_webhook_events"
    __table_args__ = (UniqueConstraint("provider", "event_id", name="uq_shipping_webhook_events_event"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(30))
    event_id: Mapped[str] = mapped_column(String(255))
    shipment_id: Mapped[int | None] = mapped_column(
        ForeignKey("shipments.id", ondelete="SET NULL"), index=True
    )
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    outcome: Mapped[str] = mapped_column(String(200), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class DeliveryIssue(db.Model):
    """A task for support: a parcel the carrier reported an exception for. Resolved by a
    staff member with a note (re-sent, refunded, address fixed)."""

    __tablename__ = "delivery_issues"
    __table_args__ = (
        CheckConstraint(_in("status", ISSUE_STATUSES), name="status_known"),
        Index("ix_delivery_issues_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), index=True)
    tracking_event_id: Mapped[int | None] = mapped_column(
        ForeignKey("tracking_events.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(20), default="open")
    summary: Mapped[str] = mapped_column(String(500), default="")
    resolution: Mapped[str] = mapped_column(Text, default="")
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReturnRequest(db.Model):
    """An RMA: the customer (or staff for them) asks to send delivered units back.
    requested -> approved / rejected -> received -> refunded / closed."""

    __tablename__ = "returns"
    __table_args__ = (
        CheckConstraint(_in("status", RETURN_STATUSES), name="status_known"),
        CheckConstraint(_in("reason", RETURN_REASONS), name="reason_known"),
        Index("ix_returns_status_requested", "status", "requested_at"),
        Index("ix_returns_requested_at", "requested_at"),
        Index("ix_returns_order_id", "order_id"),
        Index("ix_returns_customer_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(30), unique=True)  # "R100042-1"
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default="requested")
    reason: Mapped[str] = mapped_column(String(30))
    customer_note: Mapped[str] = mapped_column(Text, default="")
    staff_note: Mapped[str] = mapped_column(Text, default="")  # why rejected / what was found
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))  # staff
    restock_location_id: Mapped[int | None] = mapped_column(
        ForeignKey("stock_locations.id", ondelete="SET NULL")
    )
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    lines: Mapped[list[ReturnLine]] = relationship(
        back_populates="return_request", cascade="all, delete-orphan", order_by="ReturnLine.id"
    )


class ReturnLine(db.Model):
    __tablename__ = "return_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "restocked_quantity >= 0 AND written_off_quantity >= 0 "
            "AND restocked_quantity + written_off_quantity <= quantity",
            name="inspected_within_quantity",
        ),
        UniqueConstraint("return_id", "order_line_id", name="uq_return_lines_line"),
        Index("ix_return_lines_order_line_id", "order_line_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"))
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="RESTRICT"))
    quantity: Mapped[int] = mapped_column()
    restocked_quantity: Mapped[int] = mapped_column(default=0)
    written_off_quantity: Mapped[int] = mapped_column(default=0)
    write_off_reason: Mapped[str] = mapped_column(String(500), default="")

    return_request: Mapped[ReturnRequest] = relationship(back_populates="lines")


class Refund(db.Model):
    """Money given back on an order: through the gateway of its payment, or recorded as
    paid back by hand (bank transfer, cash). Only refunds that happened are rows; a refusal
    by the gateway is a payment transaction and a timeline entry."""

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint(_in("method", REFUND_METHODS), name="method_known"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("shipping_amount >= 0 AND shipping_amount <= amount", name="shipping_within_amount"),
        UniqueConstraint("order_id", "idempotency_key", name="uq_refunds_order_key"),
        Index("ix_refunds_order_id", "order_id"),
        Index("ix_refunds_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="SET NULL"))
    return_id: Mapped[int | None] = mapped_column(ForeignKey("returns.id", ondelete="SET NULL"), index=True)
    method: Mapped[str] = mapped_column(String(20))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    shipping_amount: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0.00"))
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(500), default="")
    # [{order_line_id, quantity, amount}] when refunded per line; empty for an amount.
    lines: Mapped[list] = mapped_column(JSON, default=list)
    gateway_reference: Mapped[str] = mapped_column(String(255), default="")
    idempotency_key: Mapped[str] = mapped_column(String(255))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CreditNote(db.Model):
    """The document of a refund, numbered without gaps per year in its own series
    ("CN-2026-000001", through the invoices' counter table), its PDF rendered by a job."""

    __tablename__ = "credit_notes"
    __table_args__ = (
        UniqueConstraint("series", "sequence", name="uq_credit_notes_series_sequence"),
        CheckConstraint("status IN ('pending', 'rendered')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    refund_id: Mapped[int] = mapped_column(ForeignKey("refunds.id", ondelete="RESTRICT"), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"), index=True)
    series: Mapped[str] = mapped_column(String(20))
    sequence: Mapped[int] = mapped_column()
    number: Mapped[str] = mapped_column(String(40), unique=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rendered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pdf: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
