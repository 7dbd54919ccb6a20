"""The mails a customer gets about an order, sent by listeners of the order's events.

- `order.placed`: the order confirmation (items, totals, shipping address, payment
  instructions for manual payments, the tracking link: the storefront's page when
  STOREFRONT_TRACKING_URL is set, else our public tracking page);
- `order.paid`: queues `render_invoice_job` (invoice_rendering.py), which renders the
  invoice PDF and then sends "payment received" with the invoice attached;
- `order.cancelled`: the cancellation, saying what was refunded or released.

Listeners only queue jobs (on the `email` and `reports` queues): a checkout does not wait
for a mail to be rendered. Each mail goes out once per order: sending writes an `email`
entry on the order's timeline ({"template", "to"}) in the same transaction, staff see it
there, and a second delivery of the event (or a retried job) finds it and sends nothing.
Jobs lock the order row while they check, so two at once cannot both send.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from flask import current_app
from sqlalchemy import select

from app.blueprints.orders import checkout, invoice_rendering, invoices, lifecycle, payments
from app.blueprints.orders.invoice_models import Invoice
from app.blueprints.orders.order_models import Order, OrderEvent
from app.core.events import Event, subscribe
from app.core.formatting import money_filter
from app.core.jobs import enqueue
from app.core.links import external_url
from app.core.mail import send_mail
from app.core.transaction import transaction
from app.extensions import db

log = logging.getLogger(__name__)

CONFIRMATION = "order_confirmation"
PAYMENT_RECEIVED = "order_payment_received"
CANCELLED = "order_cancelled"


def mailed_templates(order: Order) -> set[str]:
    """The mail templates this order's customer was already sent (from the timeline)."""
    data = db.session.scalars(
        select(OrderEvent.data).where(OrderEvent.order_id == order.id, OrderEvent.kind == "email")
    )
    return {entry.get("template") for entry in data if entry}


def mail_customer(order: Order, template: str, subject: str, *, attachments=None, **context) -> bool:
    """Send `template` to the order's email once (False: it was sent before). Call in a
    transaction: the mail is queued after its commit, with its timeline entry."""
    if template in mailed_templates(order):
        return False
    send_mail(
        order.email,
        subject,
        template,
        attachments=attachments,
        **mail_context(order),
        **context,
    )
    lifecycle.record_event(order, "email", note=subject, template=template, to=order.email)
    return True


def mail_context(order: Order) -> dict:
    return {
        "order": order,
        "lines": order.lines,
        "money": lambda amount: money_filter(amount, order.currency),
        "percent": invoice_rendering.percent,
        "store_date": invoice_rendering.store_date,
        "shipping_lines": invoice_rendering.address_lines(order.shipping_address),
        "tracking_url": tracking_url(order),
    }


TRACKING_PAGE = "fulfilment.tracking_page"


def tracking_url(order: Order) -> str | None:
    """Where the customer follows the order: the storefront's tracking page when the store
    has one (STOREFRONT_TRACKING_URL, a format string with {number} and {token}), else our
    own public tracking page (when the fulfilment domain serves it; this module must not
    import it), an absolute link from BASE_URL; None when there is neither."""
    token = checkout.tracking_token(order)
    pattern = current_app.config.get("STOREFRONT_TRACKING_URL")
    if pattern:
        return pattern.format(number=order.number, token=token)
    if TRACKING_PAGE in current_app.view_functions:
        return external_url(TRACKING_PAGE, number=order.number, token=token)
    return None


def manual_payment_instructions(order: Order) -> str:
    if order.payment_method != "manual" or order.payment_status == "paid":
        return ""
    instructions = current_app.config.get("MANUAL_PAYMENT_INSTRUCTIONS") or ""
    return instructions.format(order_number=order.number)


def _locked_order(order_id: int) -> Order | None:
    return db.session.get(Order, order_id, with_for_update=True, populate_existing=True)


# ---- the mails -----------------------------------------------------------------------------


def send_order_confirmation(order: Order) -> bool:
    return mail_customer(
        order,
        CONFIRMATION,
        f"Your order {order.number} is confirmed",
        payment_instructions=manual_payment_instructions(order),
    )


def send_payment_received(order: Order, invoice: Invoice) -> bool:
    """ "Payment received" with the rendered invoice attached (by reference: the mail job
    loads the PDF when it delivers)."""
    return mail_customer(
        order,
        PAYMENT_RECEIVED,
        f"Payment received for order {order.number}",
        attachments=[
            {
                "filename": invoice_rendering.invoice_filename(order),
                "content_type": invoice_rendering.PDF_CONTENT_TYPE,
                "ref": f"invoice:{invoice.id}",
            }
        ],
        invoice=invoice,
    )


def cancellation_summary(order: Order) -> dict:
    """What happened to the customer's money when the order was cancelled."""
    order_payments = payments.payments_of(order)
    manual_refund = any(p.gateway == "manual" and p.amount_refunded > 0 for p in order_payments)
    return {
        "refunded": order.amount_refunded if order.amount_refunded > 0 else Decimal("0.00"),
        # Manual payments are paid back by hand (a bank transfer), card payments by the gateway.
        "refund_by_transfer": manual_refund,
        "authorization_released": any(
            p.gateway != "manual" and p.status == "voided" and p.amount_captured == 0 for p in order_payments
        ),
        "nothing_was_paid": order.amount_paid == 0,
    }


def send_cancellation(order: Order) -> bool:
    # The staff's reason is an internal note (it may say "suspected fraud"): not mailed.
    return mail_customer(
        order, CANCELLED, f"Your order {order.number} has been cancelled", **cancellation_summary(order)
    )


# ---- jobs and listeners -------------------------------------------------------------------
# Rendering a mail costs more than the rest of a checkout's Python: listeners only queue a
# job, the worker renders and sends.


def order_confirmation_job(order_id: int) -> None:
    """Job: the order confirmation, once."""
    with transaction():
        order = _locked_order(order_id)
        if order is not None:
            send_order_confirmation(order)


def cancellation_job(order_id: int) -> None:
    """Job: the cancellation mail, once."""
    with transaction():
        order = _locked_order(order_id)
        if order is not None:
            send_cancellation(order)


@subscribe("order.placed")
def confirm_order(event: Event) -> None:
    enqueue(order_confirmation_job, event.payload["order_id"], queue="email")


@subscribe("order.paid")
def render_and_mail_invoice(event: Event) -> None:
    with transaction():
        order = db.session.get(Order, event.payload["order_id"])
        invoice = invoices.invoice_of(order) if order is not None else None
        if invoice is None:
            log.warning("order %s is paid but has no invoice", event.payload["order_id"])
            return
        enqueue(invoice_rendering.render_invoice_job, invoice.id, queue="reports")


@subscribe("order.cancelled")
def mail_cancellation(event: Event) -> None:
    enqueue(cancellation_job, event.payload["order_id"], queue="email")
