"""Demo shipping and tax settings: three zones (the Netherlands, the rest of the EU the
store ships to, the United Kingdom) with their methods, and VAT rates of every country it ships to.
Everything goes through the settings services; a zone or rate already there is left as
it is, so running the seeder again adds only what is missing."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from app.blueprints.orders import shipping, shipping_methods, taxes
from app.blueprints.orders.models import ShippingZone, TaxRate
from app.core.cli import demo_seeder
from app.extensions import db

SEED_ORDER = 50  # after staff (10), customers (20), the catalog (30) and inventory (40)
D = Decimal
EU = ["BE", "DE", "FR", "LU", "AT", "ES", "IT", "IE", "DK", "SE", "FI", "PT", "PL"]
# zone name -> (destinations, methods)
ZONES = {
    "Netherlands": (
        ["NL"],
        [
            {"code": "standard", "name": "Standard", "flat_rate": D("4.95"), "free_over": D("50.00")},
            {
                "code": "express",
                "name": "Express",
                "kind": "weight_band",
                "bands": [(2000, D("9.95")), (10000, D("14.95")), (30000, D("24.95"))],
            },
        ],
    ),
    "European Union": (
        EU,
        [{"code": "standard", "name": "Standard", "flat_rate": D("9.95"), "free_over": D("100.00")}],
    ),
    "United Kingdom": (["GB"], [{"code": "standard", "name": "Standard", "flat_rate": D("14.95")}]),
}
# country -> percent by tax class
TAX_RATES = {
    "NL": {"standard": "21", "reduced": "9", "zero": "0"},
    "BE": {"standard": "21", "reduced": "6", "zero": "0"},
    "DE": {"standard": "19", "reduced": "7", "zero": "0"},
    "FR": {"standard": "20", "reduced": "5.5", "zero": "0"},
    "GB": {"standard": "20", "reduced": "5", "zero": "0"},
    # The rest of the EU zone, so every destination the demo ships to is taxed.
    "LU": {"standard": "17", "reduced": "8", "zero": "0"},
    "AT": {"standard": "20", "reduced": "10", "zero": "0"},
    "ES": {"standard": "21", "reduced": "10", "zero": "0"},
    "IT": {"standard": "22", "reduced": "10", "zero": "0"},
    "IE": {"standard": "23", "reduced": "13.5", "zero": "0"},
    "DK": {"standard": "25", "reduced": "25", "zero": "0"},
    "SE": {"standard": "25", "reduced": "12", "zero": "0"},
    "FI": {"standard": "25.5", "reduced": "14", "zero": "0"},
    "PT": {"standard": "23", "reduced": "13", "zero": "0"},
    "PL": {"standard": "23", "reduced": "8", "zero": "0"},
}


def seed_zones() -> int:
    existing = set(db.session.scalars(select(ShippingZone.name)))
    created = 0
    for name, (countries, methods) in ZONES.items():
        if name in existing:
            continue
        zone = shipping.create_zone(actor=None, name=name, countries=countries)
        for method in methods:
            shipping_methods.add_method(zone, actor=None, **method)
        created += 1
    return created


def seed_tax_rates() -> int:
    existing = set(db.session.execute(select(TaxRate.country, TaxRate.region, TaxRate.tax_class)).tuples())
    created = 0
    for country, rates in TAX_RATES.items():
        for tax_class, percent in rates.items():
            if (country, "", tax_class) in existing:
                continue
            taxes.create_tax_rate(actor=None, country=country, tax_class=tax_class, percent=percent)
            created += 1
    return created


@demo_seeder(SEED_ORDER, "orders: shipping zones, shipping methods and tax rates")
def seed_shipping_and_taxes() -> str | None:
    zones, rates = seed_zones(), seed_tax_rates()
    if not zones and not rates:
        return None
    return f"Demo shipping and tax settings: {zones} shipping zones, {rates} tax rates"
