"""The audit log: every state change a person makes is recorded inside its use case."""

from __future__ import annotations

from flask import g, has_request_context, request

from app.core.models import AuditEntry
from app.extensions import db


def actor_label(actor) -> str:
    if actor is None:
        return "system"
    return getattr(actor, "email", None) or str(actor)


def record(action: str, *, actor, target=None, summary: str = "", **data) -> AuditEntry:
    """Add an audit entry to the current transaction; it commits or rolls back with it."""
    entry = AuditEntry(
        actor_id=getattr(actor, "id", None),
        actor_label=actor_label(actor),
        action=action,
        target_type=type(target).__name__ if target is not None else data.pop("target_type", None),
        target_id=str(getattr(target, "id", "")) if target is not None else data.pop("target_id", None),
        summary=summary[:500],
        data=data,
    )
    if has_request_context():
        entry.ip_address = request.remote_addr
        entry.request_id = g.get("request_id")
    db.session.add(entry)
    return entry
