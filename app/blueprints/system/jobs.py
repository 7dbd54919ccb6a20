"""Periodic housekeeping jobs of the system domain (registered in app/periodic.py)."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete

from app.core.jobs import redis_connection
from app.core.models import OutboxMessage
from app.core.timeutil import utcnow
from app.core.transaction import transaction
from app.extensions import db

log = logging.getLogger(__name__)
HEARTBEAT_KEY = "crm:scheduler:heartbeat"


def prune_outbox(days: int = 30) -> int:
    """Delete outbox mail older than `days`. Idempotent."""
    cutoff = utcnow() - timedelta(days=days)
    with transaction():
        deleted = db.session.execute(delete(OutboxMessage).where(OutboxMessage.created_at < cutoff)).rowcount
    log.info("pruned %s outbox messages older than %s days", deleted, days)
    return deleted


def record_scheduler_heartbeat() -> None:
    """Proves end to end that the scheduler enqueues and a worker runs what it enqueues."""
    redis_connection().set(HEARTBEAT_KEY, utcnow().isoformat(), ex=3600)
