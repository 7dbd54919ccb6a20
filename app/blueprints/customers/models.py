"""Customer profiles, their phones, addresses, tags, consent ledger and interactions."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.blueprints.auth.models import User
from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db

STATUSES = ("lead", "active", "inactive", "blocked")
CONTACT_CHANNELS = ("email", "phone", "sms", "post", "none")
CONSENT_PURPOSES = ("marketing_email", "marketing_sms", "profiling")
INTERACTION_KINDS = ("email", "chat", "phone", "meeting", "note")
DIRECTIONS = ("inbound", "outbound", "internal")
PHONE_KINDS = ("mobile", "home", "work", "other")


def display_name(first_name: str, last_name: str, email: str) -> str:
    """How a customer is named on screen: the full name, or the email when there is none."""
    return f"{first_name} {last_name}".strip() or email


class Customer(db.Model):
    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_last_first", "last_name", "first_name"),
        Index("ix_customers_country_city", "country", "city"),
        # The search fallback (search.contains_clause: "contains", any case) on PostgreSQL: trigram
        # GIN indexes on exactly the expressions it compares, without a pending list (PostgreSQL
        # only; created by migration 9c1e5a7b3d20, written so autogenerate compares them equal).
        Index(
            "ix_customers_search_first_last",
            db.literal_column("lower((first_name || ' ') || last_name)").label("first_last"),
            postgresql_using="gin",
            postgresql_ops={"first_last": "gin_trgm_ops"},
            postgresql_with={"fastupdate": "off"},
        ),
        Index(
            "ix_customers_search_last_first",
            db.literal_column("lower((last_name || ' ') || first_name)").label("last_first"),
            postgresql_using="gin",
            postgresql_ops={"last_first": "gin_trgm_ops"},
            postgresql_with={"fastupdate": "off"},
        ),
        Index(
            "ix_customers_search_email",
            db.literal_column("CAST(email AS TEXT)").label("email_text"),
            postgresql_using="gin",
            postgresql_ops={"email_text": "gin_trgm_ops"},
            postgresql_with={"fastupdate": "off"},
        ),
        Index(
            "ix_customers_search_company",
            db.literal_column("lower(company)").label("company_lower"),
            postgresql_using="gin",
            postgresql_ops={"company_lower": "gin_trgm_ops"},
            postgresql_with={"fastupdate": "off"},
        ),
        CheckConstraint("status IN ('lead', 'active', 'inactive', 'blocked')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-cased
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    company: Mapped[str | None] = mapped_column(String(200))
    vat_number: Mapped[str | None] = mapped_column(String(32))
    date_of_birth: Mapped[date | None] = mapped_column(Date, index=True)
    gender: Mapped[str | None] = mapped_column(String(40))  # self-described, free text
    country: Mapped[str | None] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    region: Mapped[str | None] = mapped_column(String(100))
    city: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str | None] = mapped_column(String(35), index=True)  # BCP 47, e.g. "en", "nl-BE"
    timezone: Mapped[str | None] = mapped_column(String(64))
    acquisition_source: Mapped[str | None] = mapped_column(String(100), index=True)
    acquisition_channel: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="lead", index=True)
    preferred_channel: Mapped[str] = mapped_column(String(16), default="email")
    preferred_categories: Mapped[list] = mapped_column(JSON, default=list)
    preferred_brands: Mapped[list] = mapped_column(JSON, default=list)
    # Storefront sign-in; None for customers who never registered (leads, imports).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Storefront brute-force protection, as for staff: consecutive failures and the lock.
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Set when this record was merged into another; merged records are kept for history.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)

    # Purchase figures, kept current from order events (never recomputed for everyone).
    order_count: Mapped[int] = mapped_column(default=0, index=True)
    total_spent: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"), index=True)
    average_order_value: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    first_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    rfm_recency: Mapped[int | None] = mapped_column()  # 1 (long ago) .. 5 (recent)
    rfm_frequency: Mapped[int | None] = mapped_column()
    rfm_monetary: Mapped[int | None] = mapped_column()
    lifetime_value: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    predicted_lifetime_value: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))

    phones: Mapped[list[CustomerPhone]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="CustomerPhone.id"
    )
    addresses: Mapped[list[CustomerAddress]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="CustomerAddress.id"
    )
    tags: Mapped[list[CustomerTag]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="CustomerTag.tag"
    )

    @property
    def name(self) -> str:
        return display_name(self.first_name, self.last_name, self.email)

    @property
    def tag_names(self) -> list[str]:
        return [t.tag for t in self.tags]


class CustomerPhone(db.Model):
    __tablename__ = "customer_phones"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(20), index=True)  # E.164
    kind: Mapped[str] = mapped_column(String(10), default="mobile")
    customer: Mapped[Customer] = relationship(back_populates="phones")


class CustomerAddress(db.Model):
    __tablename__ = "customer_addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(50), default="")
    recipient: Mapped[str] = mapped_column(String(200), default="")
    line1: Mapped[str] = mapped_column(String(200))
    line2: Mapped[str] = mapped_column(String(200), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    city: Mapped[str] = mapped_column(String(100))
    region: Mapped[str] = mapped_column(String(100), default="")
    country: Mapped[str] = mapped_column(String(2))
    is_default_billing: Mapped[bool] = mapped_column(default=False)
    is_default_shipping: Mapped[bool] = mapped_column(default=False)
    customer: Mapped[Customer] = relationship(back_populates="addresses")


class CustomerTag(db.Model):
    __tablename__ = "customer_tags"
    __table_args__ = (UniqueConstraint("customer_id", "tag"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    tag: Mapped[str] = mapped_column(String(50), index=True)
    customer: Mapped[Customer] = relationship(back_populates="tags")


class ConsentEvent(db.Model):
    """One grant or withdrawal of consent for a purpose: the ledger, never overwritten.
    The current state of a purpose is its latest event."""

    __tablename__ = "consent_events"
    __table_args__ = (
        Index("ix_consent_events_customer_purpose_time", "customer_id", "purpose", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32))
    granted: Mapped[bool] = mapped_column()
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(32))  # storefront, portal, api, import
    wording_version: Mapped[str] = mapped_column(String(32))
    recorded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    ip_address: Mapped[str | None] = mapped_column(String(45))


class Interaction(db.Model):
    """A contact with a customer: email, chat, phone call, meeting or note."""

    __tablename__ = "interactions"
    __table_args__ = (
        Index("ix_interactions_customer_time", "customer_id", "occurred_at"),
        Index("ix_interactions_follow_up", "staff_id", "follow_up_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(16), default="outbound")
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")  # plain text or Markdown; sanitized on render
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    duration_minutes: Mapped[int | None] = mapped_column()
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    outcome: Mapped[str] = mapped_column(String(200), default="")
    follow_up_on: Mapped[date | None] = mapped_column(Date)
    follow_up_done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Links to records of later domains, by id (those domains own the foreign keys).
    order_id: Mapped[int | None] = mapped_column(index=True)
    ticket_id: Mapped[int | None] = mapped_column(index=True)
    opportunity_id: Mapped[int | None] = mapped_column(index=True)
    external_ref: Mapped[str | None] = mapped_column(String(100), index=True)  # phone/chat system id
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer: Mapped[Customer] = relationship()
    staff: Mapped[User | None] = relationship(lazy="joined")
