"""Tax rates by destination and tax class, and the services that keep them.

A rate applies to a tax class (the catalog's TAX_CLASSES) in a country, or in one
region of it; the region's rate wins over the country's, and a class without a rate is
taxed at 0. People enter rates as percentages ("21", "5.5"); they are stored as
fractions (0.2100) with four places, so a percentage has at most two decimals.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from sqlalchemy import Select, bindparam, func, select

from app.blueprints.catalog.models import TAX_CLASSES
from app.blueprints.catalog.validation import FieldErrors, text
from app.blueprints.orders.models import TaxRate
from app.blueprints.orders.shipping import (
    UNSET,
    country_code,
    lookup_key,
    region_matches_bound,
    region_text,
)
from app.core import audit
from app.core.errors import NotFound
from app.extensions import db

ZERO = Decimal("0")
HUNDRED = Decimal("100")
RATE_PLACES = Decimal("0.0001")  # Numeric(6, 4)
MAX_NAME = 60
FIELDS = ("country", "region", "tax_class", "rate", "name")


class NamedRate(NamedTuple):
    """A rate with the name invoices show ("VAT 21%"); "" when no rate applies."""

    rate: Decimal
    name: str = ""


NO_RATE = NamedRate(ZERO, "")


# ---- the interface pricing uses ------------------------------------------------------------


def named_rates_for(country: str, region: str, tax_classes: Iterable[str]) -> dict[str, NamedRate]:
    """Each class's rate and name at the destination (region first, then country, else
    0 without a name), in one query."""
    classes = set(tax_classes)
    country, region = lookup_key(country, region)
    if not classes:
        return {}
    found: dict[str, tuple[str, NamedRate]] = {}  # class -> (region, rate)
    if country:
        # Columns, not records: pricing asks this on every cart read and checkout.
        rows = db.session.execute(
            _named_rates_statement(bool(region)),
            {"country": country, "classes": sorted(classes), "region": region.lower()},
        )
        for tax_class, row_region, rate, name in rows:
            # The region's own rate wins over the country's whatever the row order.
            if tax_class not in found or (row_region and not found[tax_class][0]):
                found[tax_class] = (row_region, NamedRate(rate, name))
    return {tax_class: found[tax_class][1] if tax_class in found else NO_RATE for tax_class in classes}


@functools.cache
def _named_rates_statement(with_region: bool):
    """named_rates_for's statement, built once per shape (pricing runs it on every cart
    read and checkout): bound `country`, `classes`, and `region` (lower case)."""
    return select(TaxRate.tax_class, TaxRate.region, TaxRate.rate, TaxRate.name).where(
        TaxRate.country == bindparam("country"),
        TaxRate.tax_class.in_(bindparam("classes", expanding=True)),
        region_matches_bound(TaxRate.region, with_region),
    )


def rates_for(country: str, region: str, tax_classes: set[str]) -> dict[str, Decimal]:
    """Each class's rate (a fraction) at the destination, in one query."""
    return {
        tax_class: named.rate for tax_class, named in named_rates_for(country, region, tax_classes).items()
    }


def rate_names_for(country: str, region: str, tax_classes: set[str]) -> dict[str, str]:
    """Each class's rate name at the destination ("VAT 21%"; "" when no rate applies).
    named_rates_for() gives rates and names in the same single query."""
    return {
        tax_class: named.name for tax_class, named in named_rates_for(country, region, tax_classes).items()
    }


def rate_for(country: str, region: str, tax_class: str) -> Decimal:
    """The class's rate at the destination: the region's, else the country's, else 0."""
    return rates_for(country, region, {tax_class})[tax_class]


# ---- reading -----------------------------------------------------------------------------


def tax_rates_query(country: str | None = None, tax_class: str | None = None) -> Select:
    """Rates by country, region (the whole country first) and class."""
    query = select(TaxRate).order_by(TaxRate.country, TaxRate.region, TaxRate.tax_class, TaxRate.id)
    if country:
        query = query.where(TaxRate.country == country.strip().upper())
    if tax_class:
        query = query.where(TaxRate.tax_class == tax_class)
    return query


def list_tax_rates(country: str | None = None) -> list[TaxRate]:
    return list(db.session.scalars(tax_rates_query(country)))


def get_tax_rate(rate_id: int) -> TaxRate:
    rate = db.session.get(TaxRate, rate_id) if isinstance(rate_id, int) and 0 < rate_id < 2**31 else None
    if rate is None:
        raise NotFound("No such tax rate.")
    return rate


# ---- percentages -------------------------------------------------------------------------


def percent_of(rate: Decimal) -> Decimal:
    """0.2100 -> 21.00, 0.0550 -> 5.50 (how a stored rate is shown and edited)."""
    return (Decimal(rate) * HUNDRED).quantize(Decimal("0.01"))


def percent_label(percent: Decimal) -> str:
    """21.00 -> "21", 5.50 -> "5.5"."""
    text_form = f"{Decimal(percent).normalize():f}"
    return text_form


def default_name(percent: Decimal) -> str:
    return f"VAT {percent_label(percent)}%"


def rate_from_percent(raw, errors: FieldErrors, field: str = "percent") -> Decimal | None:
    """A percentage of 0 up to (not including) 100 with at most two decimals, as a fraction."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        errors.add(field, "Required.")
        return None
    try:
        percent = Decimal(str(raw).strip()) if not isinstance(raw, Decimal) else raw
    except (InvalidOperation, ValueError):
        errors.add(field, "Not a percentage.")
        return None
    if isinstance(raw, bool) or not percent.is_finite():
        errors.add(field, "Not a percentage.")
        return None
    if percent < ZERO or percent >= HUNDRED:
        errors.add(field, "A rate is a percentage from 0 up to 100 (not included).")
        return None
    rate = percent / HUNDRED
    if rate != rate.quantize(RATE_PLACES):
        errors.add(field, "At most two decimals, like 5.5 or 20.25.")
        return None
    return rate.quantize(RATE_PLACES)


# ---- checks and services -----------------------------------------------------------------


def _check(values: dict, errors: FieldErrors, exclude_id: int | None = None) -> dict:
    clean = dict(values)
    clean["country"] = country_code(values.get("country"), "country", errors)
    clean["region"] = region_text(values.get("region"), "region", errors)
    if values.get("tax_class") not in TAX_CLASSES:
        errors.add("tax_class", f"Choose one of: {', '.join(TAX_CLASSES)}.")
    clean["name"] = text(values.get("name"), "name", errors, max_length=MAX_NAME)
    if not errors.errors.get("country") and not errors.errors.get("tax_class"):
        query = select(TaxRate.id).where(
            TaxRate.country == clean["country"],
            func.lower(TaxRate.region) == clean["region"].lower(),
            TaxRate.tax_class == clean["tax_class"],
        )
        if exclude_id is not None:
            query = query.where(TaxRate.id != exclude_id)
        if db.session.scalar(query.limit(1)) is not None:
            where = f"{clean['country']} / {clean['region']}" if clean["region"] else clean["country"]
            errors.add("tax_class", f"{where} already has a {clean['tax_class']} rate: change that one.")
    return clean


def _snapshot(rate: TaxRate) -> dict:
    values = audit.snapshot(rate, FIELDS)
    values["percent"] = percent_of(rate.rate) if rate.rate is not None else None
    del values["rate"]
    return values


def _describe(rate: TaxRate) -> str:
    where = f"{rate.country} / {rate.region}" if rate.region else rate.country
    return f"{rate.name or default_name(percent_of(rate.rate))} ({where}, {rate.tax_class})"


def create_tax_rate(
    *, actor, country: str, tax_class: str, percent, region: str = "", name: str = ""
) -> TaxRate:
    """A rate for the class at the destination, given in percent; one per country,
    region and class. Without a name it is called "VAT <percent>%"."""
    errors = FieldErrors()
    clean = _check({"country": country, "region": region, "tax_class": tax_class, "name": name}, errors)
    fraction = rate_from_percent(percent, errors)
    errors.raise_if_any()
    rate = TaxRate(**clean, rate=fraction)
    rate.name = rate.name or default_name(percent_of(fraction))
    db.session.add(rate)
    db.session.flush()
    audit.record(
        "orders.tax_rate.created",
        actor=actor,
        target=rate,
        summary=f"Created tax rate {_describe(rate)}",
        **_snapshot(rate),
    )
    return rate


def update_tax_rate(
    rate: TaxRate, *, actor, country=UNSET, region=UNSET, tax_class=UNSET, percent=UNSET, name=UNSET
) -> TaxRate:
    """Change the fields given. An empty name is made again from the percentage."""
    errors = FieldErrors()
    before = _snapshot(rate)
    given = {"country": country, "region": region, "tax_class": tax_class, "name": name}
    values = {key: getattr(rate, key) if value is UNSET else value for key, value in given.items()}
    clean = _check(values, errors, exclude_id=rate.id)
    fraction = rate.rate if percent is UNSET else rate_from_percent(percent, errors)
    errors.raise_if_any()
    old_default = default_name(percent_of(rate.rate))
    # The portal's form sends the name back unchanged: the old default is not a new name.
    renamed = name is not UNSET and bool(clean["name"]) and clean["name"] != old_default
    for key, value in clean.items():
        setattr(rate, key, value)
    # A name that was the default follows the percentage; one typed by a person stays.
    if not renamed and (not rate.name or (percent is not UNSET and before["name"] == old_default)):
        rate.name = default_name(percent_of(fraction))
    rate.rate = fraction
    db.session.flush()
    audit.record_change(
        "orders.tax_rate.updated",
        actor=actor,
        target=rate,
        before=before,
        after=_snapshot(rate),
        summary=f"Updated tax rate {_describe(rate)}",
    )
    return rate


def delete_tax_rate(rate: TaxRate, *, actor) -> None:
    """Delete a rate: its class is taxed at the country's rate (for a region) or at 0."""
    rate_id, snapshot, description = rate.id, _snapshot(rate), _describe(rate)
    db.session.delete(rate)
    db.session.flush()
    audit.record(
        "orders.tax_rate.deleted",
        actor=actor,
        target_type="TaxRate",
        target_id=rate_id,
        summary=f"Deleted tax rate {description}",
        **snapshot,
    )
