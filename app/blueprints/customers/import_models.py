"""Customer imports from CSV: one ImportRun per file, its progress and its row report."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.blueprints.auth.models import User
from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db

MAX_ROW_ERRORS = 1000  # the report keeps the first ones; rows_failed counts them all


class ImportRun(db.Model):
    """One CSV file being (or having been) imported.

    The counters and the error report are committed together with each batch of rows,
    so they always describe exactly what is in the database: an interrupted run resumes
    after `rows_done`."""

    __tablename__ = "customer_import_runs"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status_known"),
        CheckConstraint("source IN ('upload', 'cli')", name="source_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16), default="upload")
    filename: Mapped[str] = mapped_column(String(255))  # as the person named it; shown, never opened
    # Where the file is read from: an upload stored under the import folder (deleted once
    # the run ends), or the operator's own file for a CLI run (left alone).
    stored_path: Mapped[str] = mapped_column(String(1000))
    consent_wording: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    failure_reason: Mapped[str | None] = mapped_column(Text)
    rows_total: Mapped[int | None] = mapped_column()
    rows_done: Mapped[int] = mapped_column(default=0)
    rows_created: Mapped[int] = mapped_column(default=0)
    rows_updated: Mapped[int] = mapped_column(default=0)
    rows_failed: Mapped[int] = mapped_column(default=0)
    # [{"row": 7, "email": "…", "errors": {"country": ["…"]}}, …], the first MAX_ROW_ERRORS.
    row_errors: Mapped[list] = mapped_column(JSON, default=list)

    created_by: Mapped[User | None] = relationship(lazy="joined")

    @property
    def rows_unchanged(self) -> int:
        return self.rows_done - self.rows_created - self.rows_updated - self.rows_failed

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        if not self.rows_total:
            return 0
        return min(100, self.rows_done * 100 // self.rows_total)
