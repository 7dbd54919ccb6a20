"""The refund mail: after a refund commits (`refund.created`), its credit note PDF is
rendered by a job on the `reports` queue, which then mails the customer "your refund"
with the credit note attached (by reference: the mail job loads the stored PDF).

Once per refund: sending writes an `email` entry on the order's timeline
({"template", "to", "refund_id"}) in the same transaction, and a second run of the job
finds it and sends nothing. The job holds the credit note's row lock while it checks.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from app.blueprints.fulfilment import credit_note_rendering
from app.blueprints.fulfilment.models import CreditNote, Refund
from app.blueprints.orders import emails, gateways, lifecycle
from app.blueprints.orders.order_models import Order, OrderEvent
from app.core.errors import InvalidInput
from app.core.events import Event, subscribe
from app.core.jobs import enqueue
from app.core.mail import send_mail
from app.extensions import db

log = logging.getLogger(__name__)

REFUND_ISSUED = "fulfilment/refund_issued"


def refund_was_mailed(order: Order, refund: Refund) -> bool:
    entries = db.session.scalars(
        select(OrderEvent.data).where(OrderEvent.order_id == order.id, OrderEvent.kind == "email")
    )
    return any(
        entry and entry.get("template") == REFUND_ISSUED and entry.get("refund_id") == refund.id
        for entry in entries
    )


def payment_method_label(order: Order) -> str:
    try:
        return gateways.get_gateway(order.payment_method).label
    except InvalidInput:
        return order.payment_method


def send_refund_mail(order: Order, refund: Refund, note: CreditNote) -> bool:
    """Mail the customer the refund with its credit note attached, once (False: it was
    mailed before). Call in a transaction, once the PDF is rendered."""
    if refund_was_mailed(order, refund):
        return False
    subject = f"Your refund for order {order.number}"
    send_mail(
        order.email,
        subject,
        REFUND_ISSUED,
        attachments=[
            {
                "filename": credit_note_rendering.credit_note_filename(note),
                "content_type": credit_note_rendering.PDF_CONTENT_TYPE,
                "ref": f"credit_note:{note.id}",
            }
        ],
        **emails.mail_context(order),
        refund=refund,
        credit_note=note,
        parts=credit_note_rendering.credited_parts(refund, order),
        payment_method=payment_method_label(order),
    )
    lifecycle.record_event(
        order, "email", note=subject, template=REFUND_ISSUED, to=order.email, refund_id=refund.id
    )
    return True


@subscribe("refund.created")
def render_and_mail_credit_note(event: Event) -> None:
    enqueue(credit_note_rendering.render_credit_note_job, event.payload["credit_note_id"], queue="reports")
