"""Credit notes: the document of a refund, one per refund, numbered without gaps per year
in its own series ("CN-2026-000001", prefix `CREDIT_NOTE_PREFIX`).

Numbers come from the invoices' counter table (`invoices.next_sequence`, series
"CN-2026"): the counter row is locked in the transaction that issues the note, so a refund
that rolls back gives its number back and concurrent refunds queue for the next one.

The PDF is rendered once by a job (credit_note_rendering.py) and kept on the note; every
download and the mail attachment hand out those bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import undefer

from app.blueprints.auth.models import User
from app.blueprints.fulfilment.models import CreditNote, Refund, ReturnRequest
from app.blueprints.orders import invoices
from app.blueprints.orders.order_models import Order
from app.core.errors import Conflict, NotFound
from app.core.timeutil import utcnow
from app.extensions import db


def credit_note_series(year: int) -> str:
    return f"{current_app.config.get('CREDIT_NOTE_PREFIX', 'CN')}-{year}"


def issue_credit_note(refund: Refund, order: Order) -> CreditNote:
    """The refund's credit note (a second call returns the first), numbered next in the
    year's series. Its PDF is rendered after the commit (listener of `refund.created`)."""
    existing = credit_note_of_refund(refund.id)
    if existing is not None:
        return existing
    issued = utcnow()
    series = credit_note_series(issued.year)
    sequence = invoices.next_sequence(series)
    note = CreditNote(
        refund_id=refund.id,
        order_id=order.id,
        series=series,
        sequence=sequence,
        number=f"{series}-{sequence:06d}",
        amount=refund.amount,
        currency=refund.currency,
        status="pending",
        issued_at=issued,
    )
    db.session.add(note)
    db.session.flush()
    return note


def credit_note_of_refund(refund_id: int) -> CreditNote | None:
    return db.session.scalar(select(CreditNote).where(CreditNote.refund_id == refund_id))


def credit_notes_of(order: Order) -> list[CreditNote]:
    return list(
        db.session.scalars(select(CreditNote).where(CreditNote.order_id == order.id).order_by(CreditNote.id))
    )


def credit_note_of_order(order: Order, number: str, *, with_pdf: bool = False) -> CreditNote:
    """The order's credit note `number`; another order's is as unknown as a missing one."""
    query = select(CreditNote).where(CreditNote.order_id == order.id, CreditNote.number == number)
    if with_pdf:
        query = query.options(undefer(CreditNote.pdf))
    note = db.session.scalar(query)
    if note is None:
        raise NotFound("This order has no such credit note.", code="credit_note_not_found")
    return note


def downloadable_credit_note(order: Order, number: str) -> CreditNote:
    """The credit note with its PDF; a Conflict `credit_note_not_ready` while the job has
    not rendered it yet."""
    note = credit_note_of_order(order, number, with_pdf=True)
    if note.status != "rendered" or not note.pdf:
        raise Conflict(
            "The credit note is being prepared; try again in a minute.", code="credit_note_not_ready"
        )
    return note


def stored_pdf(credit_note_id: int) -> bytes:
    """The rendered PDF (the mail attachment loader of "credit_note:<id>"). Raises while
    it is not rendered yet, so a mail waiting for it is retried."""
    note = db.session.scalar(
        select(CreditNote).where(CreditNote.id == credit_note_id).options(undefer(CreditNote.pdf))
    )
    if note is None:
        raise NotFound(f"No credit note {credit_note_id}.", code="credit_note_not_found")
    if note.status != "rendered" or not note.pdf:
        raise Conflict(f"Credit note {note.number} is not rendered yet.", code="credit_note_not_ready")
    return note.pdf


def store_rendered_pdf(note: CreditNote, pdf: bytes) -> CreditNote:
    """Keep the PDF: rendered once, never replaced (the document was sent)."""
    if note.status == "rendered":
        return note
    note.pdf = pdf
    note.status = "rendered"
    note.rendered_at = utcnow()
    db.session.flush()
    return note


# ---- refunds with their credit notes (the order page, the API) ------------------------------


@dataclass(frozen=True)
class RefundRecord:
    """A refund with its credit note, who made it and the return it settled."""

    refund: Refund
    credit_note: CreditNote | None
    order_number: str
    created_by: str | None  # the staff member's email
    return_number: str | None

    def __getattr__(self, name):
        # Everything else is the refund's own (what the schema reads).
        if name == "refund":
            raise AttributeError(name)
        return getattr(self.refund, name)


def _pairs(query) -> dict:
    return {key: value for key, value in db.session.execute(query).all()}


def refund_records(order: Order) -> list[RefundRecord]:
    """The order's refunds, oldest first, in four statements whatever their number."""
    refunds = list(db.session.scalars(select(Refund).where(Refund.order_id == order.id).order_by(Refund.id)))
    notes = {note.refund_id: note for note in credit_notes_of(order)}
    user_ids = {refund.created_by_id for refund in refunds if refund.created_by_id}
    emails = _pairs(select(User.id, User.email).where(User.id.in_(user_ids))) if user_ids else {}
    return_ids = {refund.return_id for refund in refunds if refund.return_id}
    numbers = (
        _pairs(select(ReturnRequest.id, ReturnRequest.number).where(ReturnRequest.id.in_(return_ids)))
        if return_ids
        else {}
    )
    return [
        RefundRecord(
            refund=refund,
            credit_note=notes.get(refund.id),
            order_number=order.number,
            created_by=emails.get(refund.created_by_id),
            return_number=numbers.get(refund.return_id),
        )
        for refund in refunds
    ]


def refund_record(refund: Refund) -> RefundRecord:
    order = db.session.get(Order, refund.order_id)
    return next(record for record in refund_records(order) if record.refund.id == refund.id)
