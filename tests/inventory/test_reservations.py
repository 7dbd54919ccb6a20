"""Reservations: atomic per line, all or nothing per order, never oversold (also under
real concurrency on PostgreSQL), backordered where the variant allows it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.blueprints.inventory import alerts, receipts, reservations
from app.blueprints.inventory.ledger import ledger_mismatches
from app.blueprints.inventory.models import (
    Backorder,
    InventoryMovement,
    StockAlert,
    StockLevel,
    StockLocation,
)
from app.core.errors import Conflict, InvalidInput
from app.core.models import OutboxMessage
from app.core.transaction import transaction
from tests.concurrency import run_at_once
from tests.factories.auth import UserFactory
from tests.factories.catalog import LocationFactory
from tests.inventory.helpers import level, make_variant, receive
from tests.statements import counted_statements


def movements(db, reference):
    return db.session.scalars(
        select(InventoryMovement)
        .where(InventoryMovement.reference == reference)
        .order_by(InventoryMovement.id)
    ).all()


def test_reserving_a_line_reserves_at_the_first_location_that_has_it_all(db, warehouse, second_warehouse):
    variant = make_variant()
    receive(variant, warehouse, 2)
    receive(variant, second_warehouse, 5)
    [line] = reservations.reserve([(variant.id, 3)], reference="order:1")
    assert [(a.location_id, a.quantity) for a in line.allocations] == [(second_warehouse.id, 3)]
    assert (line.reserved, line.backordered) == (3, 0)
    assert level(variant, second_warehouse) == (5, 3)
    assert [(m.kind, m.reserved_delta, m.on_hand_delta) for m in movements(db, "order:1")] == [
        ("allocation", 3, 0)
    ]


def test_a_line_no_single_location_can_serve_is_split_in_location_order(db, warehouse, second_warehouse):
    variant = make_variant()
    receive(variant, warehouse, 2)
    receive(variant, second_warehouse, 3)
    [line] = reservations.reserve([(variant.id, 4)], reference="order:1")
    assert [(a.location_id, a.quantity) for a in line.allocations] == [
        (warehouse.id, 2),
        (second_warehouse.id, 2),
    ]
    assert level(variant, warehouse) == (2, 2) and level(variant, second_warehouse) == (3, 2)


def test_locations_that_do_not_fulfil_orders_or_are_closed_are_not_used(db, warehouse):
    shop = LocationFactory(code="SHOP", fulfils_orders=False, position=0)
    closed = LocationFactory(code="OLD", position=0)
    variant = make_variant()
    receive(variant, shop, 5)
    receive(variant, closed, 5)
    closed.is_active = False
    with pytest.raises(Conflict) as refused:
        reservations.reserve([(variant.id, 1)], reference="order:1")
    assert refused.value.code == "out_of_stock"


def test_an_order_that_cannot_be_served_whole_leaves_nothing_reserved(db, warehouse):
    plenty, scarce = make_variant(), make_variant()
    receive(plenty, warehouse, 10)
    receive(scarce, warehouse, 1)
    with pytest.raises(Conflict) as refused:
        reservations.reserve([(plenty.id, 4), (scarce.id, 2)], reference="order:1")
    assert refused.value.code == "out_of_stock"
    assert refused.value.errors == {scarce.sku: ["Only 1 can be ordered now."]}
    assert level(plenty, warehouse) == (10, 0) and level(scarce, warehouse) == (1, 0)
    assert movements(db, "order:1") == []


def test_every_line_short_of_stock_is_named_by_sku(db, warehouse):
    first, second = make_variant(), make_variant()
    receive(first, warehouse, 1)
    with pytest.raises(Conflict) as refused:
        reservations.reserve([(first.id, 2), (second.id, 1)], reference="order:1")
    assert set(refused.value.errors) == {first.sku, second.sku}


def test_an_inactive_variant_cannot_be_reserved(db, warehouse):
    variant = make_variant()
    receive(variant, warehouse, 5)
    variant.is_active = False
    with pytest.raises(Conflict) as refused:
        reservations.reserve([(variant.id, 1)], reference="order:1")
    assert refused.value.errors == {variant.sku: ["This item is no longer sold."]}
    assert level(variant, warehouse) == (5, 0)


def test_bad_lines_are_invalid_input(db, warehouse):
    variant = make_variant()
    with pytest.raises(InvalidInput) as refused:
        reservations.reserve([(variant.id, 0), (999999, 1)], reference="")
    assert set(refused.value.errors) == {"reference", "lines.0.quantity", "lines.1.variant_id"}


def test_a_shortfall_is_backordered_when_the_variant_allows_it(db, warehouse):
    variant = make_variant(backorder_policy="allow", backorder_limit=5)
    receive(variant, warehouse, 2)
    [line] = reservations.reserve([(variant.id, 5)], reference="order:1", customer_id=None)
    assert (line.reserved, line.backordered) == (2, 3)
    backorder = db.session.scalar(select(Backorder))
    assert (backorder.quantity, backorder.status, backorder.reference) == (3, "waiting", "order:1")


def test_backorders_stop_at_the_limit_counting_those_already_waiting(db, warehouse):
    variant = make_variant(backorder_policy="allow", backorder_limit=4)
    reservations.reserve([(variant.id, 3)], reference="order:1")
    with pytest.raises(Conflict) as refused:
        reservations.reserve([(variant.id, 2)], reference="order:2")
    assert refused.value.errors == {variant.sku: ["Only 1 can be ordered now."]}
    [line] = reservations.reserve([(variant.id, 1)], reference="order:3")
    assert line.backordered == 1
    assert db.session.scalar(select(func.sum(Backorder.quantity))) == 4


def test_a_variant_without_a_limit_may_be_backordered_without_end(db, warehouse):
    variant = make_variant(backorder_policy="allow", backorder_limit=None)
    [line] = reservations.reserve([(variant.id, 500)], reference="order:1")
    assert line.backordered == 500


def test_release_gives_back_what_the_order_holds_once_and_cancels_its_waiting_backorders(db, warehouse):
    variant = make_variant(backorder_policy="allow")
    receive(variant, warehouse, 3)
    reservations.reserve([(variant.id, 5)], reference="order:1")
    reservations.release("order:1", reason="cancelled by customer")
    assert level(variant, warehouse) == (3, 0)
    assert db.session.scalar(select(Backorder.status)) == "cancelled"
    assert reservations.release("order:1") == []  # twice is harmless
    assert level(variant, warehouse) == (3, 0)


def test_shipping_takes_reserved_stock_out_and_cannot_ship_more_than_reserved(db, warehouse, staff):
    variant = make_variant()
    receive(variant, warehouse, 5)
    reservations.reserve([(variant.id, 2)], reference="order:1")
    reservations.ship(variant.id, warehouse.id, 2, reference="order:1", actor=staff)
    assert level(variant, warehouse) == (3, 0)
    with pytest.raises(Conflict) as refused:
        reservations.ship(variant.id, warehouse.id, 1, reference="order:1", actor=staff)
    assert refused.value.code == "not_reserved"


def test_part_of_a_reservation_can_be_released(db, warehouse):
    variant = make_variant()
    receive(variant, warehouse, 5)
    reservations.reserve([(variant.id, 3)], reference="order:1")
    reservations.release_allocation(variant.id, warehouse.id, 2, reference="order:1")
    assert level(variant, warehouse) == (5, 1)
    with pytest.raises(Conflict):
        reservations.release_allocation(variant.id, warehouse.id, 2, reference="order:1")


def test_returned_goods_go_back_on_hand(db, warehouse, staff):
    variant = make_variant()
    reservations.restock_return(
        variant.id, warehouse.id, 2, reference="return:5", actor=staff, reason="unopened"
    )
    assert level(variant, warehouse) == (2, 0)
    assert [m.kind for m in movements(db, "return:5")] == ["return_restock"]


def test_a_plain_reservation_is_one_statement_on_postgresql(db, warehouse, second_warehouse):
    """The hot path: the level's row lock is held for one statement and the commit."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the one-statement reservation is PostgreSQL's; SQLite takes the portable way")
    variant = make_variant(low_stock_threshold=0)  # no alert crossed: nothing else to write
    receive(variant, warehouse, 1)
    receive(variant, second_warehouse, 5)
    db.session.flush()
    with counted_statements() as statements:
        [line] = reservations.reserve([(variant.id, 3)], reference="order:1")
    assert len(statements) == 1
    assert [(a.location_id, a.quantity) for a in line.allocations] == [(second_warehouse.id, 3)]
    assert level(variant, second_warehouse) == (5, 3)


def test_lines_one_location_each_can_serve_are_reserved_in_one_statement_on_postgresql(
    db, warehouse, second_warehouse
):
    """The checkout's common case: every line of several is whole at its first location that
    has it, and their levels are locked, changed and written to the ledger at once."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the one-statement reservation is PostgreSQL's; SQLite takes the portable way")
    first, second, third = (make_variant(low_stock_threshold=0) for _ in range(3))
    receive(first, warehouse, 5)
    receive(second, warehouse, 1)  # not enough here: the second warehouse has it
    receive(second, second_warehouse, 4)
    receive(third, second_warehouse, 3)
    db.session.flush()
    with counted_statements() as statements:
        lines = reservations.reserve(
            [(third.id, 2), (first.id, 3), (second.id, 2)], reference="order:1", caller_rolls_back=True
        )
    assert len(statements) == 1
    assert [(line.variant_id, [(a.location_id, a.quantity) for a in line.allocations]) for line in lines] == [
        (third.id, [(second_warehouse.id, 2)]),
        (first.id, [(warehouse.id, 3)]),
        (second.id, [(second_warehouse.id, 2)]),
    ]
    assert level(first, warehouse) == (5, 3)
    assert level(second, warehouse) == (1, 0) and level(second, second_warehouse) == (4, 2)
    assert level(third, second_warehouse) == (3, 2)
    assert sorted(
        (m.variant_id, m.location_id, m.reserved_delta) for m in movements(db, "order:1")
    ) == sorted(
        [(first.id, warehouse.id, 3), (second.id, second_warehouse.id, 2), (third.id, second_warehouse.id, 2)]
    )
    assert ledger_mismatches() == []


def test_lines_served_whole_and_lines_split_or_backordered_make_one_reservation(
    db, warehouse, second_warehouse
):
    whole, split = make_variant(), make_variant()
    waiting = make_variant(backorder_policy="allow", backorder_limit=10)
    receive(whole, warehouse, 5)
    receive(split, warehouse, 2)
    receive(split, second_warehouse, 2)
    receive(waiting, warehouse, 1)
    lines = reservations.reserve([(whole.id, 2), (split.id, 3), (waiting.id, 4)], reference="order:1")
    assert [(line.reserved, line.backordered) for line in lines] == [(2, 0), (3, 0), (1, 3)]
    assert [(a.location_id, a.quantity) for a in lines[1].allocations] == [
        (warehouse.id, 2),
        (second_warehouse.id, 1),
    ]
    assert level(whole, warehouse) == (5, 2)
    assert level(split, warehouse) == (2, 2) and level(split, second_warehouse) == (2, 1)
    assert level(waiting, warehouse) == (1, 1)
    assert db.session.scalar(select(Backorder.quantity).where(Backorder.variant_id == waiting.id)) == 3
    assert ledger_mismatches() == []


def test_a_variant_asked_for_twice_in_one_reservation_is_reserved_for_both_lines(db, warehouse):
    variant, other = make_variant(), make_variant()
    receive(variant, warehouse, 5)
    receive(other, warehouse, 5)
    lines = reservations.reserve([(variant.id, 2), (other.id, 1), (variant.id, 3)], reference="order:1")
    assert [line.reserved for line in lines] == [2, 1, 3]
    assert level(variant, warehouse) == (5, 5) and level(other, warehouse) == (5, 1)


# ---- real concurrency (PostgreSQL) -----------------------------------------------------------


def needs_postgresql(db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL; SQLite lets one transaction write at a time")


def run_in_threads(app, count: int, work) -> list:
    """Run work(index) in `count` threads at once, each in its own app context, session and
    transaction; returns each outcome ("ok", an error code, or the unexpected exception)."""
    results = run_at_once(app, [lambda index=index: work(index) for index in range(count)], timeout=60)
    return [result.code if isinstance(result, Conflict) else result for result in results]


def test_many_concurrent_orders_never_oversell_and_lose_nothing(app, committed_db):
    needs_postgresql(committed_db)
    db = committed_db
    location = LocationFactory(code="HOT", low_stock_threshold=5)
    variant = make_variant()
    subscriber = UserFactory(roles=["admin"])
    alerts.subscribe(subscriber, actor=subscriber)
    receive(variant, location, 10)
    db.session.commit()
    variant_id, location_id, address = variant.id, location.id, subscriber.email
    attempts = 3

    def buy(index):
        results = []
        for attempt in range(attempts):
            try:
                with transaction():
                    reservations.reserve([(variant_id, 1)], reference=f"order:{index}-{attempt}")
                results.append("ok")
            except Conflict as refused:
                results.append(refused.code)
        return results

    outcomes = run_in_threads(app, 16, buy)
    flat = [
        result for outcome in outcomes for result in (outcome if isinstance(outcome, list) else [outcome])
    ]
    assert flat.count("ok") == 10, outcomes
    assert flat.count("out_of_stock") == 16 * attempts - 10, outcomes
    db.session.expire_all()
    stored = db.session.get(StockLevel, (variant_id, location_id))
    assert (stored.on_hand, stored.reserved) == (10, 10)
    allocations = db.session.scalar(
        select(func.count()).select_from(InventoryMovement).where(InventoryMovement.kind == "allocation")
    )
    assert allocations == 10
    assert ledger_mismatches() == []
    # Ten orders crossed the threshold of 5 exactly once between them: one alert, one email.
    assert db.session.scalar(select(func.count()).select_from(StockAlert)) == 1
    mails = db.session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.recipients == address)
    )
    assert mails == 1


def test_concurrent_orders_of_the_same_items_in_opposite_order_do_not_deadlock(app, committed_db):
    needs_postgresql(committed_db)
    db = committed_db
    location = LocationFactory(code="X")
    first, second = make_variant(), make_variant()
    receive(first, location, 100)
    receive(second, location, 100)
    db.session.commit()
    ids = (first.id, second.id)

    def order(index):
        lines = [(ids[0], 1), (ids[1], 1)] if index % 2 else [(ids[1], 1), (ids[0], 1)]
        for attempt in range(5):
            with transaction():
                reservations.reserve(lines, reference=f"order:{index}-{attempt}")
        return "ok"

    outcomes = run_in_threads(app, 12, order)
    assert outcomes == ["ok"] * 12
    db.session.expire_all()
    reserved = db.session.scalars(select(StockLevel.reserved).order_by(StockLevel.variant_id)).all()
    assert reserved == [60, 60]
    assert ledger_mismatches() == []


def test_concurrent_backorders_stay_within_the_limit(app, committed_db):
    needs_postgresql(committed_db)
    db = committed_db
    LocationFactory(code="B")
    variant = make_variant(backorder_policy="allow", backorder_limit=5)
    db.session.commit()
    variant_id = variant.id

    def order(index):
        with transaction():
            reservations.reserve([(variant_id, 1)], reference=f"order:{index}")
        return "ok"

    outcomes = run_in_threads(app, 12, order)
    assert sorted(map(str, outcomes)) == ["ok"] * 5 + ["out_of_stock"] * 7
    assert db.session.scalar(select(func.sum(Backorder.quantity))) == 5


def test_receipts_and_backordering_orders_racing_do_not_deadlock_or_lose_units(app, committed_db):
    needs_postgresql(committed_db)
    db = committed_db
    location = LocationFactory(code="R")
    first, second = (make_variant(backorder_policy="allow") for _ in range(2))
    db.session.commit()
    ids = (first.id, second.id)
    location_id = location.id

    def work(index):
        for attempt in range(4):
            with transaction():
                if index % 2:
                    receipt_lines = [
                        receipts.ReceiptLineInput(ids[1], 2),
                        receipts.ReceiptLineInput(ids[0], 2),
                    ]
                    location_row = db.session.get(StockLocation, location_id)
                    receipts.receive_stock(location=location_row, lines=receipt_lines, actor=None)
                else:
                    reservations.reserve([(ids[0], 3), (ids[1], 3)], reference=f"order:{index}-{attempt}")
        return "ok"

    outcomes = run_in_threads(app, 10, work)
    assert outcomes == ["ok"] * 10
    db.session.expire_all()
    # 5 receiving threads x 4 receipts x 2 units = 40 per variant; 5 x 4 orders x 3 = 60 ordered.
    assert db.session.scalars(select(StockLevel.on_hand).order_by(StockLevel.variant_id)).all() == [40, 40]
    for variant_id in ids:
        reserved = db.session.get(StockLevel, (variant_id, location_id)).reserved
        waiting = db.session.scalar(
            select(func.coalesce(func.sum(Backorder.quantity), 0)).where(
                Backorder.variant_id == variant_id, Backorder.status == "waiting"
            )
        )
        assert (reserved, waiting) == (40, 20)
    assert ledger_mismatches() == []


def test_concurrent_orders_of_several_lines_never_oversell_or_deadlock(app, committed_db):
    """Orders of two or three of four scarce SKUs, in every order, racing: each is whole or
    refused, the units sold are exactly the units there were, and the ledger agrees."""
    needs_postgresql(committed_db)
    db = committed_db
    location = LocationFactory(code="M")
    variants = [make_variant() for _ in range(4)]
    for variant in variants:
        receive(variant, location, 12)
    db.session.commit()
    ids = [variant.id for variant in variants]

    def order(index):
        outcomes = []
        for attempt in range(6):
            chosen = [ids[(index + attempt + step) % 4] for step in range(2 + (index + attempt) % 2)]
            lines = [(variant_id, 1 + (index + step) % 2) for step, variant_id in enumerate(reversed(chosen))]
            try:
                with transaction():
                    reservations.reserve(lines, reference=f"order:{index}-{attempt}", caller_rolls_back=True)
                outcomes.append(("ok", lines))
            except Conflict as refused:
                outcomes.append((refused.code, lines))
        return outcomes

    results = run_in_threads(app, 12, order)
    assert all(isinstance(result, list) for result in results), results
    placed = [lines for result in results for code, lines in result if code == "ok"]
    refused = [code for result in results for code, _ in result if code != "ok"]
    assert placed and refused and set(refused) == {"out_of_stock"}
    db.session.expire_all()
    for variant_id in ids:
        sold = sum(
            quantity for lines in placed for line_variant, quantity in lines if line_variant == variant_id
        )
        assert db.session.get(StockLevel, (variant_id, location.id)).reserved == sold <= 12
    assert ledger_mismatches() == []
