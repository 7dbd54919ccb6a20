"""Backorders are served first come, first served when stock arrives, before new orders."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.blueprints.inventory import backorders, reservations, services
from app.blueprints.inventory.models import Backorder
from app.core.errors import Conflict
from app.core.events import LISTENERS, subscribe
from app.core.transaction import transaction
from tests.factories.catalog import LocationFactory
from tests.inventory.helpers import level, make_variant, receive


def backorder_rows(db):
    return [
        (b.reference, b.quantity, b.status)
        for b in db.session.scalars(
            select(Backorder).order_by(Backorder.reference, Backorder.status, Backorder.id)
        )
    ]


@pytest.fixture
def allocated_events():
    heard = []

    @subscribe("inventory.backorder_allocated")
    def listener(event):
        heard.append(event.payload)

    yield heard
    LISTENERS["inventory.backorder_allocated"].remove(listener)


def test_a_receipt_serves_waiting_backorders_oldest_first(db, warehouse, staff, allocated_events):
    variant = make_variant(backorder_policy="allow")
    for number, quantity in ((1, 2), (2, 3), (3, 1)):
        with transaction():
            reservations.reserve([(variant.id, quantity)], reference=f"order:{number}")
    with transaction():
        receive(variant, warehouse, 4, actor=staff)
    # order:1 gets its 2, order:2 gets 2 of its 3 and keeps its place for the last one;
    # order:3, though it would fit in what is left, does not jump the line.
    assert backorder_rows(db) == [
        ("order:1", 2, "allocated"),
        ("order:2", 2, "allocated"),
        ("order:2", 1, "waiting"),
        ("order:3", 1, "waiting"),
    ]
    assert level(variant, warehouse) == (4, 4)
    assert reservations.reserved_under("order:2") == 2
    assert [(e["reference"], e["quantity"]) for e in allocated_events] == [("order:1", 2), ("order:2", 2)]
    assert allocated_events[1]["still_waiting"] == 1

    with transaction():
        receive(variant, warehouse, 5, actor=staff)
    assert [row for row in backorder_rows(db) if row[2] == "waiting"] == []
    assert level(variant, warehouse) == (9, 6)


def test_backordered_stock_is_not_sold_to_a_later_order(db, warehouse):
    variant = make_variant(backorder_policy="allow")
    reservations.reserve([(variant.id, 1)], reference="order:1")
    receive(variant, warehouse, 1)
    [line] = reservations.reserve([(variant.id, 1)], reference="order:2")
    assert (line.reserved, line.backordered) == (0, 1)
    assert reservations.reserved_under("order:1") == 1


def test_stock_freed_by_a_cancelled_order_serves_the_backorders(db, warehouse):
    variant = make_variant(backorder_policy="allow")
    receive(variant, warehouse, 2)
    reservations.reserve([(variant.id, 2)], reference="order:1")
    reservations.reserve([(variant.id, 1)], reference="order:2")  # backordered
    reservations.release("order:1")
    assert reservations.reserved_under("order:2") == 1
    assert level(variant, warehouse) == (2, 1)


def test_stock_at_a_shop_that_does_not_ship_serves_no_backorder(db, staff):
    shop = LocationFactory(code="SHOP", fulfils_orders=False)
    variant = make_variant(backorder_policy="allow")
    reservations.reserve([(variant.id, 1)], reference="order:1")
    receive(variant, shop, 5, actor=staff)
    assert backorder_rows(db) == [("order:1", 1, "waiting")]


def test_a_transfer_to_a_fulfilling_location_serves_backorders(db, staff, warehouse):
    shop = LocationFactory(code="SHOP", fulfils_orders=False)
    variant = make_variant(backorder_policy="allow")
    reservations.reserve([(variant.id, 1)], reference="order:1")
    receive(variant, shop, 5, actor=staff)
    services.transfer_stock(variant, shop, warehouse, 3, actor=staff)
    assert backorder_rows(db) == [("order:1", 1, "allocated")]


def test_a_waiting_backorder_can_be_cancelled_but_an_allocated_one_cannot(db, warehouse, staff):
    variant = make_variant(backorder_policy="allow")
    reservations.reserve([(variant.id, 1)], reference="order:1")
    reservations.reserve([(variant.id, 1)], reference="order:2")
    first, second = db.session.scalars(select(Backorder).order_by(Backorder.id)).all()
    backorders.cancel_backorder(second, actor=staff, reason="customer asked")
    assert second.status == "cancelled"
    receive(variant, warehouse, 1)
    assert first.status == "allocated"
    with pytest.raises(Conflict) as refused:
        backorders.cancel_backorder(first, actor=staff)
    assert refused.value.code == "backorder_allocated"
