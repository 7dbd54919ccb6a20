"""Logging contacts with customers and keeping track of follow-ups."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from app.blueprints.customers.models import DIRECTIONS, INTERACTION_KINDS, Customer, Interaction
from app.core import audit, events
from app.core.errors import InvalidInput, NotFound
from app.core.timeutil import utcnow
from app.extensions import db

MAX_BODY = 20_000


def log_interaction(
    customer: Customer,
    *,
    kind: str,
    actor,
    direction: str = "outbound",
    subject: str = "",
    body: str = "",
    occurred_at: datetime | None = None,
    duration_minutes: int | None = None,
    outcome: str = "",
    follow_up_on: date | None = None,
    order_id: int | None = None,
    ticket_id: int | None = None,
    opportunity_id: int | None = None,
    external_ref: str | None = None,
    staff=None,
) -> Interaction:
    """Record a call, email, chat, meeting or note. `staff` defaults to the actor (an
    integration posting for a phone system names the agent instead)."""
    problems: dict[str, list[str]] = {}
    if kind not in INTERACTION_KINDS:
        problems["kind"] = [f"Choose one of: {', '.join(INTERACTION_KINDS)}."]
    if direction not in DIRECTIONS:
        problems["direction"] = [f"Choose one of: {', '.join(DIRECTIONS)}."]
    if not subject.strip() and not body.strip():
        problems["subject"] = ["Give a subject or write what happened."]
    if len(body) > MAX_BODY:
        problems["body"] = [f"At most {MAX_BODY} characters."]
    if duration_minutes is not None and not 0 <= duration_minutes <= 24 * 60:
        problems["duration_minutes"] = ["Between 0 and 1440 minutes."]
    when = occurred_at or utcnow()
    if when > utcnow():
        problems["occurred_at"] = ["An interaction cannot be in the future; use a follow-up date."]
    # Dates are the viewer's, times are UTC: a day of slack keeps "today" valid in every zone.
    if follow_up_on is not None and follow_up_on < (when - timedelta(days=1)).date():
        problems["follow_up_on"] = ["A follow-up comes after the interaction."]
    if problems:
        raise InvalidInput("Some fields are not valid.", errors=problems)
    staff = staff if staff is not None else (actor if getattr(actor, "is_staff", False) else None)
    interaction = Interaction(
        customer_id=customer.id,
        kind=kind,
        direction=direction,
        subject=subject.strip()[:200],
        body=body.strip(),
        occurred_at=when,
        duration_minutes=duration_minutes,
        staff_id=getattr(staff, "id", None),
        outcome=outcome.strip()[:200],
        follow_up_on=follow_up_on,
        order_id=order_id,
        ticket_id=ticket_id,
        opportunity_id=opportunity_id,
        external_ref=external_ref,
    )
    db.session.add(interaction)
    db.session.flush()
    audit.record(
        "interaction.logged", actor=actor, target=customer, summary=f"{kind}: {interaction.subject[:80]}"
    )
    events.emit("interaction.logged", customer_id=customer.id, interaction_id=interaction.id)
    return interaction


def complete_follow_up(interaction_id: int, *, actor) -> Interaction:
    interaction = db.session.get(Interaction, interaction_id)
    if interaction is None or interaction.follow_up_on is None:
        raise NotFound("No such follow-up.")
    if interaction.follow_up_done_at is None:
        interaction.follow_up_done_at = utcnow()
        audit.record("interaction.follow_up_done", actor=actor, target=interaction, summary="Follow-up done")
    return interaction


def follow_ups_due(staff, *, until: date, limit: int = 50) -> list[Interaction]:
    """Open follow-ups of a staff member due on or before `until`, oldest first."""
    query = (
        select(Interaction)
        .where(
            Interaction.staff_id == staff.id,
            Interaction.follow_up_on.is_not(None),
            Interaction.follow_up_on <= until,
            Interaction.follow_up_done_at.is_(None),
        )
        .order_by(Interaction.follow_up_on, Interaction.id)
        .limit(limit)
    )
    return list(db.session.scalars(query))
