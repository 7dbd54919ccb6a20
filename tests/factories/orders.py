"""Factories for the orders settings: shipping zones (with their countries), shipping
methods (flat or weight bands) and tax rates, as the settings services leave them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

import factory

from app.blueprints.orders.models import (
    ShippingMethod,
    ShippingRateBand,
    ShippingZone,
    ShippingZoneCountry,
    TaxRate,
)
from app.extensions import db


class _Factory(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


def _destination(entry) -> tuple[str, str]:
    """ "NL" or ("ES", "Canarias") -> (country, region)."""
    if isinstance(entry, str):
        return entry.upper(), ""
    country, region = entry
    return country.upper(), region or ""


class ShippingZoneFactory(_Factory):
    """A zone; `countries=["NL", ("ES", "Canarias")]` adds its destinations (a bare code
    is the whole country, a pair one region of it)."""

    class Meta:
        model = ShippingZone

    name = factory.Sequence(lambda n: f"Zone {n}")
    position = factory.Sequence(lambda n: n)

    @factory.post_generation
    def countries(obj, create, extracted, **kwargs):
        for entry in extracted or ():
            country, region = _destination(entry)
            obj.countries.append(ShippingZoneCountry(country=country, region=region))
        if create and extracted:
            db.session.flush()


class ShippingMethodFactory(_Factory):
    """An active flat-rate method (4.95) in a new zone unless `zone=` is given.
    `bands=[(2000, "9.95"), (10000, "14.95")]` adds (max grams, price) bands; for a
    weight-band method use weight_band_method() or pass kind="weight_band", flat_rate=None."""

    class Meta:
        model = ShippingMethod

    zone = factory.SubFactory(ShippingZoneFactory)
    code = factory.Sequence(lambda n: f"method-{n}")
    name = factory.Sequence(lambda n: f"Method {n}")
    kind = "flat"
    flat_rate = Decimal("4.95")
    free_over = None
    tax_class = "standard"
    is_active = True
    position = 0

    @factory.post_generation
    def bands(obj, create, extracted, **kwargs):
        if not extracted:
            return
        for max_weight_grams, price in extracted:
            obj.bands.append(ShippingRateBand(max_weight_grams=max_weight_grams, price=Decimal(str(price))))
        if create:
            db.session.flush()


class TaxRateFactory(_Factory):
    """NL standard VAT 21 % unless told otherwise; `rate` is a fraction (0.21)."""

    class Meta:
        model = TaxRate

    country = "NL"
    region = ""
    tax_class = "standard"
    rate = Decimal("0.2100")
    name = factory.LazyAttribute(lambda o: f"VAT {_percent_label(o.rate)}%")


def _percent_label(rate) -> str:
    """0.21 -> "21", 0.055 -> "5.5" (how rates are named on invoices)."""
    percent = (Decimal(str(rate)) * 100).normalize()
    return f"{percent:f}"


def weight_band_method(zone: ShippingZone | None = None, bands: Iterable = (), **fields) -> ShippingMethod:
    """A weight-band method: `bands` as (max grams, price) pairs."""
    fields.setdefault("kind", "weight_band")
    fields.setdefault("flat_rate", None)
    if zone is not None:
        fields["zone"] = zone
    return ShippingMethodFactory(bands=list(bands), **fields)


def zone_with_methods(
    name: str | None = None,
    countries: Iterable = ("NL",),
    methods: Iterable[Mapping] | None = None,
    **zone_fields,
) -> ShippingZone:
    """A zone serving `countries` with `methods`, each a dict of ShippingMethod fields
    (plus `bands=[(max grams, price), ...]`, which makes it a weight-band method).
    Default: one flat "standard" method at 4.95 and nothing free.

        zone_with_methods("Netherlands", ["NL"], [
            {"code": "standard", "flat_rate": Decimal("4.95"), "free_over": Decimal("50.00")},
            {"code": "express", "bands": [(2000, "9.95"), (10000, "14.95")]},
        ])
    """
    if name is not None:
        zone_fields["name"] = name
    zone = ShippingZoneFactory(countries=list(countries), **zone_fields)
    if methods is None:
        methods = [{"code": "standard", "name": "Standard", "flat_rate": Decimal("4.95")}]
    for position, spec in enumerate(methods):
        spec = dict(spec)
        spec.setdefault("position", position)
        spec.setdefault("name", spec.get("code", f"Method {position}").title())
        bands = spec.pop("bands", None)
        if bands:
            weight_band_method(zone, bands, **spec)
        else:
            ShippingMethodFactory(zone=zone, **spec)
    db.session.flush()
    db.session.refresh(zone)
    return zone


def tax_rates(
    country: str = "NL", rates: Mapping[str, object] | None = None, region: str = ""
) -> list[TaxRate]:
    """Rates of one country (or region) by tax class, given in percent:
    tax_rates("NL", {"standard": 21, "reduced": 9, "zero": 0})."""
    if rates is None:
        rates = {"standard": 21, "reduced": 9, "zero": 0}
    made = []
    for tax_class, percent in rates.items():
        fraction = (Decimal(str(percent)) / 100).quantize(Decimal("0.0001"))
        made.append(
            TaxRateFactory(
                country=country.upper(),
                region=region,
                tax_class=tax_class,
                rate=fraction,
                name=f"VAT {_percent_label(fraction)}%",
            )
        )
    return made
