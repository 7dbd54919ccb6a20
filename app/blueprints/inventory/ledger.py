"""The stock ledger: the one place that writes `stock_levels`, always together with the
`inventory_movements` row that explains the change.

A change is one conditional UPDATE that adds the deltas only if the level stays in range
(on hand >= 0, 0 <= reserved <= on hand), so two transactions racing for the last unit
cannot both win: the second one's UPDATE waits for the first one's row lock, re-reads the
row and matches nothing. The CHECK constraints are the backstop behind this guard, never
the mechanism: a CHECK violation would abort the whole PostgreSQL transaction, a guard
that matches nothing leaves it usable (the caller may try another location).

Follow-ups of a change (alerts, backorders, back-in-stock mail) are not done here: see
`followups.after_changes`, which every use case calls once with all its changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.blueprints.inventory.models import MOVEMENT_KINDS, InventoryMovement, StockLevel, StockLocation
from app.core.audit import is_staff
from app.core.errors import Conflict
from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db


@dataclass(frozen=True)
class MovementInput:
    variant_id: int
    location_id: int
    kind: str
    on_hand_delta: int = 0
    reserved_delta: int = 0
    reason: str = ""
    reference: str = ""


@dataclass(frozen=True)
class LevelChange:
    """A movement and the level it left behind (read in the same statement that changed it)."""

    movement: RecordedMovement
    on_hand: int
    reserved: int
    # The low-stock threshold in force, when the statement that made the change read it
    # (the variant and location then being active); None: look it up.
    threshold: int | None = None

    @property
    def variant_id(self) -> int:
        return self.movement.variant_id

    @property
    def location_id(self) -> int:
        return self.movement.location_id

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    @property
    def available_before(self) -> int:
        return (self.on_hand - self.movement.on_hand_delta) - (self.reserved - self.movement.reserved_delta)


def dialect_name() -> str:
    return db.session.get_bind().dialect.name


def insert_ignoring_conflicts(model):
    """INSERT that silently skips rows a unique index refuses: ON CONFLICT DO NOTHING on
    PostgreSQL, its SQLite twin (`INSERT ... ON CONFLICT DO NOTHING`, as INSERT OR IGNORE)."""
    dialect = postgresql if dialect_name() == "postgresql" else sqlite
    return dialect.insert(model).on_conflict_do_nothing()


def ensure_level(variant_id: int, location_id: int) -> None:
    """Create the (variant, location) level at zero unless it exists; safe under races."""
    db.session.execute(
        insert_ignoring_conflicts(StockLevel).values(
            variant_id=variant_id, location_id=location_id, on_hand=0, reserved=0, updated_at=utcnow()
        )
    )


def lock_rows_clause(query, *, key_share: bool = False):
    """`FOR UPDATE` where the database has row locks (SQLite has one writer at a time).
    With `key_share`, `FOR NO KEY UPDATE`: it still serialises the lockers but lets rows
    that reference this one be inserted meanwhile (their foreign key check takes FOR KEY
    SHARE, which FOR UPDATE would block)."""
    return query.with_for_update(key_share=key_share) if dialect_name() == "postgresql" else query


def lock_reference(reference: str) -> None:
    """Serialise the use cases of one reference (an order) for the rest of the transaction,
    so that two releases of one order cannot both give its reservation back."""
    if dialect_name() == "postgresql":
        db.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:ref, 0))"), {"ref": reference}
        )


# The guarded UPDATE and the movement's INSERT in one statement: the level's row lock is
# then held for this one round trip and the COMMIT, not across a second statement and the
# ORM's flush (under many clients for one hot row, the lock hold time is the throughput).
CHANGE_LEVEL = text(
    """
    UPDATE stock_levels
    SET on_hand = on_hand + :on_hand_delta, reserved = reserved + :reserved_delta, updated_at = :now
    WHERE variant_id = :variant_id AND location_id = :location_id
      AND on_hand + :on_hand_delta >= 0
      AND reserved + :reserved_delta >= 0
      AND reserved + :reserved_delta <= on_hand + :on_hand_delta
    RETURNING on_hand, reserved
    """
).bindparams(bindparam("now", type_=UTCDateTime()))
CHANGE_AND_RECORD = text(
    """
    WITH level AS (
        UPDATE stock_levels
        SET on_hand = on_hand + :on_hand_delta, reserved = reserved + :reserved_delta, updated_at = :now
        WHERE variant_id = :variant_id AND location_id = :location_id
          AND on_hand + :on_hand_delta >= 0
          AND reserved + :reserved_delta >= 0
          AND reserved + :reserved_delta <= on_hand + :on_hand_delta
        RETURNING on_hand, reserved
    ),
    movement AS (
        INSERT INTO inventory_movements (variant_id, location_id, kind, on_hand_delta, reserved_delta,
                                         reason, reference, actor_id, created_at)
        SELECT CAST(:variant_id AS INTEGER), CAST(:location_id AS INTEGER), CAST(:kind AS VARCHAR),
               CAST(:on_hand_delta AS INTEGER), CAST(:reserved_delta AS INTEGER), CAST(:reason AS VARCHAR),
               CAST(:reference AS VARCHAR), CAST(:actor_id AS INTEGER), :now
        FROM level
        RETURNING id
    )
    SELECT movement.id, level.on_hand, level.reserved FROM level, movement
    """
).bindparams(bindparam("now", type_=UTCDateTime()))


@dataclass(frozen=True)
class RecordedMovement:
    """A movement as written (the ledger row's values; rows are never changed after)."""

    id: int
    variant_id: int
    location_id: int
    kind: str
    on_hand_delta: int
    reserved_delta: int
    reason: str
    reference: str
    actor_id: int | None
    created_at: datetime


def _change_and_record(values: dict):
    """(movement id, on hand, reserved) after the change, or None when it would not fit."""
    if dialect_name() == "postgresql":
        return db.session.execute(CHANGE_AND_RECORD, values).first()
    # SQLite has no data-modifying CTE; it runs one writing transaction at a time anyway.
    row = db.session.execute(CHANGE_LEVEL, values).first()
    if row is None:
        return None
    movement_id = db.session.execute(
        insert(InventoryMovement.__table__)
        .values(
            variant_id=values["variant_id"],
            location_id=values["location_id"],
            kind=values["kind"],
            on_hand_delta=values["on_hand_delta"],
            reserved_delta=values["reserved_delta"],
            reason=values["reason"],
            reference=values["reference"],
            actor_id=values["actor_id"],
            created_at=values["now"],
        )
        .returning(InventoryMovement.__table__.c.id)
    ).scalar_one()
    return movement_id, row.on_hand, row.reserved


def _fits_an_empty_level(spec: MovementInput) -> bool:
    return spec.on_hand_delta >= 0 and 0 <= spec.reserved_delta <= spec.on_hand_delta


def apply_movement(spec: MovementInput, *, actor) -> LevelChange | None:
    """Apply the deltas and write the movement, or do nothing and return None when the
    level would leave its range (not enough stock, or reserved stock taken away)."""
    if spec.kind not in MOVEMENT_KINDS:
        raise ValueError(f"unknown movement kind {spec.kind!r}")
    db.session.flush()  # pending ORM changes first: the statement below bypasses the session
    values = {
        "variant_id": spec.variant_id,
        "location_id": spec.location_id,
        "kind": spec.kind,
        "on_hand_delta": spec.on_hand_delta,
        "reserved_delta": spec.reserved_delta,
        "reason": spec.reason[:300],
        "reference": spec.reference[:100],
        # Customers act on the storefront, but only staff users are linked by id.
        "actor_id": actor.id if is_staff(actor) else None,
        "now": utcnow(),
    }
    row = _change_and_record(values)
    if row is None and _fits_an_empty_level(spec):
        ensure_level(spec.variant_id, spec.location_id)  # a first movement here
        row = _change_and_record(values)
    if row is None:
        return None
    movement_id, on_hand, reserved = row
    _keep_loaded_level_in_step(spec.variant_id, spec.location_id, on_hand, reserved)
    fields = {name: values[name] for name in ("variant_id", "location_id", "kind", "on_hand_delta")}
    movement = RecordedMovement(
        id=movement_id,
        **fields,
        reserved_delta=spec.reserved_delta,
        reason=values["reason"],
        reference=values["reference"],
        actor_id=values["actor_id"],
        created_at=values["now"],
    )
    return LevelChange(movement, on_hand, reserved)


def _keep_loaded_level_in_step(variant_id: int, location_id: int, on_hand: int, reserved: int) -> None:
    """A level the session holds is given the new figures without reloading it."""
    loaded = db.session.identity_map.get(identity_key(StockLevel, (variant_id, location_id)))
    if loaded is not None:
        set_committed_value(loaded, "on_hand", on_hand)
        set_committed_value(loaded, "reserved", reserved)


# A whole order line from the first active fulfilling location (by position) that has it
# free, in one statement that also writes the movement and reads the threshold: the
# common reservation is this and the COMMIT, with nothing to load before it. The guard is
# checked again on the locked row (a concurrent order may have taken the stock since the
# location was picked); if it no longer holds, nothing is written and the caller takes
# the long way round (other locations, a split, a backorder).
RESERVE_FIRST_FIT = text(
    """
    WITH target AS (
        SELECT sl.location_id,
               COALESCE(v.low_stock_threshold, l.low_stock_threshold, CAST(:default_threshold AS INTEGER))
                   AS threshold
        FROM stock_levels sl
        JOIN stock_locations l ON l.id = sl.location_id
        JOIN variants v ON v.id = sl.variant_id
        WHERE sl.variant_id = :variant_id AND v.is_active AND l.is_active AND l.fulfils_orders
          AND sl.on_hand - sl.reserved >= :quantity
        ORDER BY l.position, l.id
        LIMIT 1
    ),
    level AS (
        UPDATE stock_levels
        SET reserved = stock_levels.reserved + :quantity, updated_at = :now
        FROM target
        WHERE stock_levels.variant_id = :variant_id AND stock_levels.location_id = target.location_id
          AND stock_levels.reserved + :quantity <= stock_levels.on_hand
        RETURNING stock_levels.location_id, stock_levels.on_hand, stock_levels.reserved, target.threshold
    ),
    movement AS (
        INSERT INTO inventory_movements (variant_id, location_id, kind, on_hand_delta, reserved_delta,
                                         reason, reference, actor_id, created_at)
        SELECT CAST(:variant_id AS INTEGER), level.location_id, 'allocation', 0, CAST(:quantity AS INTEGER),
               '', CAST(:reference AS VARCHAR), CAST(:actor_id AS INTEGER), :now
        FROM level
        RETURNING id
    )
    SELECT movement.id, level.location_id, level.on_hand, level.reserved, level.threshold FROM level, movement
    """
).bindparams(bindparam("now", type_=UTCDateTime()))


def reserve_first_fit(
    variant_id: int, quantity: int, *, reference: str, actor, default_threshold: int
) -> LevelChange | None:
    """Reserve `quantity` at the first fulfilling location that has it all, in one
    statement (PostgreSQL); None when none has it, or on SQLite (take the long way)."""
    if dialect_name() != "postgresql":
        return None
    values = {
        "variant_id": variant_id,
        "quantity": quantity,
        "reference": reference[:100],
        "actor_id": actor.id if is_staff(actor) else None,
        "now": utcnow(),
        "default_threshold": default_threshold,
    }
    db.session.flush()
    row = db.session.execute(RESERVE_FIRST_FIT, values).first()
    if row is None:
        return None
    movement_id, location_id, on_hand, reserved, threshold = row
    return _allocated(values, movement_id, variant_id, location_id, quantity, on_hand, reserved, threshold)


def _allocated(values, movement_id, variant_id, location_id, quantity, on_hand, reserved, threshold):
    """The LevelChange of an allocation a first-fit statement made."""
    _keep_loaded_level_in_step(variant_id, location_id, on_hand, reserved)
    movement = RecordedMovement(
        id=movement_id,
        variant_id=variant_id,
        location_id=location_id,
        kind="allocation",
        on_hand_delta=0,
        reserved_delta=quantity,
        reason="",
        reference=values["reference"],
        actor_id=values["actor_id"],
        created_at=values["now"],
    )
    return LevelChange(movement, on_hand, reserved, threshold)


# Several order lines at once (distinct variants), each whole from the first active
# fulfilling location (by position) that has it free, in one statement. Every level of
# those variants at the fulfilling locations is locked first, in (variant, location)
# order, the order every other writer of stock levels keeps, so two multi-line checkouts
# sharing SKUs cannot deadlock; the locked rows are the latest versions, and the UPDATE's
# guard is checked on them again. Lines that no one location can serve whole (or whose
# variant is inactive) are left out of the answer for the caller's long way round, which
# then finds their levels locked by this transaction already.
RESERVE_LINES_FIRST_FIT = text(
    """
    WITH wanted AS (
        SELECT w.variant_id, w.quantity
        FROM unnest(CAST(:variant_ids AS INTEGER[]), CAST(:quantities AS INTEGER[]))
            AS w(variant_id, quantity)
    ),
    locked AS MATERIALIZED (
        SELECT sl.variant_id, sl.location_id, sl.on_hand, sl.reserved
        FROM stock_levels sl
        JOIN stock_locations l ON l.id = sl.location_id
        WHERE sl.variant_id = ANY(CAST(:variant_ids AS INTEGER[])) AND l.is_active AND l.fulfils_orders
        ORDER BY sl.variant_id, sl.location_id
        FOR UPDATE OF sl
    ),
    target AS (
        SELECT DISTINCT ON (k.variant_id) k.variant_id, k.location_id, w.quantity,
               COALESCE(v.low_stock_threshold, l.low_stock_threshold, CAST(:default_threshold AS INTEGER))
                   AS threshold
        FROM locked k
        JOIN wanted w ON w.variant_id = k.variant_id
        JOIN stock_locations l ON l.id = k.location_id
        JOIN variants v ON v.id = k.variant_id
        WHERE v.is_active AND k.on_hand - k.reserved >= w.quantity
        ORDER BY k.variant_id, l.position, l.id
    ),
    level AS (
        UPDATE stock_levels
        SET reserved = stock_levels.reserved + target.quantity, updated_at = :now
        FROM target
        WHERE stock_levels.variant_id = target.variant_id AND stock_levels.location_id = target.location_id
          AND stock_levels.reserved + target.quantity <= stock_levels.on_hand
        RETURNING stock_levels.variant_id, stock_levels.location_id, stock_levels.on_hand,
                  stock_levels.reserved, target.quantity, target.threshold
    ),
    movement AS (
        INSERT INTO inventory_movements (variant_id, location_id, kind, on_hand_delta, reserved_delta,
                                         reason, reference, actor_id, created_at)
        SELECT level.variant_id, level.location_id, 'allocation', 0, level.quantity,
               '', CAST(:reference AS VARCHAR), CAST(:actor_id AS INTEGER), :now
        FROM level
        ORDER BY level.variant_id
        RETURNING id, variant_id
    )
    SELECT movement.id, level.variant_id, level.location_id, level.quantity, level.on_hand, level.reserved,
           level.threshold
    FROM level JOIN movement ON movement.variant_id = level.variant_id
    """
).bindparams(bindparam("now", type_=UTCDateTime()))


def reserve_lines_first_fit(
    lines: list[tuple[int, int]], *, reference: str, actor, default_threshold: int
) -> dict[int, LevelChange]:
    """Reserve each line [(variant id, quantity)] whole at the first fulfilling location that
    has it, in one statement (PostgreSQL, variants distinct): the changes by variant id of
    the lines it served. {} on SQLite, or when a variant comes twice (take the long way)."""
    variant_ids = [variant_id for variant_id, _ in lines]
    if dialect_name() != "postgresql" or len(set(variant_ids)) != len(variant_ids):
        return {}
    values = {
        "variant_ids": variant_ids,
        "quantities": [quantity for _, quantity in lines],
        "reference": reference[:100],
        "actor_id": actor.id if is_staff(actor) else None,
        "now": utcnow(),
        "default_threshold": default_threshold,
    }
    db.session.flush()
    rows = db.session.execute(RESERVE_LINES_FIRST_FIT, values)
    changes = {}
    for movement_id, variant_id, location_id, quantity, on_hand, reserved, threshold in rows:
        changes[variant_id] = _allocated(
            values, movement_id, variant_id, location_id, quantity, on_hand, reserved, threshold
        )
    return changes


def current_level(variant_id: int, location_id: int) -> tuple[int, int]:
    """(on hand, reserved) now; (0, 0) when the variant was never stocked there."""
    row = db.session.execute(
        select(StockLevel.on_hand, StockLevel.reserved).where(
            StockLevel.variant_id == variant_id, StockLevel.location_id == location_id
        )
    ).first()
    return (row.on_hand, row.reserved) if row else (0, 0)


def record_movement(spec: MovementInput, *, actor) -> LevelChange:
    """`apply_movement`, refusing with a Conflict (code insufficient_stock) when it cannot."""
    change = apply_movement(spec, actor=actor)
    if change is None:
        on_hand, reserved = current_level(spec.variant_id, spec.location_id)
        location = db.session.get(StockLocation, spec.location_id)
        raise Conflict(
            f"Not enough stock at {location.code if location else spec.location_id}: {on_hand} on hand, "
            f"{reserved} reserved for orders, {on_hand - reserved} free.",
            code="insufficient_stock",
        )
    return change


@dataclass(frozen=True)
class LedgerMismatch:
    variant_id: int
    location_id: int
    on_hand: int
    reserved: int
    ledger_on_hand: int
    ledger_reserved: int


def ledger_mismatches(limit: int = 1000) -> list[LedgerMismatch]:
    """Levels whose figures differ from the sums of their movements (there should be none),
    and movements of pairs that have no level. One query over both tables."""
    sums = (
        select(
            InventoryMovement.variant_id,
            InventoryMovement.location_id,
            func.sum(InventoryMovement.on_hand_delta).label("on_hand"),
            func.sum(InventoryMovement.reserved_delta).label("reserved"),
        )
        .group_by(InventoryMovement.variant_id, InventoryMovement.location_id)
        .subquery()
    )
    levels = select(StockLevel).subquery()
    variant_id = func.coalesce(levels.c.variant_id, sums.c.variant_id)
    location_id = func.coalesce(levels.c.location_id, sums.c.location_id)
    level_on_hand = func.coalesce(levels.c.on_hand, 0)
    level_reserved = func.coalesce(levels.c.reserved, 0)
    ledger_on_hand = func.coalesce(sums.c.on_hand, 0)
    ledger_reserved = func.coalesce(sums.c.reserved, 0)
    query = (
        select(variant_id, location_id, level_on_hand, level_reserved, ledger_on_hand, ledger_reserved)
        .select_from(
            levels.join(
                sums,
                (sums.c.variant_id == levels.c.variant_id) & (sums.c.location_id == levels.c.location_id),
                full=True,
            )
        )
        .where((level_on_hand != ledger_on_hand) | (level_reserved != ledger_reserved))
        .order_by(variant_id, location_id)
        .limit(limit)
    )
    return [LedgerMismatch(*row) for row in db.session.execute(query)]
