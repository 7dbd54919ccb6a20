"""Shipments: pick and pack. Staff choose a stock location and how many units of each
order line leave from there (all the order still needs, or part of it); the reserved
stock leaves through the inventory ledger (`reservations.ship`, a `shipment` movement under
the order's reference), the order counts the units as shipped (`lifecycle.
record_shipped_units`: partially shipped or shipped), and the shipment gets its first
tracking event, `label_created`.

Only units that are reserved for the order at that location can ship: backordered units
wait until a delivery reserves them. Entry points lock the order row first (FOR UPDATE),
so two staff members shipping the same order are served one after the other and the
second finds the units gone.

A provider that makes labels (ParcelHub) is asked for one before anything is written; its
refusal is a Conflict `label_failed` and nothing ships. The label is bought under an
idempotency key (`shipment:<order id>:<sequence>` unless the caller gives one), so a retry
after a failure gets the same label, not a second one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlparse

from sqlalchemy import func, select

from app.blueprints.fulfilment import providers, shipment_labels, shipment_queries, tracking
from app.blueprints.fulfilment.models import Shipment, ShipmentLine
from app.blueprints.inventory import reservations
from app.blueprints.inventory.models import StockLocation
from app.blueprints.orders import lifecycle
from app.blueprints.orders.order_models import Order, OrderLine
from app.core import audit
from app.core.errors import Conflict, InvalidInput
from app.core.events import emit
from app.extensions import db

SHIPPABLE_STATUSES = ("paid", "processing", "partially_shipped")
MAX_PACKAGES = 99
MAX_WEIGHT_GRAMS = 1_000_000  # a tonne: more is a typo, not a parcel
TEXT_LIMITS = {"carrier": 80, "service": 80, "tracking_number": 100, "tracking_url": 500}


@dataclass
class ShippableLine:
    """An order line as the packer sees it: what is left to ship, and where its reserved
    units are (location id -> units)."""

    line: OrderLine
    reserved_at: dict[int, int] = field(default_factory=dict)

    @property
    def ordered(self) -> int:
        return self.line.quantity

    @property
    def shipped(self) -> int:
        return self.line.shipped_quantity

    @property
    def to_ship(self) -> int:
        return self.line.quantity - self.line.shipped_quantity

    @property
    def reserved(self) -> int:
        return sum(self.reserved_at.values())

    def reserved_here(self, location_id: int) -> int:
        return self.reserved_at.get(location_id, 0)

    @property
    def reserved_list(self) -> list[dict]:
        return [
            {"location_id": where, "quantity": units} for where, units in self.reserved_at.items() if units
        ]


def shippable(order: Order) -> list[ShippableLine]:
    """Every line of the order with what is left to ship and where it is reserved.

    The ledger holds reservations per variant, not per line: two lines of one variant
    share its reserved units, the first line (by position) served first."""
    pools = shipment_queries.reserved_by_location(order.reference)  # {(variant, location): units}
    result = []
    for line in order.lines:
        item = ShippableLine(line)
        wanted = item.to_ship
        for (variant_id, location_id), units in pools.items():
            if wanted <= 0:
                break
            if variant_id != line.variant_id or units <= 0:
                continue
            take = min(units, wanted)
            item.reserved_at[location_id] = take
            pools[(variant_id, location_id)] -= take
            wanted -= take
        result.append(item)
    return result


def can_ship_now(order: Order, lines: list[ShippableLine] | None = None) -> bool:
    """Whether the order's state allows shipping and some unit of it is reserved."""
    if order.status not in SHIPPABLE_STATUSES:
        return False
    return any(item.reserved for item in (lines if lines is not None else shippable(order)))


def locations_holding(lines: list[ShippableLine]) -> list[StockLocation]:
    """The stock locations that hold reserved units of these lines, in picking order."""
    ids = {location_id for item in lines for location_id, units in item.reserved_at.items() if units}
    if not ids:
        return []
    query = (
        select(StockLocation)
        .where(StockLocation.id.in_(ids))
        .order_by(StockLocation.position, StockLocation.id)
    )
    return list(db.session.scalars(query))


# ---- creating a shipment -------------------------------------------------------------------


@dataclass(frozen=True)
class Details:
    """What is typed about the parcels (checked)."""

    carrier: str
    service: str
    tracking_number: str
    tracking_url: str
    packages: int
    weight_grams: int | None


def create_shipment(
    order: Order,
    *,
    location_id: int,
    quantities: dict[int, int] | None = None,
    provider: str,
    carrier: str = "",
    service: str = "",
    tracking_number: str = "",
    tracking_url: str = "",
    packages: int = 1,
    weight_grams: int | None = None,
    actor,
    idempotency_key: str | None = None,
) -> Shipment:
    """Ship units of `order` from one stock location.

    `quantities` maps order line ids to units; None ships everything reserved at the
    location. Rules: the order is paid, processing or partially shipped
    (`invalid_transition`); each quantity is above zero (422), at most what the line still
    needs (`too_many_units`) and at most what is reserved for the order at the location
    (`not_reserved`); errors are keyed `quantities.<line id>`. The caller holds the order
    row locked."""
    if order.status not in SHIPPABLE_STATUSES:
        raise Conflict(
            f"An order that is {lifecycle.STATUS_LABELS[order.status].lower()} cannot ship.",
            code="invalid_transition",
        )
    location = _location(location_id)
    chosen = providers.get_provider(provider)
    details = _details(carrier, service, tracking_number, tracking_url, packages, weight_grams)
    lines = shippable(order)
    units_by_line = _units_to_ship(lines, location, quantities)
    sequence = _next_sequence(order)
    number = f"{order.number}-{sequence}"
    weight = details.weight_grams if details.weight_grams is not None else _weight_of(lines, units_by_line)
    shipment = Shipment(
        order_id=order.id,
        sequence=sequence,
        number=number,
        location_id=location.id,
        provider=chosen.code,
        carrier=details.carrier,
        service=details.service,
        tracking_number=details.tracking_number,
        tracking_url=details.tracking_url,
        packages=details.packages,
        weight_grams=weight,
        status="label_created",
        created_by_id=getattr(actor, "id", None) if audit.is_staff(actor) else None,
    )
    if chosen.makes_labels:
        # Before any write: a refused label leaves nothing behind.
        shipment_labels.buy_label(
            shipment,
            chosen,
            order=order,
            location=location,
            idempotency_key=idempotency_key or f"shipment:{order.id}:{sequence}",
        )
    shipment.lines = [
        ShipmentLine(order_line_id=line_id, quantity=units)
        for line_id, units in sorted(units_by_line.items())
    ]
    db.session.add(shipment)
    db.session.flush()
    _take_stock_out(order, location.id, lines, units_by_line, actor)
    lifecycle.record_shipped_units(order, units_by_line, actor=actor, shipment_number=number)
    tracking.record_tracking_event(shipment, "label_created", source=chosen.code, actor=actor)
    audit.record(
        "shipment.created",
        actor=actor,
        target=shipment,
        summary=f"Shipment {number} of order {order.number} from {location.name}",
        order_id=order.id,
        location_id=location.id,
        provider=chosen.code,
        carrier=shipment.carrier,
        tracking_number=shipment.tracking_number,
        lines={str(line_id): units for line_id, units in sorted(units_by_line.items())},
    )
    emit("shipment.created", order_id=order.id, shipment_id=shipment.id)
    return shipment


def _location(location_id) -> StockLocation:
    location = None
    if isinstance(location_id, int) and not isinstance(location_id, bool) and 0 < location_id < 2**31:
        location = db.session.get(StockLocation, location_id)
    if location is None:
        raise InvalidInput("No such stock location.", errors={"location_id": ["No such stock location."]})
    return location


def _units_to_ship(
    lines: list[ShippableLine], location: StockLocation, quantities: dict[int, int] | None
) -> dict[int, int]:
    """{order line id: units}, checked against what is left to ship and reserved here."""
    if quantities is None:
        everything = {
            item.line.id: min(item.to_ship, item.reserved_here(location.id))
            for item in lines
            if min(item.to_ship, item.reserved_here(location.id)) > 0
        }
        if not everything:
            raise Conflict(
                f"Nothing of this order is reserved at {location.name} to ship.", code="nothing_to_ship"
            )
        return everything
    by_id = {item.line.id: item for item in lines}
    _check_shape(quantities, by_id)
    too_many = {
        f"quantities.{line_id}": [f"At most {by_id[line_id].to_ship}: that is what is left to ship."]
        for line_id, units in quantities.items()
        if units > by_id[line_id].to_ship
    }
    if too_many:
        raise Conflict("More units than the order has left to ship.", code="too_many_units", errors=too_many)
    short = _beyond_reservation(quantities, by_id, location)
    if short:
        raise Conflict(
            f"Only units reserved for this order at {location.name} can ship from there.",
            code="not_reserved",
            errors=short,
        )
    return dict(quantities)


def _check_shape(quantities: dict, by_id: dict[int, ShippableLine]) -> None:
    errors: dict[str, list[str]] = {}
    if not quantities:
        errors["quantities"] = ["Ship at least one unit."]
    for line_id, units in quantities.items():
        if line_id not in by_id:
            errors[f"quantities.{line_id}"] = ["Not a line of this order."]
        elif not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            errors[f"quantities.{line_id}"] = ["A whole number above zero."]
    if errors:
        raise InvalidInput("The units to ship are not valid.", errors=errors)


def _beyond_reservation(quantities: dict[int, int], by_id: dict[int, ShippableLine], location) -> dict:
    """Errors for lines asking more than the location holds for their variant (lines of one
    variant draw on one reservation, so they are checked together)."""
    pools = {}
    for line_id in quantities:
        item = by_id[line_id]
        pools.setdefault(item.line.variant_id, []).append(item)
    errors = {}
    for variant_id, items in pools.items():
        held = sum(i.reserved_here(location.id) for i in by_id.values() if i.line.variant_id == variant_id)
        asked = sum(quantities[i.line.id] for i in items)
        if variant_id is None or asked > held:
            for item in items:
                here = item.reserved_here(location.id)
                errors[f"quantities.{item.line.id}"] = [
                    f"{here} reserved at {location.name}." if here else f"None reserved at {location.name}."
                ]
    return errors


def _details(carrier, service, tracking_number, tracking_url, packages, weight_grams) -> Details:
    values = {
        "carrier": (carrier or "").strip(),
        "service": (service or "").strip(),
        "tracking_number": (tracking_number or "").strip(),
        "tracking_url": (tracking_url or "").strip(),
    }
    errors = {
        name: [f"At most {TEXT_LIMITS[name]} characters."]
        for name, value in values.items()
        if len(value) > TEXT_LIMITS[name]
    }
    url = urlparse(values["tracking_url"])
    if (
        values["tracking_url"]
        and "tracking_url" not in errors
        and (url.scheme not in ("http", "https") or not url.netloc)
    ):
        errors["tracking_url"] = ["A web address starting with https://."]
    if not _whole(packages) or not 1 <= packages <= MAX_PACKAGES:
        errors["packages"] = [f"From 1 to {MAX_PACKAGES}."]
    if weight_grams is not None and (not _whole(weight_grams) or not 0 <= weight_grams <= MAX_WEIGHT_GRAMS):
        errors["weight_grams"] = [f"From 0 to {MAX_WEIGHT_GRAMS} grams."]
    if errors:
        raise InvalidInput("Some details of the shipment are not valid.", errors=errors)
    return Details(packages=packages, weight_grams=weight_grams, **values)


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _next_sequence(order: Order) -> int:
    # The order row is locked: no other shipment of it can take the same number meanwhile.
    last = db.session.scalar(select(func.max(Shipment.sequence)).where(Shipment.order_id == order.id))
    return (last or 0) + 1


def _weight_of(lines: list[ShippableLine], units_by_line: dict[int, int]) -> int:
    """The lines' weight (a line's weight is that of all its units) for the units shipped."""
    grams = 0
    for item in lines:
        units = units_by_line.get(item.line.id, 0)
        if units and item.line.quantity:
            grams += round((item.line.weight_grams or 0) * units / item.line.quantity)
    return grams


def _take_stock_out(order, location_id, lines, units_by_line, actor) -> None:
    """One `shipment` movement per variant, in variant-id order (the ledger's lock order)."""
    by_variant: dict[int, int] = {}
    for item in lines:
        units = units_by_line.get(item.line.id, 0)
        if units:
            by_variant[item.line.variant_id] = by_variant.get(item.line.variant_id, 0) + units
    for variant_id in sorted(by_variant):
        reservations.ship(
            variant_id, location_id, by_variant[variant_id], reference=order.reference, actor=actor
        )
