"""Shipping method services: add, change and delete the methods of a zone.

A flat method has a rate and no bands; a weight-band method has one band or more (each a
maximum weight in grams and a price, no weight twice) and no flat rate. Whatever the
kind, `free_over` makes orders whose goods reach that amount ship free. The method's
`code` is what the storefront sends, unique within its zone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.blueprints.catalog.models import TAX_CLASSES
from app.blueprints.catalog.validation import FieldErrors, money, text, whole_number
from app.blueprints.orders.models import (
    SHIPPING_RATE_KINDS,
    ShippingMethod,
    ShippingRateBand,
    ShippingZone,
)
from app.blueprints.orders.shipping import UNSET
from app.core import audit
from app.core.errors import NotFound
from app.extensions import db

MAX_CODE = 40
MAX_NAME = 120
MAX_BANDS = 50
CODE_PATTERN = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
FIELDS = ("code", "name", "kind", "flat_rate", "free_over", "tax_class", "is_active", "position")


def get_method(method_id: int) -> ShippingMethod:
    method = (
        db.session.scalar(
            select(ShippingMethod)
            .where(ShippingMethod.id == method_id)
            .options(selectinload(ShippingMethod.bands), selectinload(ShippingMethod.zone))
        )
        if isinstance(method_id, int) and 0 < method_id < 2**31
        else None
    )
    if method is None:
        raise NotFound("No such shipping method.")
    return method


# ---- checks ------------------------------------------------------------------------------


def _code(raw, zone_id: int, errors: FieldErrors, exclude_id: int | None = None) -> str:
    code = text(raw, "code", errors, max_length=MAX_CODE, required=True).lower()
    if not code or "code" in errors.errors:
        return code
    if not CODE_PATTERN.match(code):
        errors.add("code", "Use lower-case letters, digits, dashes or underscores, like “standard”.")
        return code
    query = select(ShippingMethod.id).where(ShippingMethod.zone_id == zone_id, ShippingMethod.code == code)
    if exclude_id is not None:
        query = query.where(ShippingMethod.id != exclude_id)
    if db.session.scalar(query.limit(1)) is not None:
        errors.add("code", "Another method of this zone has this code.")
    return code


def _band_parts(entry) -> tuple[object, object]:
    if isinstance(entry, dict):
        return entry.get("max_weight_grams"), entry.get("price")
    if isinstance(entry, ShippingRateBand):
        return entry.max_weight_grams, entry.price
    if isinstance(entry, list | tuple) and len(entry) == 2:
        return entry[0], entry[1]
    return None, None


def bands_checked(entries: Iterable, errors: FieldErrors) -> list[tuple[int, object]]:
    """(max grams, price) pairs sorted by weight: each weight above 0 and listed once,
    each price an amount of 0 or more."""
    entries = list(entries or ())
    if len(entries) > MAX_BANDS:
        errors.add("bands", f"At most {MAX_BANDS} weight bands.")
        return []
    cleaned: list[tuple[int, object]] = []
    seen: set[int] = set()
    for index, entry in enumerate(entries):
        raw_weight, raw_price = _band_parts(entry)
        weight_field, price_field = f"bands.{index}.max_weight_grams", f"bands.{index}.price"
        weight = whole_number(raw_weight, weight_field, errors, minimum=1)
        if weight is None and weight_field not in errors.errors:
            errors.add(weight_field, "Required.")
        price = money(raw_price, price_field, errors, required=True)
        if weight is not None and weight in seen:
            errors.add(weight_field, f"A band up to {weight} g is listed twice.")
        elif weight is not None and weight_field not in errors.errors:
            seen.add(weight)
            if price is not None and price_field not in errors.errors:
                cleaned.append((weight, price))
    return sorted(cleaned)


def _check(values: dict, zone_id: int, errors: FieldErrors, exclude_id: int | None = None) -> dict:
    """The method's fields after the change, checked as a whole (kind and rates agree)."""
    clean = dict(values)
    if "code" in values:
        clean["code"] = _code(values["code"], zone_id, errors, exclude_id)
    clean["name"] = text(values.get("name"), "name", errors, max_length=MAX_NAME, required=True)
    if clean.get("kind") not in SHIPPING_RATE_KINDS:
        errors.add("kind", "Choose flat or weight_band.")
    if clean.get("tax_class") not in TAX_CLASSES:
        errors.add("tax_class", f"Choose one of: {', '.join(TAX_CLASSES)}.")
    clean["free_over"] = money(values.get("free_over"), "free_over", errors)
    if not isinstance(clean.get("is_active"), bool):
        errors.add("is_active", "Must be true or false.")
    clean["position"] = whole_number(values.get("position"), "position", errors, minimum=0)
    if clean.get("kind") == "weight_band":
        clean["flat_rate"] = None  # a weight-band method is priced by its bands alone
        clean["bands"] = bands_checked(values.get("bands"), errors)
        if not clean["bands"] and not any(key.startswith("bands") for key in errors.errors):
            errors.add("bands", "A weight-band method needs at least one band.")
    else:
        clean["flat_rate"] = money(values.get("flat_rate"), "flat_rate", errors, required=True)
        clean["bands"] = []  # a flat method keeps no bands
    return clean


def _next_position(zone_id: int) -> int:
    last = db.session.scalar(
        select(func.max(ShippingMethod.position)).where(ShippingMethod.zone_id == zone_id)
    )
    return 0 if last is None else last + 1


def _set_bands(method: ShippingMethod, wanted: list[tuple[int, object]]) -> None:
    """Update the bands whose weight stays, drop the others, add the new: a weight is
    never deleted and re-inserted in one flush (the unique index would trip)."""
    current = {band.max_weight_grams: band for band in method.bands}
    keep = []
    for weight, price in wanted:
        band = current.pop(weight, None) or ShippingRateBand(max_weight_grams=weight)
        band.price = price
        keep.append(band)
    method.bands = keep


def _snapshot(method: ShippingMethod) -> dict:
    # "method_code", not "code": the audit log redacts any field named "code" as a secret.
    values = audit.snapshot(method, [name for name in FIELDS if name != "code"])
    values["method_code"] = method.code
    values["bands"] = [f"up to {band.max_weight_grams} g: {band.price}" for band in method.bands]
    return values


# ---- services ----------------------------------------------------------------------------


def add_method(
    zone: ShippingZone,
    *,
    actor,
    code: str,
    name: str,
    kind: str = "flat",
    flat_rate=None,
    free_over=None,
    bands: Iterable = (),
    tax_class: str = "standard",
    is_active: bool = True,
    position: int | None = None,
) -> ShippingMethod:
    """A method of `zone`, last among its methods unless a position is given."""
    errors = FieldErrors()
    values = {
        "code": code,
        "name": name,
        "kind": kind,
        "flat_rate": flat_rate,
        "free_over": free_over,
        "bands": bands,
        "tax_class": tax_class,
        "is_active": is_active,
        "position": position,
    }
    clean = _check(values, zone.id, errors)
    errors.raise_if_any()
    bands_wanted = clean.pop("bands")
    if clean["position"] is None:
        clean["position"] = _next_position(zone.id)
    method = ShippingMethod(zone=zone, **clean)
    _set_bands(method, bands_wanted)
    db.session.add(method)
    db.session.flush()
    audit.record(
        "orders.shipping_method.created",
        actor=actor,
        target=method,
        summary=f"Added shipping method {method.name} ({method.code}) to {zone.name}",
        **_snapshot(method),
    )
    return method


def update_method(method: ShippingMethod, *, actor, **changes) -> ShippingMethod:
    """Change the fields given (code, name, kind, flat_rate, free_over, bands, tax_class,
    is_active, position); `bands`, when given, replaces them. Switching kind checks the
    method as a whole: to weight bands it needs bands, to flat a rate."""
    unknown = set(changes) - {*FIELDS, "bands"}
    if unknown:
        raise TypeError(f"update_method() got unknown fields {sorted(unknown)}")
    changes = {key: value for key, value in changes.items() if value is not UNSET}
    errors = FieldErrors()
    before = _snapshot(method)
    current = {name: getattr(method, name) for name in FIELDS if name != "code"}
    current["bands"] = [(band.max_weight_grams, band.price) for band in method.bands]
    if "position" not in changes:
        current["position"] = method.position
    clean = _check({**current, **changes}, method.zone_id, errors, exclude_id=method.id)
    errors.raise_if_any()
    bands_wanted = clean.pop("bands")
    if clean["position"] is None:
        clean["position"] = method.position
    for name, value in clean.items():
        setattr(method, name, value)
    _set_bands(method, bands_wanted)
    db.session.flush()
    audit.record_change(
        "orders.shipping_method.updated",
        actor=actor,
        target=method,
        before=before,
        after=_snapshot(method),
        summary=f"Updated shipping method {method.name} ({method.code})",
    )
    return method


def delete_method(method: ShippingMethod, *, actor) -> None:
    """Delete a method; open carts that chose it keep no method and must choose again.
    (Deactivating keeps it for reference and takes it off the storefront.)"""
    method_id, snapshot = method.id, _snapshot(method)
    zone = method.zone
    zone_name = zone.name
    db.session.delete(method)
    db.session.flush()
    db.session.expire(zone, ["methods"])
    audit.record(
        "orders.shipping_method.deleted",
        actor=actor,
        target_type="ShippingMethod",
        target_id=method_id,
        summary=f"Deleted shipping method {snapshot['name']} ({snapshot['method_code']}) of {zone_name}",
        **snapshot,
    )
