"""What the catalog sees of stock: availability per variant (in stock, backorder with its
date, out of stock) in one query, and the storefront's in-stock filter."""

from __future__ import annotations

from datetime import date

from sqlalchemy import event, select

from app.blueprints.catalog.models import Product
from app.blueprints.catalog.stock import BACKORDER, IN_STOCK, OUT_OF_STOCK, stock_view
from app.blueprints.inventory import reservations
from app.blueprints.inventory.stock_view import InventoryStockView
from tests.factories.catalog import LocationFactory
from tests.inventory.helpers import make_variant, receive

RESTOCK = date(2027, 1, 15)


def test_inventory_registers_its_stock_view_at_start_up(app):
    assert isinstance(stock_view(), InventoryStockView)


def test_availability_of_each_state_in_one_query(db, warehouse):
    shop = LocationFactory(code="SHOP", fulfils_orders=False)
    stocked = make_variant()
    receive(stocked, warehouse, 5)
    reservations.reserve([(stocked.id, 2)], reference="order:1")
    only_in_shop = make_variant()
    receive(only_in_shop, shop, 9)
    backorderable = make_variant(backorder_policy="allow", backorder_limit=4, expected_restock_date=RESTOCK)
    reservations.reserve([(backorderable.id, 1)], reference="order:2")
    full = make_variant(backorder_policy="allow", backorder_limit=1)
    reservations.reserve([(full.id, 1)], reference="order:3")
    unlimited = make_variant(backorder_policy="allow")
    retired = make_variant(is_active=False)
    receive(retired, warehouse, 3)
    ids = [v.id for v in (stocked, only_in_shop, backorderable, full, unlimited, retired)] + [999999]

    statements = []

    def count(_connection, _cursor, statement, *_args):
        statements.append(statement)

    db.session.flush()
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        result = InventoryStockView().availability(ids)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 1

    assert (result[stocked.id].state, result[stocked.id].available, result[stocked.id].backorderable) == (
        IN_STOCK,
        3,
        0,
    )
    assert result[only_in_shop.id].state == OUT_OF_STOCK
    assert result[backorderable.id].state == BACKORDER
    assert (result[backorderable.id].backorderable, result[backorderable.id].expected_restock_date) == (
        3,
        RESTOCK,
    )
    assert result[full.id].state == OUT_OF_STOCK
    assert (result[unlimited.id].state, result[unlimited.id].backorderable) == (BACKORDER, None)
    assert result[retired.id].state == OUT_OF_STOCK
    assert result[999999].state == OUT_OF_STOCK


def test_the_in_stock_condition_filters_products_with_a_variant_that_can_ship(db, warehouse):
    shop = LocationFactory(code="SHOP", fulfils_orders=False)
    stocked, sold_out, shop_only, retired = (make_variant() for _ in range(4))
    receive(stocked, warehouse, 2)
    receive(sold_out, warehouse, 1)
    reservations.reserve([(sold_out.id, 1)], reference="order:1")
    receive(shop_only, shop, 3)
    receive(retired, warehouse, 3)
    retired.is_active = False
    db.session.flush()
    query = select(Product.id).where(InventoryStockView().in_stock_condition(Product.id))
    assert set(db.session.scalars(query)) == {stocked.product_id}
