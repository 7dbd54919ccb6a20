"""The catalog: a category tree, brands, products, their options and variants, and the
ledger of price changes.

Every sellable thing is a `Variant` (with its own SKU, price and stock); a product
without options has one default variant. Products carry the price range of their active
variants and a `search_text` so that storefront lists sort, filter and search one table.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
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

from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db

PRODUCT_STATUSES = ("draft", "active", "archived")
TAX_CLASSES = ("standard", "reduced", "zero")
BACKORDER_POLICIES = ("deny", "allow")
PRICE_FIELDS = ("price", "compare_at_price", "cost_price")
# A category's path lists its ancestors' ids and its own: "/3/17/42/". A subtree is a
# prefix match on one indexed column, whatever the depth.
PATH_SEPARATOR = "/"


class Category(db.Model):
    __tablename__ = "categories"
    __table_args__ = (Index("ix_categories_parent_position", "parent_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(140), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    path: Mapped[str] = mapped_column(String(1000), default="", index=True)
    depth: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    parent: Mapped[Category | None] = relationship(remote_side="Category.id")

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip(PATH_SEPARATOR).split(PATH_SEPARATOR) if part][:-1]


class Brand(db.Model):
    __tablename__ = "brands"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    slug: Mapped[str] = mapped_column(String(140), unique=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Product(db.Model):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'active', 'archived')", name="status_known"),
        # Storefront lists: active products sorted by price, newest or name.
        Index("ix_products_status_min_price", "status", "min_price", "id"),
        Index("ix_products_status_published", "status", "published_at", "id"),
        Index("ix_products_status_name", "status", "name", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")  # Markdown, sanitized on render
    status: Mapped[str] = mapped_column(String(16), default="draft")
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id", ondelete="SET NULL"), index=True)
    tax_class: Mapped[str] = mapped_column(String(40), default="standard")
    seo_title: Mapped[str] = mapped_column(String(200), default="")
    seo_description: Mapped[str] = mapped_column(String(320), default="")
    # Kept by the catalog services from the active variants (never recomputed for all).
    min_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    max_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    # Name, SKUs, brand and description as plain words; PostgreSQL indexes it as a
    # generated tsvector column (`search_vector`, migration-only), SQLite searches it with LIKE.
    search_text: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # first time active
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    brand: Mapped[Brand | None] = relationship()
    variants: Mapped[list[Variant]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="Variant.position, Variant.id"
    )
    options: Mapped[list[ProductOption]] = relationship(
        back_populates="product",
        cascade="all, delete-orphan",
        order_by="ProductOption.position, ProductOption.id",
    )
    images: Mapped[list[ProductImage]] = relationship(
        cascade="all, delete-orphan", order_by="ProductImage.position, ProductImage.id"
    )
    attributes: Mapped[list[ProductAttribute]] = relationship(
        cascade="all, delete-orphan", order_by="ProductAttribute.position, ProductAttribute.id"
    )
    category_links: Mapped[list[ProductCategory]] = relationship(
        cascade="all, delete-orphan", order_by="ProductCategory.position"
    )


class ProductCategory(db.Model):
    __tablename__ = "product_categories"
    __table_args__ = (Index("ix_product_categories_category_product", "category_id", "product_id"),)

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(default=0)  # the first is the product's main category

    category: Mapped[Category] = relationship()


class ProductImage(db.Model):
    __tablename__ = "product_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    alt_text: Mapped[str] = mapped_column(String(300), default="")
    position: Mapped[int] = mapped_column(default=0)


class ProductAttribute(db.Model):
    """A specification line shown on the product page, e.g. material: cotton."""

    __tablename__ = "product_attributes"
    __table_args__ = (UniqueConstraint("product_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[str] = mapped_column(String(500))
    position: Mapped[int] = mapped_column(default=0)


class ProductOption(db.Model):
    """An option type a product varies by (size, colour, anything) and its values."""

    __tablename__ = "product_options"
    __table_args__ = (UniqueConstraint("product_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(60))
    position: Mapped[int] = mapped_column(default=0)

    product: Mapped[Product] = relationship(back_populates="options")
    values: Mapped[list[ProductOptionValue]] = relationship(
        back_populates="option",
        cascade="all, delete-orphan",
        order_by="ProductOptionValue.position, ProductOptionValue.id",
    )


class ProductOptionValue(db.Model):
    __tablename__ = "product_option_values"
    __table_args__ = (UniqueConstraint("option_id", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    option_id: Mapped[int] = mapped_column(ForeignKey("product_options.id", ondelete="CASCADE"))
    value: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(default=0)

    option: Mapped[ProductOption] = relationship(back_populates="values")


class Variant(db.Model):
    __tablename__ = "variants"
    __table_args__ = (
        # A product's variants differ in their option values: option_key is the canonical
        # "Colour=Red|Size=M" (options in product order), "" for the default variant.
        UniqueConstraint("product_id", "option_key", name="uq_variants_product_option_key"),
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("cost_price IS NULL OR cost_price >= 0", name="cost_price_not_negative"),
        CheckConstraint(
            "compare_at_price IS NULL OR compare_at_price >= price", name="compare_at_not_below_price"
        ),
        CheckConstraint("backorder_policy IN ('deny', 'allow')", name="backorder_policy_known"),
        CheckConstraint(
            "backorder_limit IS NULL OR backorder_limit >= 0", name="backorder_limit_not_negative"
        ),
        CheckConstraint(
            "low_stock_threshold IS NULL OR low_stock_threshold >= 0", name="low_stock_threshold_not_negative"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    barcode: Mapped[str | None] = mapped_column(String(64), unique=True)
    option_key: Mapped[str] = mapped_column(String(500), default="")
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    compare_at_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    cost_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    weight_grams: Mapped[int | None] = mapped_column()
    position: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    # Inventory settings of this variant (the inventory domain reads them).
    low_stock_threshold: Mapped[int | None] = mapped_column()  # None: the location's default
    backorder_policy: Mapped[str] = mapped_column(String(8), default="deny")
    backorder_limit: Mapped[int | None] = mapped_column()  # None with "allow": no limit
    expected_restock_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    product: Mapped[Product] = relationship(back_populates="variants")
    option_values: Mapped[list[ProductOptionValue]] = relationship(
        secondary="variant_option_values", order_by="ProductOptionValue.option_id"
    )

    @property
    def title(self) -> str:
        """ "Red / M" from the option key; "Default" for a product without options."""
        if not self.option_key:
            return "Default"
        return " / ".join(part.split("=", 1)[1] for part in self.option_key.split("|"))


class VariantOptionValue(db.Model):
    __tablename__ = "variant_option_values"

    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"), primary_key=True)
    option_value_id: Mapped[int] = mapped_column(
        ForeignKey("product_option_values.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class PriceChange(db.Model):
    """Who changed which price of a variant, when, from what to what. Reports read the
    price in force at a date from here (the latest change at or before it)."""

    __tablename__ = "price_changes"
    __table_args__ = (Index("ix_price_changes_variant_field_time", "variant_id", "field", "changed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(20))
    old_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    new_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(String(200), default="")
