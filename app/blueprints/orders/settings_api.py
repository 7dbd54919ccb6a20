"""Staff API of the shipping and tax settings (/api/v1/admin): shipping zones with their
destinations and methods, and tax rates. Reads need orders.read, changes orders.settings."""

from __future__ import annotations

from flask.views import MethodView
from flask_login import current_user

from app.blueprints.orders import ORDERS_READ, ORDERS_SETTINGS, api_bp, shipping, shipping_methods, taxes
from app.blueprints.orders.settings_schemas import (
    MethodCreateSchema,
    MethodSchema,
    MethodUpdateSchema,
    TaxRateCreateSchema,
    TaxRateFilterSchema,
    TaxRateSchema,
    TaxRateUpdateSchema,
    ZoneCreateSchema,
    ZoneSchema,
    ZoneUpdateSchema,
)
from app.core.pagination import api_page
from app.core.permissions import require_permission
from app.core.races import constraint_race_is_a_conflict
from app.core.transaction import transaction

BEARER = [{"bearerAuth": []}]
# Ids beyond the database's integer range are simply not found (SQLite cannot even bind them).
ID = "int(max=2147483647)"
# A unique index as PostgreSQL and SQLite name it -> the body field a racing request took first.
UNIQUE_FIELDS = {
    "uq_shipping_zones_name": "name",
    "shipping_zones.name": "name",
    "uq_shipping_zone_countries_country_region": "countries",
    "shipping_zone_countries.country": "countries",
    "uq_shipping_methods_zone_code": "code",
    "shipping_methods.zone_id": "code",
    "uq_shipping_rate_bands_method_weight": "bands",
    "shipping_rate_bands.method_id": "bands",
    "uq_tax_rates_country_region_class": "tax_class",
    "tax_rates.country": "tax_class",
}


# ---- shipping zones ----------------------------------------------------------------------


@api_bp.route("/shipping/zones")
class ShippingZones(MethodView):
    @require_permission(ORDERS_READ)
    @api_bp.response(200, ZoneSchema(many=True))
    @api_bp.doc(security=BEARER)
    def get(self):
        """Every shipping zone by position, with its destinations and methods"""
        return shipping.list_zones()

    @require_permission(ORDERS_SETTINGS)
    @api_bp.arguments(ZoneCreateSchema)
    @api_bp.response(201, ZoneSchema)
    @api_bp.doc(security=BEARER)
    def post(self, data):
        """Create a zone serving countries (or regions of them); a destination belongs to one zone"""
        with constraint_race_is_a_conflict(UNIQUE_FIELDS), transaction():
            zone_id = shipping.create_zone(actor=current_user, **data).id
        return shipping.get_zone(zone_id)


@api_bp.route(f"/shipping/zones/<{ID}:zone_id>")
class ShippingZoneItem(MethodView):
    @require_permission(ORDERS_READ)
    @api_bp.response(200, ZoneSchema)
    @api_bp.doc(security=BEARER)
    def get(self, zone_id):
        """One zone with its destinations and methods"""
        return shipping.get_zone(zone_id)

    @require_permission(ORDERS_SETTINGS)
    @api_bp.arguments(ZoneUpdateSchema)
    @api_bp.response(200, ZoneSchema)
    @api_bp.doc(security=BEARER)
    def patch(self, data, zone_id):
        """Change the fields given; `countries` replaces the zone's destinations"""
        with constraint_race_is_a_conflict(UNIQUE_FIELDS), transaction():
            shipping.update_zone(shipping.get_zone(zone_id), actor=current_user, **data)
        return shipping.get_zone(zone_id)

    @require_permission(ORDERS_SETTINGS)
    @api_bp.response(204)
    @api_bp.doc(security=BEARER)
    def delete(self, zone_id):
        """Delete a zone with its methods; its destinations are no longer shipped to"""
        with transaction():
            shipping.delete_zone(shipping.get_zone(zone_id), actor=current_user)


@api_bp.route(f"/shipping/zones/<{ID}:zone_id>/methods")
class ShippingZoneMethods(MethodView):
    @require_permission(ORDERS_SETTINGS)
    @api_bp.arguments(MethodCreateSchema)
    @api_bp.response(201, MethodSchema)
    @api_bp.doc(security=BEARER)
    def post(self, data, zone_id):
        """Add a method to the zone: flat (flat_rate) or weight_band (bands), free over an amount"""
        with constraint_race_is_a_conflict(UNIQUE_FIELDS), transaction():
            method_id = shipping_methods.add_method(shipping.get_zone(zone_id), actor=current_user, **data).id
        return shipping_methods.get_method(method_id)


# ---- shipping methods --------------------------------------------------------------------


@api_bp.route(f"/shipping/methods/<{ID}:method_id>")
class ShippingMethodItem(MethodView):
    @require_permission(ORDERS_READ)
    @api_bp.response(200, MethodSchema)
    @api_bp.doc(security=BEARER)
    def get(self, method_id):
        """One shipping method with its bands"""
        return shipping_methods.get_method(method_id)

    @require_permission(ORDERS_SETTINGS)
    @api_bp.arguments(MethodUpdateSchema)
    @api_bp.response(200, MethodSchema)
    @api_bp.doc(security=BEARER)
    def patch(self, data, method_id):
        """Change the fields given; `bands` replaces them. A switch of kind needs the other
        kind's price: bands for weight_band, flat_rate for flat."""
        with constraint_race_is_a_conflict(UNIQUE_FIELDS), transaction():
            shipping_methods.update_method(shipping_methods.get_method(method_id), actor=current_user, **data)
        return shipping_methods.get_method(method_id)

    @require_permission(ORDERS_SETTINGS)
    @api_bp.response(204)
    @api_bp.doc(security=BEARER)
    def delete(self, method_id):
        """Delete a method; open carts that chose it must choose again (or deactivate it instead)"""
        with transaction():
            shipping_methods.delete_method(shipping_methods.get_method(method_id), actor=current_user)


# ---- tax rates ---------------------------------------------------------------------------


@api_bp.route("/tax-rates")
class TaxRates(MethodView):
    @require_permission(ORDERS_READ)
    @api_bp.arguments(TaxRateFilterSchema, location="query")
    @api_bp.response(200, TaxRateSchema(many=True))
    @api_bp.paginate(page_size=100, max_page_size=100)
    @api_bp.doc(security=BEARER)
    def get(self, args, pagination_parameters):
        """Tax rates by country, region and class (filter by country or tax_class)"""
        return api_page(taxes.tax_rates_query(**args), pagination_parameters)

    @require_permission(ORDERS_SETTINGS)
    @api_bp.arguments(TaxRateCreateSchema)
    @api_bp.response(201, TaxRateSchema)
    @api_bp.doc(security=BEARER)
    def post(self, data):
        """Create the rate of a tax class in a country or region, given as a percentage"""
        with constraint_race_is_a_conflict(UNIQUE_FIELDS), transaction():
            return taxes.create_tax_rate(actor=current_user, **data)


@api_bp.route(f"/tax-rates/<{ID}:rate_id>")
class TaxRateItem(MethodView):
    @require_permission(ORDERS_READ)
    @api_bp.response(200, TaxRateSchema)
    @api_bp.doc(security=BEARER)
    def get(self, rate_id):
        """One tax rate"""
        return taxes.get_tax_rate(rate_id)

    @require_permission(ORDERS_SETTINGS)
    @api_bp.arguments(TaxRateUpdateSchema)
    @api_bp.response(200, TaxRateSchema)
    @api_bp.doc(security=BEARER)
    def patch(self, data, rate_id):
        """Change the fields given; an empty name is made again from the percentage"""
        with constraint_race_is_a_conflict(UNIQUE_FIELDS), transaction():
            return taxes.update_tax_rate(taxes.get_tax_rate(rate_id), actor=current_user, **data)

    @require_permission(ORDERS_SETTINGS)
    @api_bp.response(204)
    @api_bp.doc(security=BEARER)
    def delete(self, rate_id):
        """Delete a rate: the class falls back to the country's rate (for a region), else 0"""
        with transaction():
            taxes.delete_tax_rate(taxes.get_tax_rate(rate_id), actor=current_user)
