"""The ledger: levels always equal the sums of their movements, whatever mix of
operations ran, and no operation can take a level out of range."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import func, select

from app.blueprints.inventory import reservations, services
from app.blueprints.inventory.ledger import (
    MovementInput,
    apply_movement,
    ensure_level,
    ledger_mismatches,
    record_movement,
)
from app.blueprints.inventory.models import InventoryMovement, StockLevel
from app.core.errors import Conflict, InvalidInput
from app.core.transaction import transaction
from tests.factories.catalog import LocationFactory
from tests.inventory.helpers import level, make_variant, receive


def ledger_sums() -> dict[tuple[int, int], tuple[int, int]]:
    rows = select(
        InventoryMovement.variant_id,
        InventoryMovement.location_id,
        func.sum(InventoryMovement.on_hand_delta),
        func.sum(InventoryMovement.reserved_delta),
    ).group_by(InventoryMovement.variant_id, InventoryMovement.location_id)
    from app.extensions import db

    return {(v, loc): (on_hand, reserved) for v, loc, on_hand, reserved in db.session.execute(rows)}


def stored_levels() -> dict[tuple[int, int], tuple[int, int]]:
    from app.extensions import db

    rows = db.session.execute(
        select(StockLevel.variant_id, StockLevel.location_id, StockLevel.on_hand, StockLevel.reserved)
    )
    return {(v, loc): (on_hand, reserved) for v, loc, on_hand, reserved in rows}


def test_levels_equal_the_ledger_after_a_random_mix_of_operations(db, staff):
    rng = random.Random(20261125)
    locations = [LocationFactory(position=i) for i in range(3)]
    variants = [make_variant(), make_variant(backorder_policy="allow", backorder_limit=6), make_variant()]
    references: list[str] = []
    done: dict[str, int] = {}

    def pick():
        return rng.choice(variants), rng.choice(locations)

    def reserve():
        reference = f"order:{len(references) + 1}"
        lines = [(rng.choice(variants).id, rng.randint(1, 4)) for _ in range(rng.randint(1, 3))]
        reservations.reserve(lines, reference=reference, actor=None)
        references.append(reference)

    def ship():
        if references:
            reference = rng.choice(references)
            held = db.session.execute(
                select(InventoryMovement.variant_id, InventoryMovement.location_id)
                .where(InventoryMovement.reference == reference, InventoryMovement.kind == "allocation")
                .limit(1)
            ).first()
            if held:
                reservations.ship(held[0], held[1], 1, reference=reference, actor=staff)

    operations = {
        "receive": lambda: receive(*pick(), rng.randint(1, 12), actor=staff),
        "adjust": lambda: services.adjust_stock(
            *pick(), rng.choice([-3, -1, 2, 5]), reason="test", actor=staff
        ),
        "count": lambda: services.count_stock(*pick(), rng.randint(0, 15), actor=staff),
        "transfer": lambda: services.transfer_stock(
            rng.choice(variants), *rng.sample(locations, 2), rng.randint(1, 5), actor=staff
        ),
        "reserve": reserve,
        "release": lambda: references and reservations.release(rng.choice(references)),
        "ship": ship,
        "return": lambda: reservations.restock_return(*(x.id for x in pick()), 1, reference="rma:1"),
    }
    for _ in range(400):
        name = rng.choice(list(operations))
        try:
            with transaction():
                operations[name]()
            done[name] = done.get(name, 0) + 1
        except (Conflict, InvalidInput):
            done[f"{name} refused"] = done.get(f"{name} refused", 0) + 1
    db.session.flush()

    assert {name for name in done if "refused" not in name} == set(operations), done
    assert any("refused" in name for name in done), "the mix should include refused operations"
    assert stored_levels() == ledger_sums()
    assert ledger_mismatches() == []
    for on_hand, reserved in stored_levels().values():
        assert 0 <= reserved <= on_hand


def test_a_movement_that_would_take_stock_that_is_not_there_changes_nothing(db, warehouse):
    variant = make_variant()
    receive(variant, warehouse, 3)
    refused = apply_movement(
        MovementInput(variant.id, warehouse.id, "adjustment", on_hand_delta=-4, reason="loss"), actor=None
    )
    assert refused is None
    with pytest.raises(Conflict) as error:
        record_movement(MovementInput(variant.id, warehouse.id, "allocation", reserved_delta=4), actor=None)
    assert error.value.code == "insufficient_stock"
    assert level(variant, warehouse) == (3, 0)
    assert db.session.scalar(select(func.count()).select_from(InventoryMovement)) == 1


def test_reserved_stock_cannot_be_adjusted_away(db, warehouse, staff):
    variant = make_variant()
    receive(variant, warehouse, 5)
    reservations.reserve([(variant.id, 4)], reference="order:1")
    with pytest.raises(Conflict):
        services.adjust_stock(variant, warehouse, -2, reason="damaged", actor=staff)
    assert level(variant, warehouse) == (5, 4)


def test_the_first_movement_creates_the_level_and_creating_it_twice_is_harmless(db, warehouse):
    variant = make_variant()
    ensure_level(variant.id, warehouse.id)
    ensure_level(variant.id, warehouse.id)
    change = record_movement(
        MovementInput(variant.id, warehouse.id, "receipt", on_hand_delta=7, reference="receipt:1"), actor=None
    )
    assert (change.on_hand, change.reserved, change.available_before) == (7, 0, 0)
    assert level(variant, warehouse) == (7, 0)


def test_a_loaded_level_is_kept_in_step_with_the_update(db, warehouse):
    variant = make_variant()
    receive(variant, warehouse, 2)
    loaded = db.session.get(StockLevel, (variant.id, warehouse.id))
    record_movement(MovementInput(variant.id, warehouse.id, "receipt", on_hand_delta=5), actor=None)
    assert loaded.on_hand == 7


def test_the_ledger_check_finds_a_level_changed_behind_the_ledgers_back(db, warehouse):
    variant = make_variant()
    receive(variant, warehouse, 4)
    assert ledger_mismatches() == []
    db.session.get(StockLevel, (variant.id, warehouse.id)).on_hand = 9
    db.session.flush()
    [mismatch] = ledger_mismatches()
    assert (mismatch.on_hand, mismatch.ledger_on_hand) == (9, 4)


def test_movements_link_staff_actors_only(db, warehouse, staff):
    from tests.factories.customers import CustomerFactory

    variant = make_variant()
    receive(variant, warehouse, 4, actor=staff)
    customer = CustomerFactory()
    reservations.reserve([(variant.id, 1)], reference="order:9", actor=customer)
    db.session.flush()
    actors = dict(db.session.execute(select(InventoryMovement.kind, InventoryMovement.actor_id)).all())
    assert actors == {"receipt": staff.id, "allocation": None}
