"""Invoices: issued when an order is paid, numbered without gaps, rendered to PDF by a job.

Numbering: one series per calendar year ("INV-2026-000001"). The counter row is taken
with a row lock (UPDATE ... RETURNING) in the same transaction that creates the invoice,
so concurrent payments queue for it, and a transaction that rolls back gives its number
back: no gaps, no duplicates (the unique (series, sequence) is the backstop).

The PDF (invoice_rendering.py) is stored on the invoice once; downloads and the mail
attachment read those bytes, so every copy of an invoice is the same document.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import undefer

from app.blueprints.orders.invoice_models import Invoice, InvoiceCounter
from app.blueprints.orders.order_models import Order
from app.core.errors import Conflict, NotFound
from app.core.timeutil import utcnow
from app.core.transaction import savepoint
from app.extensions import db


def _take(series: str) -> int | None:
    taken = db.session.execute(
        update(InvoiceCounter)
        .where(InvoiceCounter.series == series)
        .values(next_value=InvoiceCounter.next_value + 1)
        .returning(InvoiceCounter.next_value)
    ).scalar()
    return None if taken is None else taken - 1


def next_sequence(series: str) -> int:
    """Take the next number of `series` (locks the counter row until the commit)."""
    taken = _take(series)
    if taken is not None:
        return taken
    # First invoice of the series: create its counter. Two first invoices racing both
    # try; the loser's INSERT waits for the winner's commit and fails on the primary key,
    # and then takes its number from the row the winner made (in a savepoint, so the rest
    # of the payment's transaction goes on).
    try:
        with savepoint():
            db.session.add(InvoiceCounter(series=series, next_value=2))
            db.session.flush()
        return 1
    except IntegrityError:
        taken = _take(series)
        if taken is None:  # the winner rolled back after all: let the caller retry
            raise
        return taken


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


def stored_pdf(invoice_id: int) -> bytes:
    """The rendered PDF of an invoice (the mail attachment loader of "invoice:<id>").
    Raises while it is not rendered yet, so a mail waiting for it is retried."""
    invoice = db.session.scalar(select(Invoice).where(Invoice.id == invoice_id).options(undefer(Invoice.pdf)))
    if invoice is None:
        raise NotFound(f"No invoice {invoice_id}.", code="invoice_not_found")
    if invoice.status != "rendered" or not invoice.pdf:
        raise Conflict(f"Invoice {invoice.number} is not rendered yet.", code="invoice_not_ready")
    return invoice.pdf


def downloadable_invoice(order: Order) -> Invoice:
    """The order's invoice with its PDF. An order that has none (not paid) is a NotFound;
    one whose PDF the job has not rendered yet a Conflict `invoice_not_ready`."""
    invoice = db.session.scalar(
        select(Invoice).where(Invoice.order_id == order.id).options(undefer(Invoice.pdf))
    )
    if invoice is None:
        raise NotFound("This order has no invoice: it is not paid yet.", code="invoice_not_found")
    if invoice.status != "rendered" or not invoice.pdf:
        raise Conflict("The invoice is being prepared; try again in a minute.", code="invoice_not_ready")
    return invoice


def store_rendered_pdf(invoice: Invoice, pdf: bytes) -> Invoice:
    """Keep the invoice's PDF: rendered once, never replaced (the document was sent)."""
    if invoice.status == "rendered":
        return invoice
    invoice.pdf = pdf
    invoice.status = "rendered"
    invoice.rendered_at = utcnow()
    db.session.flush()
    return invoice
