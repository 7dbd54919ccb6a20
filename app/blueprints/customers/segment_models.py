"""Saved customer segments: dynamic ones hold rules, static ones a hand-picked member list."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.blueprints.auth.models import User
from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db

SEGMENT_KINDS = ("dynamic", "static")


class Segment(db.Model):
    __tablename__ = "segments"
    __table_args__ = (CheckConstraint("kind IN ('dynamic', 'static')", name="kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16), default="dynamic")
    # The validated rule tree of a dynamic segment (see segment_rules); None for static ones.
    rules: Mapped[dict | None] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    created_by: Mapped[User | None] = relationship(lazy="joined")

    @property
    def is_static(self) -> bool:
        return self.kind == "static"


class SegmentMember(db.Model):
    """A customer picked by hand into a static segment."""

    __tablename__ = "segment_members"
    __table_args__ = (
        UniqueConstraint("segment_id", "customer_id"),
        Index("ix_segment_members_customer_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
