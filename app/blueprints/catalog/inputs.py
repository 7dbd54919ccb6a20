"""What callers (portal forms, the admin API, CSV import) hand to the catalog services:
plain values, no validation here (the services check everything in one place)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass
class ImageInput:
    url: str
    alt_text: str = ""


@dataclass
class AttributeInput:
    name: str
    value: str


@dataclass
class VariantInput:
    sku: str
    price: Decimal
    options: dict[str, str] = field(default_factory=dict)  # option name -> value; {} for the default
    barcode: str | None = None
    compare_at_price: Decimal | None = None
    cost_price: Decimal | None = None
    weight_grams: int | None = None
    is_active: bool = True
    low_stock_threshold: int | None = None
    backorder_policy: str = "deny"
    backorder_limit: int | None = None
    expected_restock_date: date | None = None


# Fields of VariantInput that `update_variant` accepts (options are changed by set_options).
VARIANT_FIELDS = (
    "sku",
    "price",
    "barcode",
    "compare_at_price",
    "cost_price",
    "weight_grams",
    "is_active",
    "low_stock_threshold",
    "backorder_policy",
    "backorder_limit",
    "expected_restock_date",
)


@dataclass
class ProductInput:
    name: str
    slug: str | None = None  # None or "": generated from the name, made unique
    description: str = ""
    status: str = "draft"
    brand_id: int | None = None
    tax_class: str = "standard"
    seo_title: str = ""
    seo_description: str = ""
    category_ids: list[int] = field(default_factory=list)
    images: list[ImageInput] = field(default_factory=list)
    attributes: list[AttributeInput] = field(default_factory=list)


@dataclass
class PriceAdjustment:
    mode: str  # "percent" (+10 / -15), "amount" (added, may be negative), "set" (the new price)
    value: Decimal
    field: str = "price"  # price | compare_at_price | cost_price
    reason: str = ""
