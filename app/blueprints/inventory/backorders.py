"""Backorders: quantities sold beyond stock, for variants whose policy allows it, waiting
for stock; served first come, first served (by id) when stock becomes free at a location
that fulfils orders.

A variant with `backorder_policy == "allow"` may be backordered up to `backorder_limit`
units waiting at once (no limit when None). Allocating reserves the stock under the
backorder's reference (the order line's), as a reservation would have; when only part of
the oldest backorder can be served, the served part becomes its own allocated backorder
and the rest keeps its place at the head of the line.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select

from app.blueprints.catalog.models import Variant
from app.blueprints.inventory.ledger import LevelChange, MovementInput, apply_movement, lock_rows_clause
from app.blueprints.inventory.models import Backorder, StockLevel, StockLocation
from app.core import audit
from app.core.errors import Conflict, NotFound
from app.core.events import emit
from app.core.timeutil import utcnow
from app.extensions import db


def get_backorder(backorder_id: int) -> Backorder:
    backorder = db.session.get(Backorder, backorder_id)
    if backorder is None:
        raise NotFound(f"No backorder {backorder_id}.")
    return backorder


def waiting_quantity(variant_id: int) -> int:
    return db.session.scalar(
        select(func.coalesce(func.sum(Backorder.quantity), 0)).where(
            Backorder.variant_id == variant_id, Backorder.status == "waiting"
        )
    )


def backorder_room(variant: Variant) -> int | None:
    """How many more units may be backordered now: None for no limit, 0 when denied.
    Call with the variant row locked when about to use the room."""
    if variant.backorder_policy != "allow" or not variant.is_active:
        return 0
    if variant.backorder_limit is None:
        return None
    return max(variant.backorder_limit - waiting_quantity(variant.id), 0)


def lock_variant(variant_id: int) -> None:
    """Serialise backorder decisions of one variant (two orders must not both take the last
    room under the limit, two receipts must not both serve one backorder)."""
    # NO KEY UPDATE: every movement and backorder inserted for the variant checks its foreign
    # key with FOR KEY SHARE on this row, which a plain FOR UPDATE would block (deadlocks).
    db.session.execute(lock_rows_clause(select(Variant.id).where(Variant.id == variant_id), key_share=True))


def create_backorder(
    variant: Variant, quantity: int, *, reference: str, customer_id: int | None = None
) -> Backorder:
    backorder = Backorder(
        variant_id=variant.id,
        quantity=quantity,
        status="waiting",
        reference=reference[:100],
        customer_id=customer_id,
        created_at=utcnow(),
    )
    db.session.add(backorder)
    return backorder


def cancel_backorder(backorder: Backorder, *, actor, reason: str = "") -> Backorder:
    """Take a waiting backorder out of the line. An allocated one holds reserved stock:
    release the order's reservation instead (reservations.release)."""
    if backorder.status == "cancelled":
        return backorder
    if backorder.status != "waiting":
        raise Conflict(
            "This backorder has been allocated stock; release the order's reservation instead.",
            code="backorder_allocated",
        )
    backorder.status = "cancelled"
    audit.record(
        "inventory.backorder_cancelled",
        actor=actor,
        target=backorder,
        summary=f"Backorder {backorder.id} ({backorder.quantity} units, {backorder.reference}) cancelled",
        reason=reason,
    )
    db.session.flush()
    return backorder


def cancel_waiting_for(reference: str) -> int:
    """Cancel every waiting backorder of a reference (its order was cancelled)."""
    waiting = db.session.scalars(
        select(Backorder).where(Backorder.reference == reference, Backorder.status == "waiting")
    ).all()
    for backorder in waiting:
        backorder.status = "cancelled"
    return len(waiting)


def variants_waiting(variant_ids: Iterable[int]) -> set[int]:
    ids = sorted(set(variant_ids))
    if not ids:
        return set()
    return set(
        db.session.scalars(
            select(Backorder.variant_id)
            .where(Backorder.variant_id.in_(ids), Backorder.status == "waiting")
            .distinct()
        )
    )


def allocate_waiting(increases: dict[int, list[int]], *, actor) -> list[LevelChange]:
    """Serve waiting backorders, oldest first, from the free stock of the given
    variant -> [location ids] (those whose available stock just grew). Only active
    locations that fulfil orders serve backorders. Returns the allocation changes."""
    changes: list[LevelChange] = []
    for variant_id in sorted(variants_waiting(increases)):
        changes.extend(_allocate_variant(variant_id, increases[variant_id], actor=actor))
    return changes


def _serving_locations(variant_id: int, location_ids: list[int]) -> list[tuple[int, int]]:
    """(location id, free units) of the locations that may serve, in fulfilment order."""
    rows = db.session.execute(
        select(StockLevel.location_id, StockLevel.on_hand - StockLevel.reserved)
        .join(StockLocation, StockLocation.id == StockLevel.location_id)
        .where(
            StockLevel.variant_id == variant_id,
            StockLevel.location_id.in_(sorted(set(location_ids))),
            StockLocation.is_active,
            StockLocation.fulfils_orders,
            StockLevel.on_hand > StockLevel.reserved,
        )
        .order_by(StockLocation.position, StockLocation.id)
    )
    return [(location_id, free) for location_id, free in rows]


def _allocate_variant(variant_id: int, location_ids: list[int], *, actor) -> list[LevelChange]:
    lock_variant(variant_id)
    free = dict(_serving_locations(variant_id, location_ids))
    if not free:
        return []
    waiting = db.session.scalars(
        select(Backorder)
        .where(Backorder.variant_id == variant_id, Backorder.status == "waiting")
        .order_by(Backorder.id)
    ).all()
    changes: list[LevelChange] = []
    for backorder in waiting:
        for location_id in list(free):
            take = min(free[location_id], backorder.quantity)
            change = apply_movement(
                MovementInput(
                    variant_id, location_id, "allocation", reserved_delta=take, reference=backorder.reference
                ),
                actor=actor,
            )
            if change is None:  # cannot happen while we hold the level's lock; be safe anyway
                free.pop(location_id)
                continue
            changes.append(change)
            free[location_id] -= take
            if not free[location_id]:
                free.pop(location_id)
            _mark_allocated(backorder, take, location_id)
            if backorder.status == "allocated":
                break
        if backorder.status == "waiting":
            break  # the stock ran out: later backorders keep waiting behind this one
    return changes


def _mark_allocated(backorder: Backorder, quantity: int, location_id: int) -> None:
    now = utcnow()
    if quantity == backorder.quantity:
        served = backorder
        served.status, served.location_id, served.allocated_at = "allocated", location_id, now
    else:
        served = Backorder(
            variant_id=backorder.variant_id,
            quantity=quantity,
            status="allocated",
            reference=backorder.reference,
            customer_id=backorder.customer_id,
            location_id=location_id,
            created_at=backorder.created_at,
            allocated_at=now,
        )
        db.session.add(served)
        backorder.quantity -= quantity
    db.session.flush()
    emit(
        "inventory.backorder_allocated",
        backorder_id=served.id,
        reference=served.reference,
        variant_id=served.variant_id,
        location_id=location_id,
        quantity=quantity,
        still_waiting=0 if served is backorder else backorder.quantity,
    )
