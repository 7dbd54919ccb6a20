"""The customer's mails about a return, one per step, sent to the order's email:

- requested: we have your request, what happens next;
- approved: how to send the goods back (to RETURN_ADDRESS, or the store's legal name and
  address), with the return number on the parcel;
- rejected: with the reason staff gave;
- received: the goods arrived and were checked;
- refunded: the amount refunded for the return (the refund's own mail brings the credit note);
- closed: finished without a refund.

`return.changed` only queues a job (`email` queue). Each mail goes out once per return
and status: sending writes an `email` entry on the order's timeline ({"template", "to",
"return"}) in the same transaction, and a second delivery of the event (or a retried job)
finds it and sends nothing. Jobs lock the order row while they check, so two at once
cannot both send. A staff member's internal notes (approval, closing) are never mailed.
"""

from __future__ import annotations

from decimal import Decimal

from flask import current_app
from sqlalchemy import select

from app.blueprints.fulfilment import return_queries, returns
from app.blueprints.fulfilment.models import ReturnRequest
from app.blueprints.orders import emails, lifecycle
from app.blueprints.orders.order_models import Order, OrderEvent
from app.core.events import Event, subscribe
from app.core.jobs import enqueue
from app.core.mail import send_mail
from app.core.transaction import transaction
from app.extensions import db

# status -> (template under mail/, subject with {number})
MAILS = {
    "requested": ("fulfilment/return_requested", "We have your return request {number}"),
    "approved": ("fulfilment/return_approved", "Your return {number} is approved: how to send it back"),
    "rejected": ("fulfilment/return_rejected", "About your return request {number}"),
    "received": ("fulfilment/return_received", "We received your return {number}"),
    "refunded": ("fulfilment/return_refunded", "Your return {number} is refunded"),
    "closed": ("fulfilment/return_closed", "Your return {number} is closed"),
}


def return_was_mailed(order: Order, ret: ReturnRequest, template: str) -> bool:
    entries = db.session.scalars(
        select(OrderEvent.data).where(OrderEvent.order_id == order.id, OrderEvent.kind == "email")
    )
    return any(
        entry and entry.get("template") == template and entry.get("return") == ret.number for entry in entries
    )


def return_address() -> list[str]:
    """Where returned goods go: RETURN_ADDRESS when the operator set one (lines separated
    by commas or newlines), else the store's legal name and address."""
    config = current_app.config
    raw = config.get("RETURN_ADDRESS") or f"{config['STORE_LEGAL_NAME']}\n{config['STORE_ADDRESS']}"
    return [part.strip() for line in raw.splitlines() for part in line.split(",") if part.strip()]


def mail_context(order: Order, ret: ReturnRequest) -> dict:
    details = return_queries.details_of(ret)
    return {
        **emails.mail_context(order),
        "ret": ret,
        "items": details.lines,
        "reason_label": returns.REASON_LABELS.get(ret.reason, ret.reason),
        "window_days": returns.window_days(),
        "return_address": return_address(),
        "refunded": details.refunded_amount if details.refunded_amount > 0 else Decimal("0.00"),
        "never_received": ret.received_at is None,
    }


def send_return_mail(order: Order, ret: ReturnRequest, status: str) -> bool:
    """Mail the customer the step `status` of the return, once (False: it was mailed
    before, or the step has no mail). Call in a transaction."""
    if status not in MAILS:
        return False
    template, subject = MAILS[status]
    if return_was_mailed(order, ret, template):
        return False
    subject = subject.format(number=ret.number)
    send_mail(order.email, subject, template, **mail_context(order, ret))
    lifecycle.record_event(
        order, "email", note=subject, template=template, to=order.email, **{"return": ret.number}
    )
    return True


def return_mail_job(return_id: int, status: str) -> None:
    """Job: the mail of one step of a return, once."""
    with transaction():
        order_id = db.session.scalar(select(ReturnRequest.order_id).where(ReturnRequest.id == return_id))
        if order_id is None:
            return
        order = db.session.get(Order, order_id, with_for_update=True, populate_existing=True)
        ret = db.session.get(ReturnRequest, return_id, populate_existing=True)
        send_return_mail(order, ret, status)


@subscribe("return.changed")
def mail_return_step(event: Event) -> None:
    enqueue(return_mail_job, event.payload["return_id"], event.payload["status"], queue="email")
