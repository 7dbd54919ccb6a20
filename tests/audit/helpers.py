"""Audit entries at chosen times, written through the real helper."""

from datetime import UTC, datetime

from app.core import audit
from app.extensions import db


def add_entry(action, *, actor=None, at=None, target_type=None, target_id=None, summary="", **data):
    entry = audit.record(
        action, actor=actor, summary=summary, target_type=target_type, target_id=target_id, **data
    )
    entry.occurred_at = at or datetime.now(UTC)
    db.session.flush()
    return entry
