"""Inventory: stock locations, stock per variant per location, the append-only movement
ledger, low-stock alerts, backorders, back-in-stock requests and purchase receipts.

`StockLevel.on_hand` and `.reserved` always equal the sums of the ledger's deltas for
that variant and location; the services change both in the same statement group, and
CHECK constraints make overselling impossible even if a service were wrong.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, Numeric, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db

LOCATION_KINDS = ("warehouse", "store")
MOVEMENT_KINDS = (
    "receipt",  # goods received from a supplier
    "allocation",  # stock reserved for an order (reserved +)
    "release",  # a reservation given back (order cancelled or changed)
    "shipment",  # reserved stock leaves the building (on hand -, reserved -)
    "return_restock",  # returned goods put back on the shelf
    "adjustment",  # a manual change with a reason (damage, loss, found)
    "transfer_out",
    "transfer_in",
    "count_correction",  # a stock count set on hand to what was counted
)
BACKORDER_STATUSES = ("waiting", "allocated", "cancelled")
ALERT_STATUSES = ("open", "resolved")
# The ledger grows forever: 64-bit ids on PostgreSQL (SQLite's rowid is 64-bit already).
LedgerId = BigInteger().with_variant(Integer, "sqlite")


class StockLocation(db.Model):
    __tablename__ = "stock_locations"
    __table_args__ = (
        CheckConstraint("kind IN ('warehouse', 'store')", name="kind_known"),
        CheckConstraint(
            "low_stock_threshold IS NULL OR low_stock_threshold >= 0", name="low_stock_threshold_not_negative"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16), default="warehouse")
    address: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    # Online orders are allocated from active fulfilling locations, lowest position first.
    fulfils_orders: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)
    low_stock_threshold: Mapped[int | None] = mapped_column()  # default for its variants
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StockLevel(db.Model):
    __tablename__ = "stock_levels"
    __table_args__ = (
        # The backstop against overselling: no code path can push these out of range.
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
        Index("ix_stock_levels_location_variant", "location_id", "variant_id"),
    )

    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"), primary_key=True)
    location_id: Mapped[int] = mapped_column(
        ForeignKey("stock_locations.id", ondelete="RESTRICT"), primary_key=True
    )
    on_hand: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    reserved: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    location: Mapped[StockLocation] = relationship()

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class InventoryMovement(db.Model):
    """One change of stock: never updated, never deleted."""

    __tablename__ = "inventory_movements"
    __table_args__ = (
        Index("ix_inventory_movements_variant_location_id", "variant_id", "location_id", "id"),
        Index("ix_inventory_movements_location_time", "location_id", "created_at"),
        Index("ix_inventory_movements_reference", "reference"),
    )

    id: Mapped[int] = mapped_column(LedgerId, primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id", ondelete="RESTRICT"))
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(20))
    on_hand_delta: Mapped[int] = mapped_column(default=0)
    reserved_delta: Mapped[int] = mapped_column(default=0)
    reason: Mapped[str] = mapped_column(String(300), default="")
    # What caused it: "order:1042", "receipt:7", "transfer:3f2a...", "count:12".
    reference: Mapped[str] = mapped_column(String(100), default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Backorder(db.Model):
    """A quantity sold beyond stock, waiting for receipts; served first come, first served."""

    __tablename__ = "backorders"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("status IN ('waiting', 'allocated', 'cancelled')", name="status_known"),
        Index("ix_backorders_variant_status_id", "variant_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id", ondelete="RESTRICT"))
    quantity: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    reference: Mapped[str] = mapped_column(String(100), default="", index=True)  # e.g. "order-line:88"
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    location_id: Mapped[int | None] = mapped_column(  # where it was allocated
        ForeignKey("stock_locations.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    allocated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StockAlert(db.Model):
    """Available stock of a variant at a location fell to or below its threshold. At most
    one open alert per variant and location; resolved when restocked above it."""

    __tablename__ = "stock_alerts"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'resolved')", name="status_known"),
        Index(
            "uq_stock_alerts_one_open",
            "variant_id",
            "location_id",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        Index("ix_stock_alerts_status_raised", "status", "raised_at"),
        Index("ix_stock_alerts_variant", "variant_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id", ondelete="CASCADE"), index=True)
    threshold: Mapped[int] = mapped_column()
    available_at_raise: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="open")
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    location: Mapped[StockLocation] = relationship()


class StockAlertSubscription(db.Model):
    """A staff member who gets low-stock alerts by email."""

    __tablename__ = "stock_alert_subscriptions"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BackInStockRequest(db.Model):
    """A customer asked to be emailed when a variant is back: one pending request per
    variant and address."""

    __tablename__ = "back_in_stock_requests"
    __table_args__ = (
        Index(
            "uq_back_in_stock_pending",
            "variant_id",
            "email",
            unique=True,
            postgresql_where=text("notified_at IS NULL"),
            sqlite_where=text("notified_at IS NULL"),
        ),
        Index("ix_back_in_stock_variant", "variant_id", "notified_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PurchaseReceipt(db.Model):
    """Goods received from a supplier into one location."""

    __tablename__ = "purchase_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(
        ForeignKey("stock_locations.id", ondelete="RESTRICT"), index=True
    )
    supplier: Mapped[str] = mapped_column(String(200), default="")
    supplier_reference: Mapped[str] = mapped_column(String(100), default="", index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    received_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    location: Mapped[StockLocation] = relationship()
    lines: Mapped[list[PurchaseReceiptLine]] = relationship(
        cascade="all, delete-orphan", order_by="PurchaseReceiptLine.id"
    )


class PurchaseReceiptLine(db.Model):
    __tablename__ = "purchase_receipt_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[int] = mapped_column(
        ForeignKey("purchase_receipts.id", ondelete="CASCADE"), index=True
    )
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id", ondelete="RESTRICT"), index=True)
    quantity: Mapped[int] = mapped_column()
    unit_cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
