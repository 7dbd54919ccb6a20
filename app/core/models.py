"""Tables of cross-cutting concerns that every domain writes to: audit and outbound mail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db


class AuditEntry(db.Model):
    """One state change made by a person (or an integration acting for one)."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_target", "target_type", "target_id"),
        Index("ix_audit_entries_occurred_at", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    actor_label: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(100), index=True)
    target_type: Mapped[str | None] = mapped_column(String(50))
    target_id: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(String(500), default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    request_id: Mapped[str | None] = mapped_column(String(64))


class OutboxMessage(db.Model):
    """A mail kept in the database by the `database` mail backend (development, tests)."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    sender: Mapped[str] = mapped_column(String(255))
    recipients: Mapped[str] = mapped_column(String(2000))
    subject: Mapped[str] = mapped_column(String(500))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    # What was attached: [{"filename", "content_type", "size"}] (the bytes are not kept).
    attachments: Mapped[list] = mapped_column(JSON, default=list, server_default=text("'[]'"))


class IdempotencyRecord(db.Model):
    """A request made with an `Idempotency-Key` (app/core/idempotency.py): claimed before
    the work starts, completed with the response in the work's own transaction."""

    __tablename__ = "idempotency_records"
    __table_args__ = (
        UniqueConstraint("scope", "key", name="uq_idempotency_records_scope_key"),
        Index("ix_idempotency_records_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Who and what the key is for ("checkout:<cart>", "admin-orders:user:7"): keys of
    # different callers never meet.
    scope: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="running")  # running, completed
    resource: Mapped[str | None] = mapped_column(String(100))  # e.g. "order:1042", set with the work
    response_status: Mapped[int | None] = mapped_column()
    # The first response, encrypted: it may carry secrets (a payment client secret).
    response_body: Mapped[str | None] = mapped_column(Text)
    response_headers: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
