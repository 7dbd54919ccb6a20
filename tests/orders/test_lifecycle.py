"""The order state machine: `lifecycle.ALLOWED` is the whole table, holds return where they
came from, and shipping takes reserved stock out through the inventory ledger."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.blueprints.inventory import services as inventory
from app.blueprints.inventory.models import InventoryMovement, StockLevel
from app.blueprints.orders import lifecycle, payments
from app.blueprints.orders.order_models import ORDER_STATUSES, Order, OrderEvent
from app.core import events
from app.core.errors import Conflict, InvalidInput
from app.core.transaction import transaction
from tests.factories.auth import UserFactory
from tests.orders.checkout_helpers import make_shop, place_order_directly


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def staff(db):
    return UserFactory()


@pytest.fixture
def order(shop) -> Order:
    return place_order_directly([(shop.teapot, 2)])


def timeline(db, order) -> list[tuple]:
    return db.session.execute(
        select(OrderEvent.kind, OrderEvent.from_status, OrderEvent.to_status)
        .where(OrderEvent.order_id == order.id)
        .order_by(OrderEvent.id)
    ).all()


def put_in(db, order, status: str) -> None:
    """The order as if it had reached `status` (the table is what is tested, not the way there)."""
    order.status = status
    db.session.flush()


def test_the_table_names_every_status_and_only_known_ones():
    assert set(lifecycle.ALLOWED) == set(ORDER_STATUSES)
    assert all(targets <= set(ORDER_STATUSES) for targets in lifecycle.ALLOWED.values())
    assert lifecycle.ALLOWED["completed"] == lifecycle.ALLOWED["cancelled"] == frozenset()


@pytest.mark.parametrize("from_status", ORDER_STATUSES)
def test_moves_the_table_allows_happen_with_a_timeline_entry_and_all_others_are_conflicts(
    db, order, staff, from_status
):
    for to_status in ORDER_STATUSES:
        move = f"{from_status} -> {to_status}"
        attempt = db.session.begin_nested()  # each move starts from the same order
        try:
            put_in(db, order, from_status)
            before = timeline(db, order)
            if to_status in lifecycle.ALLOWED[from_status]:
                lifecycle.transition(order, to_status, actor=staff, note="why")
                db.session.flush()
                assert order.status == to_status, move
                assert timeline(db, order) == [*before, ("status", from_status, to_status)], move
            else:
                with pytest.raises(Conflict) as refused:
                    lifecycle.transition(order, to_status, actor=staff)
                db.session.flush()
                assert refused.value.code == "invalid_transition", move
                assert order.status == from_status and timeline(db, order) == before, move
        finally:
            attempt.rollback()


def test_a_status_change_is_announced_after_the_commit(order, staff):
    heard = []
    listener = events.subscribe("order.status_changed")(lambda event: heard.append(event.payload))
    try:
        with transaction():
            lifecycle.transition(order, "on_hold", actor=staff)
            assert heard == []  # not before the commit
    finally:
        events.LISTENERS["order.status_changed"].remove(listener)

    assert heard == [{"order_id": order.id, "from_status": "pending_payment", "to_status": "on_hold"}]


@pytest.mark.parametrize("held_from", lifecycle.OPEN_STATUSES)
def test_release_hold_returns_the_order_to_where_it_was_held_from(db, order, staff, held_from):
    put_in(db, order, held_from)

    lifecycle.hold_order(order, actor=staff, reason="Fraud check")
    assert (order.status, order.held_from) == ("on_hold", held_from)
    lifecycle.release_hold(order, actor=staff)

    assert (order.status, order.held_from) == (held_from, None)
    assert timeline(db, order)[-2:] == [("status", held_from, "on_hold"), ("status", "on_hold", held_from)]


def test_holding_needs_a_reason(order, staff):
    with pytest.raises(InvalidInput) as refused:
        lifecycle.hold_order(order, actor=staff, reason="  ")

    assert "reason" in refused.value.errors and order.status == "pending_payment"


def test_an_order_that_is_not_on_hold_cannot_be_released(order, staff):
    with pytest.raises(Conflict):
        lifecycle.release_hold(order, actor=staff)


def test_an_order_paid_while_on_hold_is_released_to_paid(order, staff):
    with transaction():
        lifecycle.hold_order(order, actor=staff, reason="Address check")
    with transaction():
        payments.mark_paid(order, actor=staff)

    with transaction():
        lifecycle.release_hold(order, actor=staff)

    assert order.status == "paid"


# ---- shipping through the inventory ledger -------------------------------------------------


def level(db, variant, location) -> tuple[int, int]:
    row = db.session.execute(
        select(StockLevel.on_hand, StockLevel.reserved).where(
            StockLevel.variant_id == variant.id, StockLevel.location_id == location.id
        )
    ).one()
    return tuple(row)


def shipped_units(db, order) -> int:
    return -db.session.scalar(
        select(func.sum(InventoryMovement.on_hand_delta)).where(
            InventoryMovement.reference == order.reference, InventoryMovement.kind == "shipment"
        )
    )


def paid(order, staff) -> Order:
    with transaction():
        payments.mark_paid(order, actor=staff)
    return order


def test_shipping_takes_the_reserved_stock_out_and_ships_the_order(db, shop, order, staff):
    paid(order, staff)
    assert level(db, shop.teapot, shop.location) == (10, 2)

    with transaction():
        lifecycle.mark_shipped(order, actor=staff)

    assert (order.status, order.fulfilment_status) == ("shipped", "fulfilled")
    assert level(db, shop.teapot, shop.location) == (8, 0)
    assert shipped_units(db, order) == 2
    assert [line.shipped_quantity for line in order.lines] == [2]


def test_a_backordered_line_makes_the_order_partially_shipped_until_its_stock_arrives(db, shop, staff):
    shop.teapot.backorder_policy = "allow"
    db.session.flush()
    order = place_order_directly([(shop.teapot, 12), (shop.cup, 1)])  # 10 teapots in stock
    assert [line.backordered_quantity for line in order.lines] == [2, 0]
    paid(order, staff)

    with transaction():
        lifecycle.mark_shipped(order, actor=staff)

    assert (order.status, order.fulfilment_status) == ("partially_shipped", "partially_fulfilled")
    assert [line.shipped_quantity for line in order.lines] == [10, 1]
    assert level(db, shop.teapot, shop.location) == (0, 0)
    with pytest.raises(Conflict) as nothing, transaction():
        lifecycle.mark_shipped(order, actor=staff)
    assert nothing.value.code == "nothing_to_ship"

    with transaction():  # the missing teapots arrive and are reserved for the waiting order
        inventory.adjust_stock(shop.teapot, shop.location, 5, reason="Found", actor=staff)
    with transaction():
        lifecycle.mark_shipped(order, actor=staff)

    assert (order.status, order.fulfilment_status) == ("shipped", "fulfilled")
    assert [line.shipped_quantity for line in order.lines] == [12, 1]
    assert level(db, shop.teapot, shop.location) == (3, 0)


def test_an_unpaid_order_does_not_ship(db, shop, order, staff):
    with pytest.raises(Conflict) as refused:
        lifecycle.mark_shipped(order, actor=staff)

    assert refused.value.code == "invalid_transition"
    assert level(db, shop.teapot, shop.location) == (10, 2)


def test_an_order_that_shipped_in_part_cannot_be_cancelled(db, shop, staff):
    shop.teapot.backorder_policy = "allow"
    db.session.flush()
    order = place_order_directly([(shop.teapot, 11)])
    paid(order, staff)
    with transaction():
        lifecycle.mark_shipped(order, actor=staff)

    with pytest.raises(Conflict):
        lifecycle.cancel_order(order, actor=staff, reason="Too late")

    assert order.status == "partially_shipped"
