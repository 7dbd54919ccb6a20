"""Invoice PDFs: the invoice page as HTML (templates/orders/invoice_pdf.html), printed to
A4 by WeasyPrint in the `reports` queue, stored on the invoice and mailed to the customer.

The PDF is made once (`render_invoice_job`, started by the `order.paid` listener in
emails.py) and never re-rendered: downloads and the mail attachment all hand out the
stored bytes, so every copy of invoice INV-2026-000042 is the same document.

Rendering loads nothing from the network: no base URL, a URL fetcher that allows only
inline `data:` URIs, and system fonts (DejaVu) by name. WeasyPrint is imported inside
`render_invoice_pdf`, so the web app starts on hosts without pango.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_percent
from flask import Response, current_app, render_template
from markupsafe import Markup

from app.blueprints.orders import invoices
from app.blueprints.orders.invoice_models import Invoice
from app.blueprints.orders.order_models import Order
from app.core.formatting import money_filter
from app.core.mail import register_attachment_loader
from app.core.transaction import transaction
from app.extensions import db

log = logging.getLogger(__name__)

PDF_TEMPLATE = "orders/invoice_pdf.html"
PDF_CONTENT_TYPE = "application/pdf"
# Inline images (a logo as a data: URI) are fine; anything to fetch is refused.
ALLOWED_URL_SCHEMES = ("data",)
# Font subsetting logs every table of every font at INFO: dozens of lines per invoice.
CHATTY_LOGGERS = ("fontTools", "weasyprint.progress")


# ---- formatting shared by the PDF and the order mails ----------------------------------


def store_locale() -> str:
    return current_app.config["DEFAULT_LOCALE"]


def store_date(value: datetime | None) -> str:
    """A date as the store prints it on documents (its time zone, not a viewer's)."""
    if value is None:
        return ""
    zone = ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])
    return format_date(value.astimezone(zone), format="long", locale=store_locale())


def percent(rate: Decimal | str | None) -> str:
    """0.21 -> "21%", 0.055 -> "5.5%"."""
    return format_percent(Decimal(str(rate or 0)), format="#,##0.##%", locale=store_locale())


def country_name(code: str) -> str:
    return Locale.parse(store_locale()).territories.get((code or "").upper(), code or "")


def address_lines(address: dict | None) -> list[str]:
    """An order's address (as checkout keeps it) as the lines printed on an envelope."""
    address = address or {}
    town = " ".join(part for part in (address.get("postal_code"), address.get("city")) if part)
    lines = [
        address.get("recipient"),
        address.get("line1"),
        address.get("line2"),
        town,
        address.get("region"),
        country_name(address.get("country", "")),
    ]
    return [line for line in lines if line]


def css_string(value: str) -> Markup:
    """`value` for the inside of a double-quoted CSS string in a <style> element, where
    HTML escapes are not decoded (so autoescaping would print "&amp;")."""
    escaped = "".join(
        f"\\{ord(char):X} " if char in '"\\<>&\n\r' or ord(char) < 0x20 else char for char in str(value)
    )
    return Markup(escaped)  # noqa: S704  (every character that could end the string or the element is escaped)


def shipping_tax_rate(order: Order) -> Decimal | None:
    """The rate shipping was taxed at (the order keeps only the amount): the breakdown's
    rate closest to what the amount implies."""
    if not order.shipping_tax or not order.shipping_total:
        return None
    net = order.shipping_total - order.shipping_tax if order.prices_include_tax else order.shipping_total
    if net <= 0:
        return None
    implied = order.shipping_tax / net
    rates = [Decimal(str(entry["rate"])) for entry in order.tax_breakdown or []]
    return min(rates, key=lambda rate: abs(rate - implied)) if rates else implied


def invoice_filename(order: Order) -> str:
    return f"invoice-{order.number}.pdf"


# ---- the document -------------------------------------------------------------------------


def invoice_html(invoice: Invoice, order: Order) -> str:
    """The invoice as printable HTML: seller, buyer, lines, shipping, tax per rate, totals."""
    config = current_app.config
    return render_template(
        PDF_TEMPLATE,
        invoice=invoice,
        order=order,
        lines=order.lines,
        seller={
            "legal_name": config["STORE_LEGAL_NAME"],
            "trade_name": config["STORE_NAME"],
            "address": config["STORE_ADDRESS"],
            "vat_number": config["STORE_VAT_NUMBER"],
        },
        billing_lines=address_lines(order.billing_address or order.shipping_address),
        shipping_lines=address_lines(order.shipping_address),
        tax_breakdown=[
            {
                "label": entry.get("name") or percent(entry["rate"]),
                "rate": percent(entry["rate"]),
                "amount": Decimal(str(entry["amount"])),
            }
            for entry in order.tax_breakdown or []
        ],
        shipping_rate=shipping_tax_rate(order),
        net_total=order.total - order.tax_total,
        money=lambda amount: money_filter(amount, order.currency),
        percent=percent,
        store_date=store_date,
        css_string=css_string,
    )


def pdf_from_html(html: str) -> bytes:
    """An A4 PDF (bytes starting with %PDF) of a document page, rendered offline: every URL
    it names is refused, so a document can never reach out to the network."""
    # Imported here: WeasyPrint needs pango, which only the hosts that render have to carry.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    for name in CHATTY_LOGGERS:
        if logging.getLogger(name).level < logging.WARNING:
            logging.getLogger(name).setLevel(logging.WARNING)
    fetcher = URLFetcher(allowed_protocols=ALLOWED_URL_SCHEMES, timeout=1)
    return HTML(string=html, base_url=None, url_fetcher=fetcher).write_pdf()


def render_invoice_pdf(invoice: Invoice, order: Order) -> bytes:
    """The invoice as an A4 PDF."""
    return pdf_from_html(invoice_html(invoice, order))


def render_invoice_job(invoice_id: int) -> None:
    """Job (queue "reports"): render and keep the invoice's PDF, then mail it to the
    customer with the "payment received" mail. Idempotent: the invoice row is locked, a
    rendered invoice is not rendered again, and the mail goes out once (its timeline
    entry is the marker), so a retry or a second run does nothing new."""
    from app.blueprints.orders import emails  # emails enqueues this job: a cycle

    with transaction():
        invoice = db.session.get(Invoice, invoice_id, with_for_update=True, populate_existing=True)
        if invoice is None:
            log.warning("invoice %s does not exist: nothing to render", invoice_id)
            return
        order = db.session.get(Order, invoice.order_id)
        if invoice.status != "rendered":
            invoices.store_rendered_pdf(invoice, render_invoice_pdf(invoice, order))
            log.info("invoice %s rendered", invoice.number)
        emails.send_payment_received(order, invoice)


def private_pdf_download(pdf: bytes, filename: str) -> Response:
    """A stored document as a download. It names a person and an address: no shared cache
    may keep it."""
    return Response(
        pdf,
        mimetype=PDF_CONTENT_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


def download_response(order: Order) -> Response:
    """The order's invoice PDF as a download (404 unpaid, 409 invoice_not_ready)."""
    invoice = invoices.downloadable_invoice(order)
    return private_pdf_download(invoice.pdf, invoice_filename(order))


def _load_invoice_attachment(key: str) -> bytes:
    return invoices.stored_pdf(int(key))


register_attachment_loader("invoice", _load_invoice_attachment)
