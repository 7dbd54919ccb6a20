"""Invoices: one per paid order, numbered without gaps, its PDF stored with it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column

from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db


class InvoiceCounter(db.Model):
    """The next number of a series (one per year: "2026"). Taken with a row lock in the
    transaction that creates the invoice, so a rolled-back invoice gives its number back:
    numbers have no gaps and no duplicates."""

    __tablename__ = "invoice_counters"

    series: Mapped[str] = mapped_column(String(20), primary_key=True)
    next_value: Mapped[int] = mapped_column(default=1)


class Invoice(db.Model):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("series", "sequence", name="uq_invoices_series_sequence"),
        CheckConstraint("status IN ('pending', 'rendered')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"), unique=True)
    series: Mapped[str] = mapped_column(String(20))
    sequence: Mapped[int] = mapped_column()
    number: Mapped[str] = mapped_column(String(40), unique=True)  # "INV-2026-000042"
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), default="pending")  # rendered once the PDF is in
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rendered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pdf: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
