"""The order state machine: `lifecycle.ALLOWED` is the whole table, holds return where they
came from, and shipped units (counted by fulfilment's shipments, which move the stock)
make the order partially shipped or shipped."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.blueprints.orders import lifecycle, payments
from app.blueprints.orders.order_models import ORDER_STATUSES, Order, OrderEvent
from app.core import events
from app.core.errors import Conflict, InvalidInput
from app.core.transaction import transaction
from tests.factories.auth import UserFactory
from tests.fulfilment.shipment_helpers import ship_everything
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


# ---- shipped units (fulfilment's shipments move the stock and call this) -----------------------


def paid(order, staff) -> Order:
    with transaction():
        payments.mark_paid(order, actor=staff)
    return order


def test_recorded_units_make_the_order_partially_shipped_then_shipped(db, shop, staff):
    order = paid(place_order_directly([(shop.teapot, 2), (shop.cup, 1)]), staff)
    teapot_line, cup_line = order.lines
    announced = []
    listener = events.subscribe("order.shipped")(lambda event: announced.append(event.payload))
    try:
        with transaction():
            lifecycle.record_shipped_units(order, {teapot_line.id: 1}, actor=staff, shipment_number="X-1")
        assert (order.status, order.fulfilment_status) == ("partially_shipped", "partially_fulfilled")
        with transaction():
            lifecycle.record_shipped_units(
                order, {teapot_line.id: 1, cup_line.id: 1}, actor=staff, shipment_number="X-2"
            )
    finally:
        events.LISTENERS["order.shipped"].remove(listener)

    assert (order.status, order.fulfilment_status) == ("shipped", "fulfilled")
    assert [line.shipped_quantity for line in order.lines] == [2, 1]
    assert timeline(db, order)[-4:] == [
        ("fulfilment", None, None),
        ("status", "paid", "partially_shipped"),
        ("fulfilment", None, None),
        ("status", "partially_shipped", "shipped"),
    ]
    assert [(a["complete"], a["shipment_number"]) for a in announced] == [(False, "X-1"), (True, "X-2")]


def test_recorded_units_never_exceed_what_a_line_holds(shop, staff):
    order = paid(place_order_directly([(shop.cup, 2)]), staff)
    [line] = order.lines

    with pytest.raises(Conflict) as too_many:
        lifecycle.record_shipped_units(order, {line.id: 3}, actor=staff)
    with pytest.raises(InvalidInput) as not_a_line:
        lifecycle.record_shipped_units(order, {line.id + 999: 1, line.id: 0}, actor=staff)

    assert too_many.value.code == "too_many_units" and f"quantities.{line.id}" in too_many.value.errors
    assert set(not_a_line.value.errors) == {f"quantities.{line.id + 999}", f"quantities.{line.id}"}
    assert (line.shipped_quantity, order.status) == (0, "paid")


def test_an_unpaid_order_records_no_shipped_units(order, staff):
    with pytest.raises(Conflict) as refused:
        lifecycle.record_shipped_units(order, {order.lines[0].id: 1}, actor=staff)

    assert refused.value.code == "invalid_transition"
    assert order.lines[0].shipped_quantity == 0


def test_shipping_is_no_order_action_any_more(db, order):
    for status in ORDER_STATUSES:
        put_in(db, order, status)
        assert "ship" not in lifecycle.available_actions(order)
    assert "ship" not in lifecycle.ACTION_PERMISSIONS


def test_an_order_that_shipped_in_part_cannot_be_cancelled(db, shop, staff):
    shop.teapot.backorder_policy = "allow"
    db.session.flush()
    order = paid(place_order_directly([(shop.teapot, 11)]), staff)
    ship_everything(order, actor=staff)  # the 10 in stock; 1 waits

    with pytest.raises(Conflict):
        lifecycle.cancel_order(order, actor=staff, reason="Too late")

    assert db.session.get(Order, order.id).status == "partially_shipped"
