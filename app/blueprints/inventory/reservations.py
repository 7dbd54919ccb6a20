"""Reserving stock for orders, giving it back, shipping it, and putting returns back.

`reserve()` never oversells, however many orders race for the last units: each line is
one conditional UPDATE (`reserved + q` only where `on_hand - reserved >= q`), tried at the
active fulfilling locations by position; lines are taken in variant-id order, so two
orders locking the same rows always lock them in the same order (no deadlock). A line
that cannot be served whole is backordered where the variant allows it, or the whole call
is refused with Conflict(code="out_of_stock", errors={sku: [...]}) and nothing of it stays
(the writes ran in a savepoint). On PostgreSQL an order whose lines one location each can
serve (the common case) is a single statement: pick the locations, update the levels, write
the movements, read the thresholds (`ledger.reserve_first_fit` for one line,
`ledger.reserve_lines_first_fit` for several, which locks the levels in (variant, location)
order first); the levels' row locks are then held for that statement and the commit only,
which is what hot-SKU throughput hangs on. Lines it cannot serve whole take the long way.
Locks are taken in one order everywhere: stock levels by (variant, location), then
variant rows (backorder decisions).

The reservation of an order is the ledger's sum of `reserved_delta` under its reference
("order:1042"): release and ship read it there, so they never give back more than the
order holds. Orders and fulfilment audit their own use cases; movements carry the actor.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field

from sqlalchemy import func, inspect, select
from sqlalchemy.orm.util import identity_key

from app.blueprints.catalog.models import Variant
from app.blueprints.inventory import alerts, backorders, followups
from app.blueprints.inventory.ledger import (
    LevelChange,
    MovementInput,
    apply_movement,
    lock_reference,
    record_movement,
    reserve_first_fit,
    reserve_lines_first_fit,
)
from app.blueprints.inventory.models import Backorder, InventoryMovement, StockLevel, StockLocation
from app.core.errors import Conflict, InvalidInput
from app.core.transaction import savepoint
from app.extensions import db


@dataclass(frozen=True)
class Allocation:
    location_id: int
    quantity: int


@dataclass
class LineAllocation:
    """What one order line got: stock reserved per location, and units backordered."""

    variant_id: int
    quantity: int
    allocations: list[Allocation] = field(default_factory=list)
    backordered: int = 0
    backorder: Backorder | None = None

    @property
    def reserved(self) -> int:
        return sum(a.quantity for a in self.allocations)


class _Refused(Exception):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("out of stock")
        self.errors = errors


# Built once: every reservation of several lines reads them.
FULFILLING_LOCATIONS = (
    select(StockLocation)
    .where(StockLocation.is_active, StockLocation.fulfils_orders)
    .order_by(StockLocation.position, StockLocation.id)
)


def fulfilling_locations() -> list[StockLocation]:
    """The active locations that fulfil orders, in the order they are tried."""
    return list(db.session.scalars(FULFILLING_LOCATIONS))


def _plainly_valid(line, reference: str) -> bool:
    quantity = line[1]
    return bool(reference) and len(reference) <= 100 and type(quantity) is int and quantity > 0


def _checked_lines(lines, reference: str) -> dict[int, Variant]:
    errors: dict[str, list[str]] = {}
    if not reference or len(reference) > 100:
        errors["reference"] = ["Give the order's reference (at most 100 characters)."]
    if not lines:
        errors["lines"] = ["Reserve at least one line."]
    for index, (_variant_id, quantity) in enumerate(lines):
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            errors[f"lines.{index}.quantity"] = ["Must be a whole number above zero."]
    variants = _variants(sorted({variant_id for variant_id, _ in lines}))
    for index, (variant_id, _quantity) in enumerate(lines):
        if variant_id not in variants:
            errors[f"lines.{index}.variant_id"] = ["No such variant."]
    if errors:
        raise InvalidInput("The reservation is not valid.", errors=errors)
    return variants


def _variants(ids: list[int]) -> dict[int, Variant]:
    """The variants by id; those this transaction loaded already (checkout priced them a
    moment ago) come from the session without a query. A query would not refresh them
    either: the session keeps the state it loaded first."""
    found = {}
    for variant_id in ids:
        loaded = db.session.identity_map.get(identity_key(Variant, variant_id))
        if loaded is not None and not inspect(loaded).expired:
            found[variant_id] = loaded
    missing = [variant_id for variant_id in ids if variant_id not in found]
    if missing:
        found.update((v.id, v) for v in db.session.scalars(select(Variant).where(Variant.id.in_(missing))))
    return found


def reserve(
    lines: list[tuple[int, int]],
    *,
    reference: str,
    actor=None,
    customer_id: int | None = None,
    caller_rolls_back: bool = False,
) -> list[LineAllocation]:
    """Reserve stock for order lines [(variant id, quantity)], all or nothing; returns one
    LineAllocation per line, in the given order. `caller_rolls_back`: the caller's whole
    transaction rolls back when the reservation is refused (checkout), so the lines need
    no savepoint of their own to undo."""
    if len(lines) == 1 and _plainly_valid(lines[0], reference):
        # The common case, in one statement where the database allows (see the ledger).
        variant_id, quantity = lines[0]
        change = reserve_first_fit(
            variant_id,
            quantity,
            reference=reference,
            actor=actor,
            default_threshold=alerts.default_threshold(),
        )
        if change is not None:
            followups.after_changes([change], actor=actor)
            return [_whole(variant_id, quantity, change)]
    variants = _checked_lines(lines, reference)
    # Held for the whole call: the session keeps loaded rows only while something refers
    # to them, and the follow-ups read thresholds from these without a query.
    loaded_locations: list[StockLocation] = []
    variant_id, quantity = lines[0]
    if len(lines) == 1 and variants[variant_id].is_active:
        # The common case: one conditional UPDATE, nothing to undo if it matches nothing.
        loaded_locations = fulfilling_locations()
        changes = _take_whole(
            variant_id, quantity, [location.id for location in loaded_locations], reference, actor
        )
        if changes:
            followups.after_changes(changes, actor=actor)
            return [_whole(variant_id, quantity, changes[0])]
    try:
        with nullcontext() if caller_rolls_back else savepoint():
            # Several lines: those one location can serve whole in one statement, first
            # (PostgreSQL); a refusal of the rest undoes them with it.
            served = {}
            if len(lines) > 1:
                served = reserve_lines_first_fit(
                    lines, reference=reference, actor=actor, default_threshold=alerts.default_threshold()
                )
            if len(served) < len(lines):
                loaded_locations = loaded_locations or fulfilling_locations()
            locations = [location.id for location in loaded_locations]
            results, changes = _reserve_lines(
                lines, variants, locations, reference, actor, customer_id, served
            )
    except _Refused as refused:
        raise Conflict(
            "Some items are not available in the quantity asked for.",
            code="out_of_stock",
            errors=refused.errors,
        ) from None
    followups.after_changes(changes, actor=actor)
    return results


def _whole(variant_id: int, quantity: int, change: LevelChange) -> LineAllocation:
    return LineAllocation(variant_id, quantity, [Allocation(change.location_id, quantity)])


def _reserve_lines(lines, variants, locations, reference, actor, customer_id, served):
    """Stock first, backorders second, for the lines not `served` whole already. Locks are
    always taken in one order, the one receipts and releases use too: stock levels by
    (variant id, location id), then variant rows (backorder decisions) by variant id. Two
    transactions can then never each hold what the other waits for."""
    results: list[LineAllocation | None] = [None] * len(lines)
    changes: list[LevelChange] = []
    errors: dict[str, list[str]] = {}
    short: list[int] = []
    for index in sorted(range(len(lines)), key=lambda i: (lines[i][0], i)):
        variant_id, quantity = lines[index]
        variant = variants[variant_id]
        if variant_id in served:
            changes.append(served[variant_id])
            results[index] = _whole(variant_id, quantity, served[variant_id])
            continue
        if not variant.is_active:
            errors[variant.sku] = ["This item is no longer sold."]
            continue
        line, line_changes = _allocate_line(variant.id, quantity, locations, reference, actor)
        changes.extend(line_changes)
        results[index] = line
        if line.reserved < quantity:
            short.append(index)
    for index in short:  # still in variant-id order
        variant, line = variants[lines[index][0]], results[index]
        missing = line.quantity - line.reserved
        room = 0
        if variant.backorder_policy == "allow":
            backorders.lock_variant(variant.id)
            room = backorders.backorder_room(variant)
        if room is not None and room < missing:
            errors[variant.sku] = [f"Only {line.reserved + room} can be ordered now."]
            continue
        line.backordered = missing
        line.backorder = backorders.create_backorder(
            variant, missing, reference=reference, customer_id=customer_id
        )
    if errors:
        raise _Refused(errors)  # inside the savepoint: every write above is undone
    return results, changes


def _take_whole(variant_id, quantity, locations, reference, actor) -> list[LevelChange]:
    """The line from one location, the first (by position) that has it all. A try that
    matches nothing holds no lock."""
    for location_id in locations:
        change = apply_movement(
            MovementInput(
                variant_id, location_id, "allocation", reserved_delta=quantity, reference=reference
            ),
            actor=actor,
        )
        if change is not None:
            return [change]
    return []


def _allocate_line(variant_id, quantity, locations, reference, actor):
    """(LineAllocation with what stock could serve, the changes made for it)."""
    changes = _take_whole(variant_id, quantity, locations, reference, actor)
    if changes:
        return _whole(variant_id, quantity, changes[0]), changes
    # Split: plan by position from what is free, take in location-id order (the lock order).
    plan: dict[int, int] = {}
    for location_id, free in _free_by_location(variant_id, locations):
        take = min(free, quantity - sum(plan.values()))
        if take > 0:
            plan[location_id] = take
    line = LineAllocation(variant_id, quantity)
    for location_id in sorted(plan):
        change = apply_movement(
            MovementInput(
                variant_id, location_id, "allocation", reserved_delta=plan[location_id], reference=reference
            ),
            actor=actor,
        )
        if change is not None:  # None: someone took it meanwhile; that part stays short
            changes.append(change)
            line.allocations.append(Allocation(location_id, plan[location_id]))
    line.allocations.sort(key=lambda a: locations.index(a.location_id))
    return line, changes


def _free_by_location(variant_id: int, locations: list[int]) -> list[tuple[int, int]]:
    if not locations:
        return []
    rows = dict(
        db.session.execute(
            select(StockLevel.location_id, StockLevel.on_hand - StockLevel.reserved).where(
                StockLevel.variant_id == variant_id,
                StockLevel.location_id.in_(locations),
                StockLevel.on_hand > StockLevel.reserved,
            )
        ).all()
    )
    return [(location_id, rows[location_id]) for location_id in locations if location_id in rows]


# ---- after the reservation ---------------------------------------------------------------


def reserved_under(reference: str, variant_id: int | None = None, location_id: int | None = None) -> int:
    """Units the reference holds reserved (at one variant / location when given)."""
    query = select(func.coalesce(func.sum(InventoryMovement.reserved_delta), 0)).where(
        InventoryMovement.reference == reference
    )
    if variant_id is not None:
        query = query.where(InventoryMovement.variant_id == variant_id)
    if location_id is not None:
        query = query.where(InventoryMovement.location_id == location_id)
    return db.session.scalar(query)


def _check_quantity(quantity) -> None:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise InvalidInput(
            "The quantity must be a whole number above zero.", errors={"quantity": ["Must be above 0."]}
        )


def _held(reference, variant_id, location_id, quantity) -> None:
    held = reserved_under(reference, variant_id, location_id)
    if held < quantity:
        raise Conflict(
            f"{reference} holds {held} reserved here, not {quantity}.",
            code="not_reserved",
            errors={"quantity": [f"At most {held}."]},
        )


def release(reference: str, *, actor=None, reason: str = "") -> list[LevelChange]:
    """Give back everything `reference` holds reserved, and cancel its waiting backorders
    (its order was cancelled). Idempotent: a second release finds nothing held."""
    lock_reference(reference)
    held = db.session.execute(
        select(
            InventoryMovement.variant_id,
            InventoryMovement.location_id,
            func.sum(InventoryMovement.reserved_delta),
        )
        .where(InventoryMovement.reference == reference)
        .group_by(InventoryMovement.variant_id, InventoryMovement.location_id)
        .having(func.sum(InventoryMovement.reserved_delta) > 0)
        .order_by(InventoryMovement.variant_id, InventoryMovement.location_id)
    ).all()
    changes = [
        record_movement(
            MovementInput(
                variant_id, location_id, "release", reserved_delta=-units, reason=reason, reference=reference
            ),
            actor=actor,
        )
        for variant_id, location_id, units in held
    ]
    backorders.cancel_waiting_for(reference)
    return followups.after_changes(changes, actor=actor)[: len(changes)]


def release_allocation(
    variant_id: int, location_id: int, quantity: int, *, reference: str, actor=None, reason: str = ""
) -> LevelChange:
    """Give back part of a reservation (an order line was reduced)."""
    _check_quantity(quantity)
    lock_reference(reference)
    _held(reference, variant_id, location_id, quantity)
    change = record_movement(
        MovementInput(
            variant_id, location_id, "release", reserved_delta=-quantity, reason=reason, reference=reference
        ),
        actor=actor,
    )
    followups.after_changes([change], actor=actor)
    return change


def ship(variant_id: int, location_id: int, quantity: int, *, reference: str, actor=None) -> LevelChange:
    """Reserved stock leaves the building: on hand and reserved both drop by `quantity`."""
    _check_quantity(quantity)
    lock_reference(reference)
    _held(reference, variant_id, location_id, quantity)
    change = record_movement(
        MovementInput(
            variant_id,
            location_id,
            "shipment",
            on_hand_delta=-quantity,
            reserved_delta=-quantity,
            reference=reference,
        ),
        actor=actor,
    )
    followups.after_changes([change], actor=actor)
    return change


def restock_return(
    variant_id: int, location_id: int, quantity: int, *, reference: str, actor=None, reason: str = ""
) -> LevelChange:
    """Returned goods go back on the shelf (and serve waiting backorders first)."""
    _check_quantity(quantity)
    change = record_movement(
        MovementInput(
            variant_id,
            location_id,
            "return_restock",
            on_hand_delta=quantity,
            reason=reason,
            reference=reference,
        ),
        actor=actor,
    )
    followups.after_changes([change], actor=actor)
    return change
