"""Use cases of staff on stock: locations, adjustments, counts and transfers.

Every change goes through the ledger (`ledger.py`) and its follow-ups (`followups.py`),
is audited with the staff member who made it, and is refused as a whole when it would
take stock that is not there (Conflict code insufficient_stock). Orders use
`reservations.py`; goods in arrive through `receipts.py`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from app.blueprints.catalog.models import Variant
from app.blueprints.inventory import followups
from app.blueprints.inventory.ledger import (
    MovementInput,
    RecordedMovement,
    ensure_level,
    lock_rows_clause,
    record_movement,
)
from app.blueprints.inventory.models import LOCATION_KINDS, StockLevel, StockLocation
from app.core import audit
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.transaction import savepoint
from app.extensions import db

CODE_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,31}")
LOCATION_FIELDS = (
    "code",
    "name",
    "kind",
    "address",
    "is_active",
    "fulfils_orders",
    "position",
    "low_stock_threshold",
)
MAX_REASON = 300


# ---- variants (read from the catalog) ---------------------------------------------------


def get_variant(variant_id: int) -> Variant:
    variant = db.session.get(Variant, variant_id)
    if variant is None:
        raise NotFound(f"No variant {variant_id}.")
    return variant


def variant_by_sku(sku: str, field: str = "sku") -> Variant:
    """The variant with this SKU (exact, as stored); InvalidInput on `field` if none."""
    variant = db.session.scalar(select(Variant).where(Variant.sku == (sku or "").strip()))
    if variant is None:
        raise InvalidInput("No variant has this SKU.", errors={field: [f"No variant has the SKU {sku!r}."]})
    return variant


def variants_by_sku(skus: list[str]) -> dict[str, Variant]:
    """SKU -> variant for those of `skus` that exist, in one query per 500."""
    wanted = sorted({sku.strip() for sku in skus if sku and sku.strip()})
    found: dict[str, Variant] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update((v.sku, v) for v in db.session.scalars(select(Variant).where(Variant.sku.in_(chunk))))
    return found


# ---- locations ---------------------------------------------------------------------------


def get_location(location_id: int) -> StockLocation:
    location = db.session.get(StockLocation, location_id)
    if location is None:
        raise NotFound(f"No stock location {location_id}.")
    return location


def location_by_code(code: str, field: str = "location") -> StockLocation:
    location = db.session.scalar(
        select(StockLocation).where(StockLocation.code == (code or "").strip().upper())
    )
    if location is None:
        raise InvalidInput(
            "No stock location has this code.", errors={field: [f"No location has the code {code!r}."]}
        )
    return location


def list_locations(*, include_inactive: bool = True) -> list[StockLocation]:
    query = select(StockLocation).order_by(StockLocation.position, StockLocation.id)
    if not include_inactive:
        query = query.where(StockLocation.is_active)
    return list(db.session.scalars(query))


def _clean_location(values: dict, *, existing: StockLocation | None) -> dict:
    errors: dict[str, list[str]] = {}
    clean = {}
    for name in LOCATION_FIELDS:
        if name not in values:
            continue
        value = values[name]
        if name == "code":
            value = (value or "").strip().upper()
            if not CODE_PATTERN.fullmatch(value):
                errors[name] = ["1 to 32 letters, digits, - or _, starting with a letter or digit."]
            elif db.session.scalar(
                select(StockLocation.id).where(
                    StockLocation.code == value, StockLocation.id != (existing.id if existing else 0)
                )
            ):
                errors[name] = ["Another location has this code."]
        elif name == "name":
            value = (value or "").strip()
            if not value or len(value) > 120:
                errors[name] = ["Give a name of at most 120 characters."]
        elif name == "kind" and value not in LOCATION_KINDS:
            errors[name] = [f"One of {', '.join(LOCATION_KINDS)}."]
        elif name == "address":
            value = (value or "").strip()
        elif (
            name == "low_stock_threshold" and value is not None and (not isinstance(value, int) or value < 0)
        ):
            errors[name] = ["A whole number, 0 or more (or empty for the default)."]
        elif name == "position" and (not isinstance(value, int) or value < 0):
            errors[name] = ["A whole number, 0 or more."]
        elif name in ("is_active", "fulfils_orders") and not isinstance(value, bool):
            errors[name] = ["Yes or no."]
        clean[name] = value
    if errors:
        raise InvalidInput("The location is not valid.", errors=errors)
    return clean


def create_location(*, actor, code: str, name: str, **values) -> StockLocation:
    """A new warehouse or store; appended after the others unless a position is given."""
    clean = _clean_location({"code": code, "name": name, **values}, existing=None)
    if "position" not in clean:
        clean["position"] = (db.session.scalar(select(func.max(StockLocation.position))) or 0) + 1
    location = StockLocation(**clean)
    db.session.add(location)
    db.session.flush()
    audit.record(
        "inventory.location_created",
        actor=actor,
        target=location,
        summary=f"Stock location {location.code} ({location.name}) created",
        **audit.snapshot(location, LOCATION_FIELDS),
    )
    return location


def update_location(location: StockLocation, changes: dict, *, actor) -> StockLocation:
    """Change the fields given. Stock at a location that stops being active or fulfilling
    orders stays where it is; it no longer counts for online orders."""
    clean = _clean_location(changes, existing=location)
    before = audit.snapshot(location, LOCATION_FIELDS)
    for name, value in clean.items():
        setattr(location, name, value)
    db.session.flush()
    audit.record_change(
        "inventory.location_updated",
        actor=actor,
        target=location,
        before=before,
        after=audit.snapshot(location, LOCATION_FIELDS),
        summary=f"Stock location {location.code} changed",
    )
    return location


# ---- stock --------------------------------------------------------------------------------


def stock_for_variant(variant_id: int) -> list[StockLevel]:
    """The variant's level at every location that ever held it, in location order."""
    return list(
        db.session.scalars(
            select(StockLevel)
            .join(StockLocation, StockLocation.id == StockLevel.location_id)
            .options(joinedload(StockLevel.location))
            .where(StockLevel.variant_id == variant_id)
            .order_by(StockLocation.position, StockLocation.id)
        )
    )


def _reason(reason: str, *, required: bool) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise InvalidInput(
            "Say why the stock changes.", errors={"reason": ["Give a reason (damage, loss, found, ...)."]}
        )
    if len(reason) > MAX_REASON:
        raise InvalidInput(
            "The reason is too long.", errors={"reason": [f"At most {MAX_REASON} characters."]}
        )
    return reason


def _whole(value, field: str, *, minimum: int, allow_zero: bool = True) -> int:
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or value < minimum
        or (value == 0 and not allow_zero)
    ):
        message = (
            "A whole number other than 0."
            if not allow_zero and minimum < 0
            else f"A whole number of at least {minimum}."
        )
        raise InvalidInput("The quantity is not valid.", errors={field: [message]})
    return value


def adjust_stock(
    variant: Variant, location: StockLocation, delta: int, *, reason: str, actor, reference: str = ""
) -> RecordedMovement:
    """Add (or take away) `delta` units on hand, with a reason: damage, loss, found. Stock
    reserved for orders cannot be taken away."""
    _whole(delta, "delta", minimum=-(2**31), allow_zero=False)
    reason = _reason(reason, required=True)
    change = record_movement(
        MovementInput(
            variant.id, location.id, "adjustment", on_hand_delta=delta, reason=reason, reference=reference
        ),
        actor=actor,
    )
    audit.record(
        "inventory.stock_adjusted",
        actor=actor,
        target=variant,
        summary=f"{variant.sku} at {location.code}: {delta:+d} ({reason})",
        location=location.code,
        delta=delta,
        on_hand=change.on_hand,
    )
    followups.after_changes([change], actor=actor)
    return change.movement


def count_stock(
    variant: Variant, location: StockLocation, counted: int, *, actor, reason: str = "", reference: str = ""
) -> RecordedMovement:
    """A stock count: on hand becomes `counted`, the difference is a count_correction (an
    unchanged count is recorded too, with zero deltas: the ledger shows it was counted).
    A count below what is reserved for orders is refused: release those first."""
    _whole(counted, "counted", minimum=0)
    reason = _reason(reason, required=False)
    ensure_level(variant.id, location.id)
    # Lock the level so no order or receipt changes it between reading and correcting.
    on_hand, reserved = db.session.execute(
        lock_rows_clause(
            select(StockLevel.on_hand, StockLevel.reserved).where(
                StockLevel.variant_id == variant.id, StockLevel.location_id == location.id
            )
        )
    ).one()
    if counted < reserved:
        raise Conflict(
            f"{reserved} units of {variant.sku} at {location.code} are reserved for orders; a count of "
            f"{counted} would leave them without stock. Release or reallocate those orders first.",
            code="count_below_reserved",
            errors={"counted": [f"At least {reserved} (reserved for orders)."]},
        )
    change = record_movement(
        MovementInput(
            variant.id,
            location.id,
            "count_correction",
            on_hand_delta=counted - on_hand,
            reason=reason,
            reference=reference or "count",
        ),
        actor=actor,
    )
    audit.record(
        "inventory.stock_counted",
        actor=actor,
        target=variant,
        summary=f"{variant.sku} at {location.code} counted {counted} (was {on_hand})",
        location=location.code,
        counted=counted,
        previous=on_hand,
    )
    followups.after_changes([change], actor=actor)
    return change.movement


@dataclass(frozen=True)
class Transfer:
    reference: str
    out: RecordedMovement
    into: RecordedMovement


def transfer_stock(
    variant: Variant,
    from_location: StockLocation,
    to_location: StockLocation,
    quantity: int,
    *,
    actor,
    reason: str = "",
) -> Transfer:
    """Move free (unreserved) units between locations: a transfer_out and a transfer_in
    under one reference."""
    if from_location.id == to_location.id:
        raise InvalidInput(
            "Choose two different locations.", errors={"to_location": ["Must differ from the source."]}
        )
    _whole(quantity, "quantity", minimum=1)
    reason = _reason(reason, required=False)
    reference = f"transfer:{uuid.uuid4().hex[:16]}"
    moves = {
        from_location.id: MovementInput(
            variant.id,
            from_location.id,
            "transfer_out",
            on_hand_delta=-quantity,
            reason=reason,
            reference=reference,
        ),
        to_location.id: MovementInput(
            variant.id,
            to_location.id,
            "transfer_in",
            on_hand_delta=quantity,
            reason=reason,
            reference=reference,
        ),
    }
    # Lower location id first: two opposite transfers lock the two levels in one order.
    with savepoint():  # a refused transfer_out undoes the transfer_in made before it
        changes = {
            location_id: record_movement(moves[location_id], actor=actor) for location_id in sorted(moves)
        }
    audit.record(
        "inventory.stock_transferred",
        actor=actor,
        target=variant,
        summary=f"{quantity} × {variant.sku} from {from_location.code} to {to_location.code}",
        reference=reference,
        quantity=quantity,
        from_location=from_location.code,
        to_location=to_location.code,
    )
    followups.after_changes(list(changes.values()), actor=actor)
    return Transfer(reference, changes[from_location.id].movement, changes[to_location.id].movement)
