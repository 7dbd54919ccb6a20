"""Invoices: issued when an order is paid, numbered without gaps, rendered to PDF by a job.

Numbering: one series per calendar year ("INV-2026-000001"). The counter row is taken
with a row lock (UPDATE ... RETURNING) in the same transaction that creates the invoice,
so concurrent payments queue for it, and a transaction that rolls back gives its number
back: no gaps, no duplicates (the unique (series, sequence) is the backstop).
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select, update

from app.blueprints.orders.invoice_models import Invoice, InvoiceCounter
from app.blueprints.orders.order_models import Order
from app.core.timeutil import utcnow
from app.extensions import db


def next_sequence(series: str) -> int:
    """Take the next number of `series` (locks the counter row until the commit)."""
    taken = db.session.execute(
        update(InvoiceCounter)
        .where(InvoiceCounter.series == series)
        .values(next_value=InvoiceCounter.next_value + 1)
        .returning(InvoiceCounter.next_value)
    ).scalar()
    if taken is not None:
        return taken - 1
    # First invoice of the series: create its counter. Two first invoices racing both
    # try; the loser's INSERT fails on the primary key and its transaction is retried
    # by the caller like any other conflict.
    db.session.add(InvoiceCounter(series=series, next_value=2))
    db.session.flush()
    return 1


def issue_invoice(order: Order) -> Invoice:
    """The order's invoice (one per order; a second call returns the first). The PDF is
    rendered afterwards by `render_invoice_job` (listener on `order.paid`)."""
    existing = db.session.scalar(select(Invoice).where(Invoice.order_id == order.id))
    if existing is not None:
        return existing
    issued = utcnow()
    series = str(issued.year)
    sequence = next_sequence(series)
    prefix = current_app.config.get("INVOICE_PREFIX", "INV")
    invoice = Invoice(
        order_id=order.id,
        series=series,
        sequence=sequence,
        number=f"{prefix}-{series}-{sequence:06d}",
        total=order.total,
        currency=order.currency,
        status="pending",
        issued_at=issued,
    )
    db.session.add(invoice)
    return invoice


def invoice_of(order: Order) -> Invoice | None:
    return db.session.scalar(select(Invoice).where(Invoice.order_id == order.id))
