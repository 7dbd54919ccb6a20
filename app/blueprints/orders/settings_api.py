"""Staff API of the shipping and tax settings (/api/v1/admin): shipping zones with their
destinations and methods, and tax rates. Reads need orders.read, changes orders.settings."""

from __future__ import annotations

from contextlib import contextmanager

from flask.views import MethodView
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

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
from app.core.errors import Conflict
from app.core.permissions import require_permission
from app.core.transaction import transaction
from app.extensions import db

BEARER = [{"bearerAuth": []}]
# Ids beyond the database's integer range are simply not found (SQLite cannot even bind them).
ID = "int(max=2147483647)"
# A unique index as PostgreSQL and SQLite name it -> the body field a racing request took first.
UNIQUE_FIELDS = (
    ("uq_shipping_zones_name", "shipping_zones.name", "name"),
    ("uq_shipping_zone_countries_country_region", "shipping_zone_countries.country", "countries"),
    ("uq_shipping_methods_zone_code", "shipping_methods.zone_id", "code"),
    ("uq_shipping_rate_bands_method_weight", "shipping_rate_bands.method_id", "bands"),
    ("uq_tax_rates_country_region_class", "tax_rates.country", "tax_class"),
)


@contextmanager
def unique_race_is_a_conflict():
    """Two requests may both pass the services' checks; the database then refuses the
    second (a unique index, or a zone deleted meanwhile), which is a 409 like any
    conflict with the current state."""
    try:
        yield
    except IntegrityError as error:
        message = str(error.orig).lower()
        for constraint, sqlite_columns, field in UNIQUE_FIELDS:
            if constraint in message or sqlite_columns in message:
                raise Conflict(
                    "Another change took this meanwhile; reload and try again.",
                    code=f"{field}_taken",
                    errors={field: ["Already in use."]},
                ) from error
        raise Conflict(
            "The settings changed meanwhile; reload and try again.", code="changed_meanwhile"
        ) from error


def paginated(query, pagination_parameters):
    page = db.paginate(
        query, page=pagination_parameters.page, per_page=pagination_parameters.page_size, error_out=False
    )
    pagination_parameters.item_count = page.total
    return page.items


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
        with unique_race_is_a_conflict(), transaction():
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
        with unique_race_is_a_conflict(), transaction():
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
        with unique_race_is_a_conflict(), transaction():
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
        with unique_race_is_a_conflict(), transaction():
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
        return paginated(taxes.tax_rates_query(**args), pagination_parameters)

    @require_permission(ORDERS_SETTINGS)
    @api_bp.arguments(TaxRateCreateSchema)
    @api_bp.response(201, TaxRateSchema)
    @api_bp.doc(security=BEARER)
    def post(self, data):
        """Create the rate of a tax class in a country or region, given as a percentage"""
        with unique_race_is_a_conflict(), transaction():
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
        with unique_race_is_a_conflict(), transaction():
            return taxes.update_tax_rate(taxes.get_tax_rate(rate_id), actor=current_user, **data)

    @require_permission(ORDERS_SETTINGS)
    @api_bp.response(204)
    @api_bp.doc(security=BEARER)
    def delete(self, rate_id):
        """Delete a rate: the class falls back to the country's rate (for a region), else 0"""
        with transaction():
            taxes.delete_tax_rate(taxes.get_tax_rate(rate_id), actor=current_user)
