"""What the catalog (and the storefront through it) sees of stock: the StockView that
`inventory.init_app` registers (app/blueprints/catalog/stock.py).

Only active locations that fulfil orders count: stock in a closed warehouse or a shop that
does not ship cannot be sold online. Units owed to waiting backorders are not for sale.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import aliased

from app.blueprints.catalog.models import Variant
from app.blueprints.catalog.stock import BACKORDER, IN_STOCK, OUT_OF_STOCK, VariantAvailability
from app.blueprints.inventory.models import Backorder, StockLevel, StockLocation
from app.extensions import db


def _free_units():
    return (
        select(func.coalesce(func.sum(StockLevel.on_hand - StockLevel.reserved), 0))
        .join(StockLocation, StockLocation.id == StockLevel.location_id)
        .where(StockLevel.variant_id == Variant.id, StockLocation.is_active, StockLocation.fulfils_orders)
        .scalar_subquery()
    )


def _waiting_units():
    return (
        select(func.coalesce(func.sum(Backorder.quantity), 0))
        .where(Backorder.variant_id == Variant.id, Backorder.status == "waiting")
        .scalar_subquery()
    )


def availability_of(free: int, waiting: int, variant) -> VariantAvailability:
    """The state of one variant from its free units, waiting backorders and settings."""
    if not variant.is_active:
        return VariantAvailability(OUT_OF_STOCK, 0, 0)
    available = max(free - waiting, 0)
    allows = variant.backorder_policy == "allow"
    room = (
        0
        if not allows
        else None
        if variant.backorder_limit is None
        else max(variant.backorder_limit - waiting, 0)
    )
    if available > 0:
        return VariantAvailability(IN_STOCK, available, room)
    if room is None or room > 0:
        return VariantAvailability(BACKORDER, 0, room, variant.expected_restock_date)
    return VariantAvailability(OUT_OF_STOCK, 0, 0)


class InventoryStockView:
    def availability(self, variant_ids: list[int]) -> dict[int, VariantAvailability]:
        """One query whatever the number of ids; unknown ids read as out of stock."""
        ids = sorted(set(variant_ids))
        result = {variant_id: VariantAvailability(OUT_OF_STOCK, 0, 0) for variant_id in ids}
        if not ids:
            return result
        rows = db.session.execute(
            select(
                Variant.id,
                Variant.is_active,
                Variant.backorder_policy,
                Variant.backorder_limit,
                Variant.expected_restock_date,
                _free_units(),
                _waiting_units(),
            ).where(Variant.id.in_(ids))
        )
        for row in rows:
            result[row.id] = availability_of(row[5], row[6], row)
        return result

    def in_stock_condition(self, product_id: ColumnElement) -> ColumnElement[bool]:
        """True when an active variant of the product has free stock at an active fulfilling
        location: served by variants(product_id) and the stock_levels primary key."""
        variant = aliased(Variant)  # never correlated with a variants table of the outer query
        return exists(
            select(1)
            .select_from(variant)
            .join(StockLevel, StockLevel.variant_id == variant.id)
            .join(StockLocation, StockLocation.id == StockLevel.location_id)
            .where(
                variant.product_id == product_id,
                variant.is_active,
                StockLevel.on_hand > StockLevel.reserved,
                StockLocation.is_active,
                StockLocation.fulfils_orders,
            )
            .correlate_except(variant, StockLevel, StockLocation)
        )
