"""Consent per purpose as a ledger of grants and withdrawals (GDPR art. 7): who, when,
from where, under which wording. The current state is the latest event of a purpose."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import has_request_context, request
from sqlalchemy import func, select

from app.blueprints.customers.models import CONSENT_PURPOSES, ConsentEvent, Customer
from app.core import audit, events
from app.core.errors import InvalidInput
from app.extensions import db

SOURCES = ("storefront", "portal", "api", "import")


@dataclass(frozen=True)
class ConsentState:
    purpose: str
    granted: bool
    since: datetime | None
    source: str | None
    wording_version: str | None


def record(
    customer: Customer,
    purpose: str,
    *,
    granted: bool,
    source: str,
    wording_version: str,
    actor,
    ip: str | None = None,
) -> ConsentEvent:
    if purpose not in CONSENT_PURPOSES:
        raise InvalidInput(
            "Unknown consent purpose.", errors={"purpose": [f"Choose one of: {', '.join(CONSENT_PURPOSES)}."]}
        )
    if source not in SOURCES:
        raise InvalidInput(
            "Unknown consent source.", errors={"source": [f"Choose one of: {', '.join(SOURCES)}."]}
        )
    if not wording_version or len(wording_version) > 32:
        raise InvalidInput(
            "Say which wording the person agreed to.",
            errors={"wording_version": ["Required, at most 32 characters."]},
        )
    if ip is None and has_request_context():
        ip = request.remote_addr
    event = ConsentEvent(
        customer_id=customer.id,
        purpose=purpose,
        granted=granted,
        source=source,
        wording_version=wording_version,
        recorded_by_id=actor.id if getattr(actor, "is_staff", False) else None,
        ip_address=ip,
    )
    db.session.add(event)
    db.session.flush()
    verb = "granted" if granted else "withdrew"
    audit.record(
        f"customer.consent_{'granted' if granted else 'withdrawn'}",
        actor=actor,
        target=customer,
        summary=f"{purpose} {verb} ({source}, wording {wording_version})",
    )
    events.emit("customer.consent_changed", customer_id=customer.id, purpose=purpose, granted=granted)
    return event


def current(customer: Customer) -> dict[str, ConsentState]:
    """The state of every purpose now; a purpose never asked about is not granted."""
    latest = (
        select(ConsentEvent.purpose, func.max(ConsentEvent.id).label("last_id"))
        .where(ConsentEvent.customer_id == customer.id)
        .group_by(ConsentEvent.purpose)
        .subquery()
    )
    rows = db.session.scalars(select(ConsentEvent).join(latest, ConsentEvent.id == latest.c.last_id))
    found = {
        e.purpose: ConsentState(e.purpose, e.granted, e.occurred_at, e.source, e.wording_version)
        for e in rows
    }
    return {p: found.get(p, ConsentState(p, False, None, None, None)) for p in CONSENT_PURPOSES}


def history(customer: Customer) -> list[ConsentEvent]:
    query = (
        select(ConsentEvent).where(ConsentEvent.customer_id == customer.id).order_by(ConsentEvent.id.desc())
    )
    return list(db.session.scalars(query))
