"""Orders: what checkout (or a phone order taken by staff) creates, and its history.

An order keeps a snapshot of everything it was sold with (names, SKUs, prices, tax,
addresses, the shipping method), so later catalog or settings changes never rewrite it.
Three statuses move independently: the order's own (the state machine in
`lifecycle.py`), payment and fulfilment. Every change of any of them is an `OrderEvent`,
the order's timeline.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    CheckConstraint,
    FetchedValue,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db

ORDER_STATUSES = (
    "pending_payment",
    "paid",
    "processing",
    "partially_shipped",
    "shipped",
    "delivered",
    "completed",
    "on_hold",
    "cancelled",
)
PAYMENT_STATUSES = ("pending", "authorized", "paid", "partially_refunded", "refunded", "failed", "voided")
FULFILMENT_STATUSES = ("unfulfilled", "partially_fulfilled", "fulfilled")
CHANNELS = ("storefront", "phone")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Order(db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(_in("status", ORDER_STATUSES), name="status_known"),
        CheckConstraint(_in("payment_status", PAYMENT_STATUSES), name="payment_status_known"),
        CheckConstraint(_in("fulfilment_status", FULFILMENT_STATUSES), name="fulfilment_status_known"),
        CheckConstraint(_in("channel", CHANNELS), name="channel_known"),
        CheckConstraint("total >= 0", name="total_not_negative"),
        CheckConstraint("amount_paid >= 0 AND amount_refunded >= 0", name="amounts_not_negative"),
        CheckConstraint("amount_refunded <= amount_paid", name="refunds_within_payments"),
        # The list's filters and default sort (newest first).
        Index("ix_orders_placed_at", "placed_at"),
        Index("ix_orders_status_placed_at", "status", "placed_at"),
        Index("ix_orders_payment_status_placed_at", "payment_status", "placed_at"),
        Index("ix_orders_customer_placed_at", "customer_id", "placed_at"),
        Index("ix_orders_total", "total"),
        Index("ix_orders_email", "email"),
        # Segments' "bought ... within N days": only orders that count (paid, not cancelled),
        # read from the index alone.
        Index(
            "ix_orders_counted_placed_at",
            "placed_at",
            "customer_id",
            "id",
            postgresql_where=text("paid_at IS NOT NULL AND status <> 'cancelled'"),
            sqlite_where=text("paid_at IS NOT NULL AND status <> 'cancelled'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The human number staff read out on the phone, 100000 + the id: on PostgreSQL set by a
    # trigger in the INSERT, which returns it (migration b7e3f1a2c9d4); on SQLite by
    # checkout right after the insert.
    number: Mapped[str | None] = mapped_column(String(20), unique=True, server_default=FetchedValue())
    # The secret of the tracking link, encrypted (it is mailed again with every update).
    tracking_token_encrypted: Mapped[str] = mapped_column(String(300))
    # One order per cart: the backstop against two checkouts of the same cart.
    cart_id: Mapped[int | None] = mapped_column(ForeignKey("carts.id", ondelete="SET NULL"), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(String(254))
    channel: Mapped[str] = mapped_column(String(16), default="storefront")
    placed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    status: Mapped[str] = mapped_column(String(20), default="pending_payment")
    held_from: Mapped[str | None] = mapped_column(String(20))  # the status to return to from on_hold
    payment_status: Mapped[str] = mapped_column(String(20), default="pending")
    fulfilment_status: Mapped[str] = mapped_column(String(20), default="unfulfilled")
    payment_method: Mapped[str] = mapped_column(String(20))  # the gateway code: manual, stripe

    currency: Mapped[str] = mapped_column(String(3))
    prices_include_tax: Mapped[bool] = mapped_column()
    subtotal: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    discount_total: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    shipping_total: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    shipping_tax: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    tax_total: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    amount_paid: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0.00"))
    amount_refunded: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0.00"))
    tax_breakdown: Mapped[list] = mapped_column(JSON, default=list)  # [{rate, name, amount}]
    weight_grams: Mapped[int] = mapped_column(default=0)

    shipping_address: Mapped[dict] = mapped_column(JSON)
    billing_address: Mapped[dict] = mapped_column(JSON)
    shipping_method_id: Mapped[int | None] = mapped_column(
        ForeignKey("shipping_methods.id", ondelete="SET NULL")
    )
    shipping_method_code: Mapped[str] = mapped_column(String(40))
    shipping_method_name: Mapped[str] = mapped_column(String(120))
    customer_note: Mapped[str] = mapped_column(Text, default="")

    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.position"
    )

    @property
    def reference(self) -> str:
        """The order's name in the stock ledger (reservations, shipments, backorders)."""
        return f"order:{self.id}"

    @property
    def balance_due(self) -> Decimal:
        """What the customer still owes: nothing once the order is cancelled."""
        if self.status == "cancelled":
            return Decimal("0.00")
        return self.total - self.amount_paid + self.amount_refunded


class OrderLine(db.Model):
    __tablename__ = "order_lines"
    __table_args__ = (
        UniqueConstraint("order_id", "position", name="uq_order_lines_order_position"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "backordered_quantity >= 0 AND backordered_quantity <= quantity",
            name="backordered_within_quantity",
        ),
        CheckConstraint(
            "shipped_quantity >= 0 AND shipped_quantity <= quantity", name="shipped_within_quantity"
        ),
        # Segments' "bought a product / in a category": from the product to its orders.
        Index("ix_order_lines_product_order", "product_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("variants.id", ondelete="SET NULL"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"))
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200))
    tax_class: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int] = mapped_column()
    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    line_subtotal: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    discount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(6, 4))
    tax: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    line_total: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    weight_grams: Mapped[int] = mapped_column(default=0)
    # Units that had no stock at checkout and wait for it (the variant allowed backorders).
    backordered_quantity: Mapped[int] = mapped_column(default=0)
    shipped_quantity: Mapped[int] = mapped_column(default=0)

    order: Mapped[Order] = relationship(back_populates="lines")


class OrderEvent(db.Model):
    """One entry of an order's timeline: placed, a status change (from -> to), a payment
    event, a note, an email sent. Append-only."""

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_order_id_id", "order_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))  # placed, status, payment, fulfilment, note, email
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SavedOrderView(db.Model):
    """A named set of order-list filters a staff member keeps (e.g. "Unpaid this week")."""

    __tablename__ = "saved_order_views"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_saved_order_views_user_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    query_string: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
