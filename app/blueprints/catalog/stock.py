"""How the catalog learns about stock without importing the inventory domain.

Inventory sits to the right of the catalog (ARCHITECTURE.md: import direction), yet the
storefront's product pages show availability and filter on "in stock". The inventory
domain registers a `StockView` at start-up (`inventory.init_app`); until then every
variant reads as not stocked, which is also what a catalog without inventory means.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from sqlalchemy import ColumnElement, false

IN_STOCK = "in_stock"
BACKORDER = "backorder"
OUT_OF_STOCK = "out_of_stock"


@dataclass(frozen=True)
class VariantAvailability:
    state: str  # IN_STOCK, BACKORDER or OUT_OF_STOCK
    available: int  # units that can ship now (never negative)
    backorderable: int | None = None  # more units that may be ordered; None: no limit
    expected_restock_date: date | None = None


class StockView(Protocol):
    def availability(self, variant_ids: list[int]) -> dict[int, VariantAvailability]:
        """Availability of each variant, in one query whatever the number of ids."""

    def in_stock_condition(self, product_id: ColumnElement) -> ColumnElement[bool]:
        """A SQL condition true when the product has a variant that can ship now."""


class NoStock:
    def availability(self, variant_ids: list[int]) -> dict[int, VariantAvailability]:
        return {variant_id: VariantAvailability(OUT_OF_STOCK, 0, 0) for variant_id in variant_ids}

    def in_stock_condition(self, product_id: ColumnElement) -> ColumnElement[bool]:
        return false()


_view: StockView = NoStock()


def register_stock_view(view: StockView) -> None:
    global _view
    _view = view


def stock_view() -> StockView:
    return _view
