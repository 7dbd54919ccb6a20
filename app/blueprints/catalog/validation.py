"""Checking and normalising catalog input: slugs, SKUs, money, option names and values.

Checks collect every problem into a `FieldErrors` so a form or an API client learns all
of them at once; the services raise one `InvalidInput` before writing anything.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal

from sqlalchemy import or_, select

from app.blueprints.catalog.models import BACKORDER_POLICIES
from app.core.errors import InvalidInput
from app.core.money import to_money
from app.extensions import db

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_SKU = 64
MAX_OPTION_NAME = 60
MAX_OPTION_VALUE = 100
# option_key is "Name=Value|Name=Value": these characters would make it ambiguous.
OPTION_NAME_FORBIDDEN = ("|", "=")
OPTION_VALUE_FORBIDDEN = ("|",)
MAX_MONEY = Decimal("9999999999.99")  # Numeric(12, 2)


class FieldErrors:
    """Problems by field name ("variants.2.sku"), raised together as one InvalidInput."""

    def __init__(self):
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self, message: str = "Some fields are not valid.") -> None:
        if self.errors:
            raise InvalidInput(message, errors=self.errors)


def invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors={field: [message]})


def prefixed(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


# ---- text --------------------------------------------------------------------------------


def text(value, field: str, errors: FieldErrors, *, max_length: int, required: bool = False) -> str:
    cleaned = (value or "").strip() if isinstance(value, str) or value is None else str(value).strip()
    if required and not cleaned:
        errors.add(field, "Required.")
    elif len(cleaned) > max_length:
        errors.add(field, f"At most {max_length} characters.")
    return cleaned


def slugify(value: str, max_length: int = 120) -> str:
    """ "Crème Brûlée Pot" -> "creme-brulee-pot" (ASCII letters, digits and dashes)."""
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-")


def slug_format(raw: str, field: str, errors: FieldErrors, *, max_length: int) -> str:
    slug = raw.strip().lower()
    if not SLUG_PATTERN.match(slug):
        errors.add(field, "Use lower-case letters, digits and single dashes, like “blue-shirt”.")
    elif len(slug) > max_length:
        errors.add(field, f"At most {max_length} characters.")
    return slug


def unique_slug(model, base: str, *, exclude_id: int | None = None, fallback: str = "item") -> str:
    """`base`, or `base-2`, `base-3`... : the first one no other row of `model` uses.
    One query reads the slugs that could collide."""
    base = base or fallback
    query = select(model.slug).where(or_(model.slug == base, model.slug.like(f"{base}-%")))
    if exclude_id is not None:
        query = query.where(model.id != exclude_id)
    taken = set(db.session.scalars(query))
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def slug_taken(model, slug: str, *, exclude_id: int | None = None) -> bool:
    query = select(model.id).where(model.slug == slug)
    if exclude_id is not None:
        query = query.where(model.id != exclude_id)
    return db.session.scalar(query.limit(1)) is not None


# ---- money and numbers -------------------------------------------------------------------


def money(value, field: str, errors: FieldErrors, *, required: bool = False) -> Decimal | None:
    """A non-negative amount rounded half-up to cents; None when empty and not required."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.add(field, "Required.")
        return None
    try:
        amount = to_money(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        errors.add(field, "Not an amount of money.")
        return None
    if not amount.is_finite():
        errors.add(field, "Not an amount of money.")
        return None
    if amount < 0:
        errors.add(field, "Must not be negative.")
    elif amount > MAX_MONEY:
        errors.add(field, "Too large.")
    return amount


def whole_number(value, field: str, errors: FieldErrors, *, minimum: int = 0) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        errors.add(field, "Not a whole number.")
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        errors.add(field, "Not a whole number.")
        return None
    if isinstance(value, float | Decimal) and number != value:
        errors.add(field, "Not a whole number.")
    elif number < minimum:
        errors.add(field, f"Must be at least {minimum}.")
    elif number > 2**31 - 1:
        errors.add(field, "Too large.")
    return number


# ---- variant fields ----------------------------------------------------------------------


def variant_fields(values: dict, prefix: str, errors: FieldErrors) -> dict:
    """Check and normalise the VariantInput fields in `values` (all of them or a partial
    change merged onto the current values); returns the cleaned values."""
    clean = dict(values)
    if "sku" in values:
        sku = text(values["sku"], prefixed(prefix, "sku"), errors, max_length=MAX_SKU, required=True)
        if sku and re.search(r"\s", sku):
            errors.add(prefixed(prefix, "sku"), "No spaces in a SKU.")
        clean["sku"] = sku
    if "barcode" in values:
        clean["barcode"] = text(values["barcode"], prefixed(prefix, "barcode"), errors, max_length=64) or None
    if "price" in values:
        clean["price"] = money(values["price"], prefixed(prefix, "price"), errors, required=True)
    for name in ("compare_at_price", "cost_price"):
        if name in values:
            clean[name] = money(values[name], prefixed(prefix, name), errors)
    price, compare_at = clean.get("price"), clean.get("compare_at_price")
    if price is not None and compare_at is not None and compare_at < price:
        errors.add(prefixed(prefix, "compare_at_price"), "Must not be below the price.")
    for name in ("weight_grams", "low_stock_threshold", "backorder_limit"):
        if name in values:
            clean[name] = whole_number(values[name], prefixed(prefix, name), errors)
    if "backorder_policy" in values and values["backorder_policy"] not in BACKORDER_POLICIES:
        errors.add(prefixed(prefix, "backorder_policy"), f"Choose one of: {', '.join(BACKORDER_POLICIES)}.")
    if "is_active" in values and not isinstance(values["is_active"], bool):
        errors.add(prefixed(prefix, "is_active"), "Must be true or false.")
    restock = values.get("expected_restock_date")
    if restock is not None and not isinstance(restock, date):
        errors.add(prefixed(prefix, "expected_restock_date"), "Not a date.")
    return clean


# ---- options -----------------------------------------------------------------------------


def option_definitions(options: dict[str, list[str]], errors: FieldErrors) -> list[tuple[str, list[str]]]:
    """Ordered (name, values) pairs, trimmed; names unique ignoring case, values unique
    within their option, none empty."""
    cleaned: list[tuple[str, list[str]]] = []
    seen_names: set[str] = set()
    for index, (raw_name, raw_values) in enumerate((options or {}).items()):
        field = f"options.{index}"
        name = text(raw_name, f"{field}.name", errors, max_length=MAX_OPTION_NAME, required=True)
        if any(char in name for char in OPTION_NAME_FORBIDDEN):
            errors.add(f"{field}.name", "An option name cannot contain “|” or “=”.")
        if name.lower() in seen_names:
            errors.add(f"{field}.name", f"The option “{name}” is listed twice.")
        seen_names.add(name.lower())
        values: list[str] = []
        if not raw_values:
            errors.add(f"{field}.values", "Give at least one value.")
        for value_index, raw_value in enumerate(raw_values or ()):
            value_field = f"{field}.values.{value_index}"
            value = text(raw_value, value_field, errors, max_length=MAX_OPTION_VALUE, required=True)
            if any(char in value for char in OPTION_VALUE_FORBIDDEN):
                errors.add(value_field, "An option value cannot contain “|”.")
            if value in values:
                errors.add(value_field, f"“{value}” is listed twice.")
            values.append(value)
        cleaned.append((name, values))
    return cleaned


def option_key(pairs: list[tuple[str, str]]) -> str:
    """The canonical "Colour=Red|Size=M" of option values, in the product's option order."""
    return "|".join(f"{name}={value}" for name, value in pairs)


def sku_part(value: str) -> str:
    """An option value as a SKU part: "Dark blue" -> "DARK-BLUE"."""
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Z0-9]+", "-", ascii_text.upper()).strip("-") or "X"
