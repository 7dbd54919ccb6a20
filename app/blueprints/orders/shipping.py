"""Shipping zones and their methods: what a parcel to a destination costs.

A destination (country, optionally a region of it) belongs to one zone at most; a zone
entry for the region wins over the entry for its whole country, so "ES" can ship from
one zone and "ES / Canarias" from another. Regions are free text as addresses carry
them and are matched ignoring case.

A method is flat (one rate) or priced by weight bands (the first band whose maximum
weight covers the parcel); either kind ships free once the goods total reaches its
`free_over` amount. Method services live in shipping_methods.py.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import bindparam, case, func, or_, select
from sqlalchemy.orm import selectinload

from app.blueprints.catalog.validation import FieldErrors, text, whole_number
from app.blueprints.customers import validation as customer_validation
from app.blueprints.orders.models import ShippingMethod, ShippingRateBand, ShippingZone, ShippingZoneCountry
from app.core import audit
from app.core.errors import InvalidInput, NotFound
from app.core.money import to_money
from app.extensions import db

MAX_ZONE_NAME = 120
MAX_REGION = 100
MAX_DESTINATIONS = 300  # more than every country there is, with room for regions
UNSET = object()  # "leave as it is" for the update services' keyword arguments
FREE = Decimal("0.00")


class Destination(NamedTuple):
    country: str  # ISO 3166-1 alpha-2, upper case
    region: str = ""  # "" = the whole country

    def label(self) -> str:
        return f"{self.country} / {self.region}" if self.region else self.country


def lookup_key(country: str | None, region: str | None) -> tuple[str, str]:
    """How a destination is looked up: code upper-cased, region trimmed (matched ignoring case)."""
    return (country or "").strip().upper(), (region or "").strip()


def region_matches(column, region: str):
    """The whole-country entry, and the region's own entry when a region is given."""
    if not region:
        return column == ""
    return or_(column == "", func.lower(column) == region.lower())


def region_matches_bound(column, with_region: bool):
    """`region_matches` for a statement built once: the region comes as the bound
    parameter `region`, in lower case."""
    if not with_region:
        return column == ""
    return or_(column == "", func.lower(column) == bindparam("region"))


# ---- the interface pricing uses ------------------------------------------------------------


def _zone_id_serving(country: str, region: str):
    """The id of the zone serving the destination, as a scalar subquery: the region's
    own entry first, then the whole country's."""
    return (
        select(ShippingZoneCountry.zone_id)
        .where(ShippingZoneCountry.country == country, region_matches(ShippingZoneCountry.region, region))
        .order_by(case((ShippingZoneCountry.region == "", 1), else_=0))
        .limit(1)
        .scalar_subquery()
    )


def zone_for(country: str, region: str = "") -> ShippingZone | None:
    """The zone serving the destination: the one listing its region, else the one listing
    the whole country, else None (we do not ship there)."""
    country, region = lookup_key(country, region)
    if not country:
        return None
    return db.session.scalar(select(ShippingZone).where(ShippingZone.id == _zone_id_serving(country, region)))


class OfferedBand(NamedTuple):
    max_weight_grams: int
    price: Decimal


class OfferedMethod(NamedTuple):
    """A method offered for a destination, as plain values, not a loaded record (checkout
    prices on every request, and the ORM's loading of methods and bands was a tenth of its
    CPU)."""

    id: int
    code: str
    name: str
    kind: str
    flat_rate: Decimal | None
    free_over: Decimal | None
    tax_class: str
    bands: tuple[OfferedBand, ...]


def methods_for(country: str, region: str = "") -> list[OfferedMethod]:
    """The active methods of the destination's zone by position, their bands by weight, in
    one statement (methods and bands joined)."""
    country, region = lookup_key(country, region)
    if not country:
        return []
    rows = db.session.execute(
        _methods_statement(bool(region)), {"country": country, "region": region.lower()}
    )
    methods: dict[int, tuple[tuple, list[OfferedBand]]] = {}
    for *method, max_weight, price in rows:
        entry = methods.setdefault(method[0], (tuple(method), []))
        if max_weight is not None:
            entry[1].append(OfferedBand(max_weight, price))
    return [OfferedMethod(*method, bands=tuple(bands)) for method, bands in methods.values()]


@functools.cache
def _methods_statement(with_region: bool):
    """methods_for's statement, built once per shape (pricing runs it on every cart
    read and checkout): bound `country`, and `region` (lower case) when `with_region`."""
    zone_id = (
        select(ShippingZoneCountry.zone_id)
        .where(
            ShippingZoneCountry.country == bindparam("country"),
            region_matches_bound(ShippingZoneCountry.region, with_region),
        )
        .order_by(case((ShippingZoneCountry.region == "", 1), else_=0))
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(
            ShippingMethod.id,
            ShippingMethod.code,
            ShippingMethod.name,
            ShippingMethod.kind,
            ShippingMethod.flat_rate,
            ShippingMethod.free_over,
            ShippingMethod.tax_class,
            ShippingRateBand.max_weight_grams,
            ShippingRateBand.price,
        )
        .outerjoin(ShippingRateBand, ShippingRateBand.method_id == ShippingMethod.id)
        .where(ShippingMethod.zone_id == zone_id, ShippingMethod.is_active.is_(True))
        .order_by(ShippingMethod.position, ShippingMethod.id, ShippingRateBand.max_weight_grams)
    )


def method_by_code(country: str, region: str, code: str) -> ShippingMethod | None:
    """The active method with this code in the destination's zone (None: not offered there)."""
    code = (code or "").strip().lower()
    offered = next((method for method in methods_for(country, region) if method.code == code), None)
    return db.session.get(ShippingMethod, offered.id) if offered is not None else None


def shipping_price(
    method: ShippingMethod | OfferedMethod, *, goods_total: Decimal, weight_grams: int
) -> Decimal | None:
    """What `method` charges for a parcel of `weight_grams` with goods worth `goods_total`
    (as the customer pays them, after discounts).

    Flat: its rate. Weight bands: the price of the first band whose maximum covers the
    weight; None when the parcel is heavier than every band (the method cannot carry it,
    free or not). Either kind costs 0.00 when `free_over` is set and the goods total
    reaches it (the boundary amount itself ships free)."""
    if method.kind == "weight_band":
        band = next((band for band in method.bands if band.max_weight_grams >= weight_grams), None)
        price = band.price if band is not None else None
    else:
        price = method.flat_rate
    if price is None:
        return None
    if method.free_over is not None and goods_total >= method.free_over:
        return FREE
    return to_money(price)


# ---- reading zones -----------------------------------------------------------------------


def _zone_query():
    return select(ShippingZone).options(
        selectinload(ShippingZone.countries),
        selectinload(ShippingZone.methods).selectinload(ShippingMethod.bands),
    )


def list_zones() -> list[ShippingZone]:
    """Every zone by position and name, with its destinations, methods and bands."""
    return list(db.session.scalars(_zone_query().order_by(ShippingZone.position, ShippingZone.name)))


def get_zone(zone_id: int) -> ShippingZone:
    zone = (
        db.session.scalar(_zone_query().where(ShippingZone.id == zone_id))
        if isinstance(zone_id, int) and 0 < zone_id < 2**31
        else None
    )
    if zone is None:
        raise NotFound("No such shipping zone.")
    return zone


# ---- checking what people type -----------------------------------------------------------


def country_code(raw, field: str, errors: FieldErrors) -> str:
    """A required ISO 3166 code, checked like the customers domain checks addresses."""
    if not isinstance(raw, str) or not raw.strip():
        errors.add(field, "Required.")
        return ""
    try:
        return customer_validation.country(raw, field) or ""
    except InvalidInput as error:
        for message in (error.errors or {}).get(field, [error.detail]):
            errors.add(field, message)
        return raw.strip().upper()


def region_text(raw, field: str, errors: FieldErrors) -> str:
    return text(raw, field, errors, max_length=MAX_REGION)


def _entry_parts(entry) -> tuple[object, object]:
    """A destination as given: "NL", ("ES", "Canarias"), {"country":, "region":} or a Destination."""
    if isinstance(entry, str):
        return entry, ""
    if isinstance(entry, dict):
        return entry.get("country"), entry.get("region") or ""
    if isinstance(entry, list | tuple) and len(entry) == 2:
        return entry[0], entry[1] or ""
    return None, ""


def destinations(entries: Iterable, errors: FieldErrors, *, field: str = "countries") -> list[Destination]:
    """Checked destinations, each listed once (a region ignoring case)."""
    cleaned: list[Destination] = []
    seen: set[tuple[str, str]] = set()
    entries = list(entries or ())
    if len(entries) > MAX_DESTINATIONS:
        errors.add(field, f"At most {MAX_DESTINATIONS} countries and regions per zone.")
        return []
    for index, entry in enumerate(entries):
        raw_country, raw_region = _entry_parts(entry)
        country = country_code(raw_country, f"{field}.{index}.country", errors)
        region = region_text(raw_region, f"{field}.{index}.region", errors)
        destination = Destination(country, region)
        if (country, region.lower()) in seen:
            errors.add(f"{field}.{index}.country", f"{destination.label()} is listed twice.")
            continue
        seen.add((country, region.lower()))
        cleaned.append(destination)
    return cleaned


def parse_destinations(raw: str) -> list[Destination | tuple[str, str]]:
    """What the portal's text box holds, "NL, BE, ES: Canarias" (commas or new lines between
    entries, a region after a colon), as (country, region) pairs to check."""
    pairs = []
    for part in (raw or "").replace("\n", ",").split(","):
        if not part.strip():
            continue
        country, _, region = part.partition(":")
        pairs.append((country.strip(), region.strip()))
    return pairs


def format_destinations(zone: ShippingZone) -> str:
    """A zone's destinations as the portal's text box shows them."""
    return ", ".join(
        f"{entry.country}: {entry.region}" if entry.region else entry.country for entry in zone.countries
    )


def _taken_elsewhere(wanted: list[Destination], zone_id: int | None, errors: FieldErrors, field: str) -> None:
    """A destination belongs to one zone: name the zone that already serves it."""
    if not wanted:
        return
    rows = db.session.execute(
        select(ShippingZoneCountry.country, ShippingZoneCountry.region, ShippingZone.name)
        .join(ShippingZone, ShippingZone.id == ShippingZoneCountry.zone_id)
        .where(
            ShippingZoneCountry.country.in_({d.country for d in wanted}),
            ShippingZone.id != (zone_id or 0),
        )
    ).all()
    owners = {(country, region.lower()): name for country, region, name in rows}
    for index, destination in enumerate(wanted):
        owner = owners.get((destination.country, destination.region.lower()))
        if owner is not None:
            errors.add(f"{field}.{index}.country", f"{destination.label()} is already in the zone “{owner}”.")


def _zone_name(raw, errors: FieldErrors, exclude_id: int | None = None) -> str:
    name = text(raw, "name", errors, max_length=MAX_ZONE_NAME, required=True)
    if name:
        query = select(ShippingZone.id).where(func.lower(ShippingZone.name) == name.lower())
        if exclude_id is not None:
            query = query.where(ShippingZone.id != exclude_id)
        if db.session.scalar(query.limit(1)) is not None:
            errors.add("name", "Another shipping zone has this name.")
    return name


def _position(raw, errors: FieldErrors) -> int | None:
    return whole_number(raw, "position", errors, minimum=0)


def _next_zone_position() -> int:
    last = db.session.scalar(select(func.max(ShippingZone.position)))
    return 0 if last is None else last + 1


def _zone_snapshot(zone: ShippingZone) -> dict:
    return {
        "name": zone.name,
        "position": zone.position,
        "countries": sorted(Destination(e.country, e.region).label() for e in zone.countries),
    }


def _set_destinations(zone: ShippingZone, wanted: list[Destination]) -> None:
    """Keep the entries still wanted (a region's spelling updated), drop the others, add
    the new: rows are never deleted and re-inserted, so the unique index cannot trip."""
    current = {(entry.country, entry.region.lower()): entry for entry in zone.countries}
    keep = []
    for destination in wanted:
        entry = current.pop((destination.country, destination.region.lower()), None)
        if entry is None:
            entry = ShippingZoneCountry(country=destination.country, region=destination.region)
        entry.region = destination.region
        keep.append(entry)
    zone.countries = sorted(keep, key=lambda entry: (entry.country, entry.region))  # as loaded


# ---- zone services -----------------------------------------------------------------------


def create_zone(*, actor, name: str, countries: Iterable = (), position: int | None = None) -> ShippingZone:
    """A zone serving `countries` (codes, (code, region) pairs or dicts); a destination
    already served by another zone, an unknown code or one listed twice is refused."""
    errors = FieldErrors()
    name = _zone_name(name, errors)
    wanted = destinations(countries, errors)
    _taken_elsewhere(wanted, None, errors, "countries")
    position = _position(position, errors)
    errors.raise_if_any()
    zone = ShippingZone(name=name, position=_next_zone_position() if position is None else position)
    _set_destinations(zone, wanted)
    db.session.add(zone)
    db.session.flush()
    audit.record(
        "orders.shipping_zone.created",
        actor=actor,
        target=zone,
        summary=f"Created shipping zone {name}",
        **_zone_snapshot(zone),
    )
    return zone


def update_zone(zone: ShippingZone, *, actor, name=UNSET, countries=UNSET, position=UNSET) -> ShippingZone:
    """Change what is given; `countries`, when given, replaces the zone's destinations."""
    errors = FieldErrors()
    before = _zone_snapshot(zone)
    if name is not UNSET:
        name = _zone_name(name, errors, exclude_id=zone.id)
    if countries is not UNSET:
        countries = destinations(countries, errors)
        _taken_elsewhere(countries, zone.id, errors, "countries")
    if position is not UNSET:
        position = _position(position, errors)
    errors.raise_if_any()
    if name is not UNSET:
        zone.name = name
    if countries is not UNSET:
        _set_destinations(zone, countries)
    if position is not UNSET and position is not None:
        zone.position = position
    db.session.flush()
    audit.record_change(
        "orders.shipping_zone.updated",
        actor=actor,
        target=zone,
        before=before,
        after=_zone_snapshot(zone),
        summary=f"Updated shipping zone {zone.name}",
    )
    return zone


def delete_zone(zone: ShippingZone, *, actor) -> None:
    """Delete a zone with its destinations and methods: they are no longer shipped to.
    Open carts that chose one of its methods keep no method (the key is set to null)."""
    zone_id, snapshot = zone.id, _zone_snapshot(zone)
    methods = [method.code for method in zone.methods]
    db.session.delete(zone)
    db.session.flush()
    audit.record(
        "orders.shipping_zone.deleted",
        actor=actor,
        target_type="ShippingZone",
        target_id=zone_id,
        summary=f"Deleted shipping zone {snapshot['name']} and its {len(methods)} method(s)",
        methods=methods,
        **snapshot,
    )
