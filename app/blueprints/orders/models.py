"""Orders domain, first part: what a checkout is priced from.

Shipping zones (countries, optionally regions) with methods (flat rate, weight bands,
free over an amount), tax rates per country/region and tax class, and carts: anonymous
or owned by a customer, lines by variant, addresses and shipping method. A cart reserves
nothing; checkout (a later part) re-prices it and reserves stock.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db

SHIPPING_RATE_KINDS = ("flat", "weight_band")
CART_STATUSES = ("open", "checked_out", "expired")


class ShippingZone(db.Model):
    __tablename__ = "shipping_zones"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    countries: Mapped[list[ShippingZoneCountry]] = relationship(
        back_populates="zone", cascade="all, delete-orphan", order_by="ShippingZoneCountry.country"
    )
    methods: Mapped[list[ShippingMethod]] = relationship(
        back_populates="zone",
        cascade="all, delete-orphan",
        order_by="ShippingMethod.position, ShippingMethod.id",
    )


class ShippingZoneCountry(db.Model):
    """A country (optionally one region of it) served by a zone. A region entry wins over
    its country's entry; a destination belongs to one zone at most."""

    __tablename__ = "shipping_zone_countries"
    __table_args__ = (
        UniqueConstraint("country", "region", name="uq_shipping_zone_countries_country_region"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("shipping_zones.id", ondelete="CASCADE"), index=True)
    country: Mapped[str] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    region: Mapped[str] = mapped_column(String(100), default="")  # "" = the whole country

    zone: Mapped[ShippingZone] = relationship(back_populates="countries")


class ShippingMethod(db.Model):
    __tablename__ = "shipping_methods"
    __table_args__ = (
        UniqueConstraint("zone_id", "code", name="uq_shipping_methods_zone_code"),
        CheckConstraint("kind IN ('flat', 'weight_band')", name="kind_known"),
        CheckConstraint("flat_rate IS NULL OR flat_rate >= 0", name="flat_rate_not_negative"),
        CheckConstraint("free_over IS NULL OR free_over >= 0", name="free_over_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("shipping_zones.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(40))  # what the storefront sends, e.g. "standard"
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16), default="flat")
    flat_rate: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    # Orders whose goods total (after discounts; gross in a tax-inclusive store, net in a
    # tax-exclusive one) reaches this ship free.
    free_over: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    tax_class: Mapped[str] = mapped_column(String(40), default="standard")
    is_active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)

    zone: Mapped[ShippingZone] = relationship(back_populates="methods")
    bands: Mapped[list[ShippingRateBand]] = relationship(
        cascade="all, delete-orphan", order_by="ShippingRateBand.max_weight_grams"
    )


class ShippingRateBand(db.Model):
    """Weight-band method: the first band whose max weight covers the parcel sets the price."""

    __tablename__ = "shipping_rate_bands"
    __table_args__ = (
        UniqueConstraint("method_id", "max_weight_grams", name="uq_shipping_rate_bands_method_weight"),
        CheckConstraint("max_weight_grams > 0", name="max_weight_positive"),
        CheckConstraint("price >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    method_id: Mapped[int] = mapped_column(ForeignKey("shipping_methods.id", ondelete="CASCADE"))
    max_weight_grams: Mapped[int] = mapped_column()
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))


class TaxRate(db.Model):
    """The rate of a tax class in a country, or in one region of it (a region rate wins)."""

    __tablename__ = "tax_rates"
    __table_args__ = (
        UniqueConstraint("country", "region", "tax_class", name="uq_tax_rates_country_region_class"),
        CheckConstraint("rate >= 0 AND rate < 1", name="rate_is_a_fraction"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str] = mapped_column(String(100), default="")
    tax_class: Mapped[str] = mapped_column(String(40))
    rate: Mapped[Decimal] = mapped_column(Numeric(6, 4))  # 0.2100 = 21 %
    name: Mapped[str] = mapped_column(String(60), default="")  # shown on invoices, e.g. "VAT 21%"


class Cart(db.Model):
    __tablename__ = "carts"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'checked_out', 'expired')", name="status_known"),
        Index("ix_carts_status_updated", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The public id: a guest cart is reached by this alone, so it is long and random.
    token: Mapped[str] = mapped_column(String(43), unique=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    email: Mapped[str | None] = mapped_column(String(254))  # guest checkout
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default="open")
    shipping_address: Mapped[dict | None] = mapped_column(JSON)
    billing_address: Mapped[dict | None] = mapped_column(JSON)
    shipping_method_id: Mapped[int | None] = mapped_column(
        ForeignKey("shipping_methods.id", ondelete="SET NULL"), index=True
    )
    promo_code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    lines: Mapped[list[CartLine]] = relationship(
        back_populates="cart", cascade="all, delete-orphan", order_by="CartLine.id"
    )
    shipping_method: Mapped[ShippingMethod | None] = relationship()


class CartLine(db.Model):
    __tablename__ = "cart_lines"
    __table_args__ = (
        UniqueConstraint("cart_id", "variant_id", name="uq_cart_lines_cart_variant"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"), index=True)
    quantity: Mapped[int] = mapped_column()
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    cart: Mapped[Cart] = relationship(back_populates="lines")
