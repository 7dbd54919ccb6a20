"""Credit note PDFs: the credit note as HTML (templates/fulfilment/credit_note_pdf.html),
printed to A4 by WeasyPrint in the `reports` queue, stored on the note and mailed to the
customer, exactly as invoices are (orders/invoice_rendering.py, whose helpers this uses).

`render_credit_note_job` is queued by the `refund.created` listener (refund_emails.py)
after the refund commits; it renders once and then sends the refund mail once. Rendering
loads nothing from the network (no base URL, only inline `data:` URIs).

Tax on a credit note: line totals include tax, so each refunded part of a line contains
the line's tax in proportion (tax x part / line total, rounded half-up to the cent), and
refunded shipping the shipping tax in proportion. An amount refunded as a whole (not per
line) is shown as such, without a tax split.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from flask import Response, current_app, render_template

from app.blueprints.fulfilment import credit_notes
from app.blueprints.fulfilment.models import CreditNote, Refund, ReturnRequest
from app.blueprints.fulfilment.refundable import shipping_paid
from app.blueprints.orders import invoice_rendering, invoices
from app.blueprints.orders.order_models import Order, OrderLine
from app.core.formatting import money_filter
from app.core.mail import register_attachment_loader
from app.core.transaction import transaction
from app.extensions import db

log = logging.getLogger(__name__)

PDF_TEMPLATE = "fulfilment/credit_note_pdf.html"
PDF_CONTENT_TYPE = invoice_rendering.PDF_CONTENT_TYPE
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class CreditedPart:
    """One row of the credit note: refunded units of a line, the shipping, or an amount."""

    label: str
    sku: str
    quantity: int | None
    amount: Decimal
    tax_rate: Decimal | None
    tax: Decimal | None


def proportion(part: Decimal, of_whole: Decimal, share_of: Decimal) -> Decimal:
    if not of_whole:
        return ZERO
    return (share_of * part / of_whole).quantize(CENT, rounding=ROUND_HALF_UP)


def credited_parts(refund: Refund, order: Order) -> list[CreditedPart]:
    lines = {line.id: line for line in order.lines}
    parts = []
    for entry in refund.lines or ():
        line: OrderLine | None = lines.get(int(entry["order_line_id"]))
        amount = Decimal(entry["amount"])
        if line is None:  # cannot happen (order lines are never deleted); keep the amount
            parts.append(CreditedPart("Item", "", int(entry["quantity"]), amount, None, None))
            continue
        title = f"{line.name} · {line.title}" if line.title and line.title != "Default" else line.name
        parts.append(
            CreditedPart(
                title,
                line.sku,
                int(entry["quantity"]),
                amount,
                line.tax_rate,
                proportion(amount, line.line_total, line.tax),
            )
        )
    if refund.shipping_amount:
        parts.append(
            CreditedPart(
                f"Shipping: {order.shipping_method_name}",
                "",
                None,
                refund.shipping_amount,
                invoice_rendering.shipping_tax_rate(order),
                proportion(refund.shipping_amount, shipping_paid(order), order.shipping_tax),
            )
        )
    free = refund.amount - sum((part.amount for part in parts), ZERO)
    if free > 0:
        parts.append(CreditedPart("Amount refunded (not tied to items)", "", None, free, None, None))
    return parts


def tax_by_rate(parts: list[CreditedPart]) -> list[dict]:
    totals: dict[Decimal, Decimal] = {}
    for part in parts:
        if part.tax_rate is not None and part.tax:
            totals[part.tax_rate] = totals.get(part.tax_rate, ZERO) + part.tax
    return [
        {"rate": invoice_rendering.percent(rate), "amount": amount} for rate, amount in sorted(totals.items())
    ]


def credit_note_filename(note: CreditNote) -> str:
    return f"credit-note-{note.number}.pdf"


def credit_note_html(note: CreditNote, refund: Refund, order: Order) -> str:
    """The credit note as printable HTML: seller, buyer, the invoice it corrects, what is
    credited (lines, shipping, amount) with the tax they contain, the total."""
    config = current_app.config
    parts = credited_parts(refund, order)
    return_request = db.session.get(ReturnRequest, refund.return_id) if refund.return_id else None
    return render_template(
        PDF_TEMPLATE,
        note=note,
        refund=refund,
        order=order,
        invoice=invoices.invoice_of(order),
        return_request=return_request,
        parts=parts,
        taxes=tax_by_rate(parts),
        tax_total=sum((part.tax or ZERO for part in parts), ZERO),
        seller={
            "legal_name": config["STORE_LEGAL_NAME"],
            "trade_name": config["STORE_NAME"],
            "address": config["STORE_ADDRESS"],
            "vat_number": config["STORE_VAT_NUMBER"],
        },
        billing_lines=invoice_rendering.address_lines(order.billing_address or order.shipping_address),
        money=lambda amount: money_filter(amount, note.currency),
        percent=invoice_rendering.percent,
        store_date=invoice_rendering.store_date,
        css_string=invoice_rendering.css_string,
    )


def render_credit_note_pdf(note: CreditNote, refund: Refund, order: Order) -> bytes:
    """The credit note as an A4 PDF, rendered offline as invoices are."""
    return invoice_rendering.pdf_from_html(credit_note_html(note, refund, order))


def render_credit_note_job(credit_note_id: int) -> None:
    """Job (queue "reports"): render and keep the credit note's PDF, then mail it to the
    customer with the refund mail. Idempotent: the note's row is locked, a rendered note
    is not rendered again, and the mail goes out once per refund (its timeline entry is
    the marker)."""
    from app.blueprints.fulfilment import refund_emails  # it queues this job: a cycle

    with transaction():
        note = db.session.get(CreditNote, credit_note_id, with_for_update=True, populate_existing=True)
        if note is None:
            log.warning("credit note %s does not exist: nothing to render", credit_note_id)
            return
        refund = db.session.get(Refund, note.refund_id)
        order = db.session.get(Order, note.order_id)
        if note.status != "rendered":
            credit_notes.store_rendered_pdf(note, render_credit_note_pdf(note, refund, order))
            log.info("credit note %s rendered", note.number)
        refund_emails.send_refund_mail(order, refund, note)


def download_response(order: Order, number: str) -> Response:
    """The credit note's PDF as a download (404 unknown, 409 credit_note_not_ready)."""
    note = credit_notes.downloadable_credit_note(order, number)
    return invoice_rendering.private_pdf_download(note.pdf, credit_note_filename(note))


def _load_credit_note_attachment(key: str) -> bytes:
    return credit_notes.stored_pdf(int(key))


register_attachment_loader("credit_note", _load_credit_note_attachment)
