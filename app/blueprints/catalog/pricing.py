"""Prices over time and bulk price changes.

A bulk change is set-based: one INSERT ... SELECT writes the price history of every
variant it touches, one UPDATE ... WHERE id IN (the filtered variants) changes them, one
UPDATE refreshes the price range of their products. Staff preview it first; it refuses
as a whole when any result would be invalid (a negative price, compare-at below price).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Integer, Numeric, String, and_, case, cast, func, insert, literal, select, update

from app.blueprints.catalog.inputs import PriceAdjustment
from app.blueprints.catalog.models import PRICE_FIELDS, PriceChange, Product, Variant
from app.blueprints.catalog.queries import ProductFilter, filtered_product_ids, variant_conditions
from app.blueprints.catalog.validation import FieldErrors
from app.core import audit, events
from app.core.errors import Conflict, InvalidInput
from app.core.money import to_money
from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db

MODES = ("percent", "amount", "set")
# How messages name the price fields, as the portal labels them ("compare-at", hyphenated).
FIELD_NAMES = {"price": "price", "compare_at_price": "compare-at price", "cost_price": "cost price"}
# SQLite computes in binary floats: 10.005 may be 10.00499999...; nudging by far less than
# a cent before truncating keeps its half-up rounding equal to Decimal's.
FLOAT_NUDGE = 1e-7


@dataclass(frozen=True)
class PricePreviewRow:
    variant_id: int
    sku: str
    product_name: str
    old: Decimal | None
    new: Decimal | None
    error: str = ""


@dataclass(frozen=True)
class PricePreview:
    count: int  # variants whose price would change
    rows: list[PricePreviewRow]  # the first `limit` of them
    invalid_count: int = 0  # of those, how many would be invalid (the change is then refused)
    errors: list[PricePreviewRow] = field(default_factory=list)  # the first `limit` invalid ones


# ---- the price ledger of single edits (bulk changes write it set-based) ------------------


def record_price_change(variant: Variant, name: str, old, new, *, actor, reason: str = "") -> None:
    """One price_changes row: which price of the variant, from what to what, who, when."""
    if old == new and old is not None:
        return
    db.session.add(
        PriceChange(
            variant_id=variant.id,
            field=name,
            old_amount=old,
            new_amount=new,
            changed_by_id=getattr(actor, "id", None) if getattr(actor, "is_staff", False) else None,
            changed_at=utcnow(),
            reason=(reason or "")[:200],
        )
    )


def record_first_prices(variants: list[Variant], *, actor) -> None:
    """The opening entries of new variants' price history (old = none)."""
    for variant in variants:
        for name in PRICE_FIELDS:
            if getattr(variant, name) is not None:
                record_price_change(
                    variant, name, None, getattr(variant, name), actor=actor, reason="created"
                )


# ---- the price in force ------------------------------------------------------------------


def price_in_force(variant_id: int, at: datetime, field: str = "price") -> Decimal | None:
    """The variant's `field` at `at`: the latest recorded change at or before it; before
    the first recorded change, that change's old amount (None before the variant existed)."""
    latest = db.session.execute(
        select(PriceChange.new_amount)
        .where(PriceChange.variant_id == variant_id, PriceChange.field == field, PriceChange.changed_at <= at)
        .order_by(PriceChange.changed_at.desc(), PriceChange.id.desc())
        .limit(1)
    ).first()
    if latest is not None:
        return latest[0]
    first_later = db.session.execute(
        select(PriceChange.old_amount)
        .where(PriceChange.variant_id == variant_id, PriceChange.field == field, PriceChange.changed_at > at)
        .order_by(PriceChange.changed_at, PriceChange.id)
        .limit(1)
    ).first()
    if first_later is not None:
        return first_later[0]
    variant = db.session.get(Variant, variant_id)
    if variant is None or variant.created_at > at:
        return None
    return getattr(variant, field)


# ---- the adjustment, in Python and in SQL ---------------------------------------------------


def check_adjustment(adjustment: PriceAdjustment) -> PriceAdjustment:
    errors = FieldErrors()
    if adjustment.mode not in MODES:
        errors.add("mode", f"Choose one of: {', '.join(MODES)}.")
    if adjustment.field not in PRICE_FIELDS:
        errors.add("field", f"Choose one of: {', '.join(PRICE_FIELDS)}.")
    value = adjustment.value
    if isinstance(value, float) or not isinstance(value, Decimal | int) or not Decimal(value).is_finite():
        errors.add("value", "Not a number.")
    elif abs(Decimal(value)) > Decimal("1000000000"):
        errors.add("value", "Too large.")
    elif adjustment.mode == "set" and value < 0:
        errors.add("value", "A price cannot be negative.")
    if len(adjustment.reason or "") > 200:
        errors.add("reason", "At most 200 characters.")
    errors.raise_if_any()
    return adjustment


def adjusted(old: Decimal | None, adjustment: PriceAdjustment) -> Decimal | None:
    """The new amount, rounded half-up to cents (what the SQL below computes)."""
    value = Decimal(adjustment.value)
    if adjustment.mode == "set":
        return to_money(value)
    if old is None:
        return None  # percent or amount of nothing stays nothing
    if adjustment.mode == "percent":
        return to_money(old * (100 + value) / 100)
    return to_money(old + value)


def _round_cents(expression, dialect: str):
    if dialect == "postgresql":
        return func.round(expression, 2)  # numeric: exact, half away from zero
    scaled = expression * 100
    up = cast(scaled + 0.5 + FLOAT_NUDGE, Integer)
    down = -cast(-scaled + 0.5 + FLOAT_NUDGE, Integer)
    return case((expression >= 0, up), else_=down) / 100.0


def _new_amount(column, adjustment: PriceAdjustment, dialect: str):
    value = literal(Decimal(adjustment.value), Numeric(14, 4))
    if adjustment.mode == "set":
        return literal(to_money(adjustment.value), Numeric(12, 2))
    if adjustment.mode == "percent":
        return _round_cents(column * (literal(100) + value) / literal(100), dialect)
    return _round_cents(column + value, dialect)


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _statement_parts(product_filter: ProductFilter, adjustment: PriceAdjustment):
    """The column, its new value, which variants change, and which results are invalid."""
    column = getattr(Variant, adjustment.field)
    new = _new_amount(column, adjustment, _dialect())
    conditions = variant_conditions(product_filter)
    if adjustment.mode == "set":
        conditions.append((column.is_(None)) | (column != new))
    else:
        conditions.append(and_(column.is_not(None), column != new))
    invalid = new < 0
    if adjustment.field == "price":
        invalid = invalid | and_(Variant.compare_at_price.is_not(None), Variant.compare_at_price < new)
    elif adjustment.field == "compare_at_price":
        invalid = invalid | (new < Variant.price)
    return column, new, conditions, invalid


def _error_of(row_new: Decimal | None, variant_price: Decimal, compare_at: Decimal | None, field: str) -> str:
    if row_new is not None and row_new < 0:
        return "Would be negative."
    if field == "price" and compare_at is not None and row_new is not None and compare_at < row_new:
        return "Would be above the compare-at price."
    if field == "compare_at_price" and row_new is not None and row_new < variant_price:
        return "Would be below the price."
    return ""


def _rows(query, adjustment: PriceAdjustment) -> list[PricePreviewRow]:
    rows = []
    for variant_id, sku, name, old, price, compare_at in db.session.execute(query):
        new = adjusted(old, adjustment)
        # The compare-at check reads the other column as it is now.
        error = _error_of(new, price, compare_at, adjustment.field)
        rows.append(PricePreviewRow(variant_id, sku, name, old, new, error))
    return rows


def preview_price_change(
    product_filter: ProductFilter, adjustment: PriceAdjustment, limit: int = 50
) -> PricePreview:
    """How many variants the change would touch, the first `limit` of them with old and
    new amounts, and the ones whose result would be invalid."""
    check_adjustment(adjustment)
    column, _new, conditions, invalid = _statement_parts(product_filter, adjustment)
    count = db.session.scalar(select(func.count()).select_from(Variant).where(*conditions))
    invalid_count = db.session.scalar(select(func.count()).select_from(Variant).where(*conditions, invalid))
    base = (
        select(Variant.id, Variant.sku, Product.name, column, Variant.price, Variant.compare_at_price)
        .join(Product, Product.id == Variant.product_id)
        .order_by(Product.name, Product.id, Variant.position, Variant.id)
        .limit(limit)
    )
    rows = _rows(base.where(*conditions), adjustment)
    errors = _rows(base.where(*conditions, invalid), adjustment) if invalid_count else []
    return PricePreview(count=count, rows=rows, invalid_count=invalid_count, errors=errors)


def apply_price_change(
    product_filter: ProductFilter, adjustment: PriceAdjustment, *, actor, expected_count: int | None = None
) -> int:
    """Change the prices of the filtered variants as previewed; returns how many changed.
    Refused whole (InvalidInput) when any result would be invalid. With `expected_count`
    (the preview's count), refused whole (Conflict "preview_out_of_date") when the filter
    now matches another number of variants: what was previewed is not what would change."""
    check_adjustment(adjustment)
    column, new, conditions, invalid = _statement_parts(product_filter, adjustment)
    if expected_count is not None:
        count = db.session.scalar(select(func.count()).select_from(Variant).where(*conditions))
        if count != expected_count:
            raise Conflict(
                f"Nothing was changed: this filter now matches {count} variants, not the "
                f"{expected_count} you previewed. Preview again.",
                code="preview_out_of_date",
            )
    invalid_count = db.session.scalar(select(func.count()).select_from(Variant).where(*conditions, invalid))
    if invalid_count:
        message = f"{invalid_count} variants would get an invalid {FIELD_NAMES[adjustment.field]}."
        raise InvalidInput(message, errors={"value": [message + " Preview the change to see them."]})
    db.session.flush()
    variant_ids = list(db.session.scalars(select(Variant.id).where(*conditions).order_by(Variant.id)))
    if not variant_ids:
        return 0
    now = utcnow()
    actor_id = getattr(actor, "id", None) if getattr(actor, "is_staff", False) else None
    db.session.execute(
        insert(PriceChange).from_select(
            ["variant_id", "field", "old_amount", "new_amount", "changed_by_id", "changed_at", "reason"],
            select(
                Variant.id,
                literal(adjustment.field, String(20)),
                column,
                new,
                literal(actor_id, Integer),
                literal(now, UTCDateTime),
                literal((adjustment.reason or "")[:200], String(200)),
            ).where(*conditions),
        )
    )
    changed = db.session.execute(
        update(Variant).where(*conditions).values({column.key: new, "updated_at": now}),
        execution_options={"synchronize_session": False},
    ).rowcount
    if adjustment.field == "price":
        refresh_price_ranges(product_filter, now)
    for loaded in list(db.session.identity_map.values()):
        if isinstance(loaded, Variant | Product):
            db.session.expire(loaded)
    audit.record(
        "catalog.prices.bulk_changed",
        actor=actor,
        summary=f"Bulk {FIELD_NAMES[adjustment.field]} change ({adjustment.mode} {adjustment.value}) "
        f"of {changed} variants",
        filter=product_filter.as_dict(),
        adjustment={
            "mode": adjustment.mode,
            "value": adjustment.value,
            "field": adjustment.field,
            "reason": adjustment.reason,
        },
        count=changed,
        target_type="Variant",
    )
    events.emit("catalog.price_changed", variant_ids=variant_ids)
    return changed


def refresh_price_ranges(product_filter: ProductFilter, now: datetime) -> None:
    """min/max price of the filtered products from their active variants, in one UPDATE."""

    def active(aggregate):
        return (
            select(aggregate(Variant.price))
            .where(Variant.product_id == Product.id, Variant.is_active)
            .scalar_subquery()
        )

    db.session.execute(
        update(Product)
        .where(Product.id.in_(filtered_product_ids(product_filter)))
        .values(min_price=active(func.min), max_price=active(func.max), updated_at=now),
        execution_options={"synchronize_session": False},
    )
