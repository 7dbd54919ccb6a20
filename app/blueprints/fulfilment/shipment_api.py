"""Staff shipments API (/api/v1/admin): an order's shipments and what it has left to ship,
shipping units of an order, the filtered list of all shipments and one shipment with its
tracking events.

Reads need fulfilment.read, shipping fulfilment.ship. Shipping runs as one use case in
one transaction with the order locked (FOR UPDATE), and accepts an optional
`Idempotency-Key` (app/core/idempotency.py): a replay answers the first response with
`Idempotent-Replayed: true` instead of shipping again.
"""

from __future__ import annotations

from flask import url_for
from flask.views import MethodView
from flask_login import current_user

from app.blueprints.fulfilment import (
    FULFILMENT_READ,
    FULFILMENT_SHIP,
    api_bp,
    providers,
    shipment_labels,
    shipment_queries,
    shipments,
)
from app.blueprints.fulfilment.models import Shipment
from app.blueprints.fulfilment.shipment_schemas import (
    RateSchema,
    RatesQuerySchema,
    ShipmentCreateSchema,
    ShipmentDetailSchema,
    ShipmentFilterSchema,
    ShipmentSchema,
    ShippableSchema,
)
from app.blueprints.inventory.models import StockLocation
from app.blueprints.orders import order_queries
from app.blueprints.orders.store_api import PROBLEM
from app.core import idempotency
from app.core.errors import InvalidInput
from app.core.pagination import api_page
from app.core.permissions import require_permission
from app.core.transaction import transaction
from app.extensions import db

BEARER = [{"bearerAuth": []}]
NUMBER = "string(maxlength=20)"  # longer is no order number: a plain 404
SHIPMENT_NUMBER = "string(maxlength=30)"
NO_ORDER = "No such order"
IDEMPOTENCY_KEY = idempotency.openapi_header(required=False)


def acting_staff():
    return current_user._get_current_object()


def detail(shipment: Shipment):
    [view] = shipment_queries.shipment_views([shipment], with_events=True)
    return view


@api_bp.route(f"/orders/<{NUMBER}:number>/shipments")
class OrderShipments(MethodView):
    @require_permission(FULFILMENT_READ)
    @api_bp.response(200, ShipmentSchema(many=True))
    @api_bp.alt_response(404, **PROBLEM, description=NO_ORDER)
    @api_bp.doc(security=BEARER)
    def get(self, number):
        """The order's shipments, first one first [fulfilment.read]"""
        order = order_queries.order_by_number(number)
        return shipment_queries.shipment_views(shipment_queries.order_shipments(order))

    @require_permission(FULFILMENT_SHIP)
    @api_bp.arguments(ShipmentCreateSchema)
    @api_bp.response(201, ShipmentDetailSchema)
    @api_bp.alt_response(404, **PROBLEM, description=NO_ORDER)
    @api_bp.alt_response(
        409,
        **PROBLEM,
        description="Not possible now: the order's state (invalid_transition), more units than are left "
        "to ship (too_many_units) or reserved at the location (not_reserved), nothing reserved there "
        "(nothing_to_ship), the provider made no label (label_failed); or a request with this "
        "Idempotency-Key is still running",
    )
    @api_bp.alt_response(
        422,
        **PROBLEM,
        description="Invalid fields (`errors` names them; quantities as `quantities.<order_line_id>`), "
        "or the Idempotency-Key was used with another body",
    )
    @api_bp.doc(security=BEARER, parameters=[IDEMPOTENCY_KEY])
    def post(self, data, number):
        """Ship units of the order from one stock location [fulfilment.ship]

        The reserved stock leaves through the inventory ledger, the order becomes partially
        shipped or shipped, and the shipment's first tracking event is `label_created`.
        Backordered units cannot ship until a delivery reserves them."""
        claim = idempotency.claim(
            f"admin-shipments:{current_user.id}", idempotency.key_from_request(required=False)
        )
        if claim.replay is not None:
            return claim.replay
        try:
            shipment = shipment_by_reference(claim.resource)
            if shipment is None:
                with transaction():
                    shipment = ship(number, data)
                    claim.attach(f"shipment:{shipment.id}")
            body = ShipmentDetailSchema().dump(detail(shipment))
        except BaseException:
            claim.release()
            raise
        location = url_for("fulfilment_api.ShipmentItem", shipment_number=shipment.number)
        return claim.complete(body, 201, {"Location": location})


def ship(number: str, data: dict) -> Shipment:
    order = order_queries.order_by_number(number, for_update=True)
    lines = data.get("lines")
    quantities = {line["order_line_id"]: line["quantity"] for line in lines} if lines else None
    return shipments.create_shipment(
        order,
        location_id=data["location_id"],
        quantities=quantities,
        provider=data["provider"],
        carrier=data["carrier"],
        service=data["service"],
        tracking_number=data["tracking_number"],
        tracking_url=data["tracking_url"],
        packages=data["packages"],
        weight_grams=data["weight_grams"],
        actor=acting_staff(),
    )


def shipment_by_reference(reference: str | None) -> Shipment | None:
    """The shipment an abandoned request under the same key made ("shipment:<id>")."""
    kind, _, shipment_id = (reference or "").partition(":")
    if kind != "shipment" or not shipment_id.isdigit():
        return None
    return db.session.get(Shipment, int(shipment_id))


@api_bp.route(f"/orders/<{NUMBER}:number>/shippable")
class OrderShippable(MethodView):
    @require_permission(FULFILMENT_READ)
    @api_bp.response(200, ShippableSchema)
    @api_bp.alt_response(404, **PROBLEM, description=NO_ORDER)
    @api_bp.doc(security=BEARER)
    def get(self, number):
        """What the order has left to ship and where it is reserved [fulfilment.read]"""
        order = order_queries.order_by_number(number)
        lines = shipments.shippable(order)
        return {
            "order_number": order.number,
            "can_ship": shipments.can_ship_now(order, lines),
            "lines": lines,
        }


@api_bp.route(f"/orders/<{NUMBER}:number>/shipping-rates")
class OrderShippingRates(MethodView):
    @require_permission(FULFILMENT_READ)
    @api_bp.arguments(RatesQuerySchema, location="query")
    @api_bp.response(200, RateSchema(many=True))
    @api_bp.alt_response(404, **PROBLEM, description=NO_ORDER)
    @api_bp.doc(security=BEARER)
    def get(self, args, number):
        """What a provider's carriers ask to ship the order's parcels, cheapest first [fulfilment.read]"""
        order = order_queries.order_by_number(number)
        provider = providers.get_provider(args["provider"])
        location = db.session.get(StockLocation, args["location_id"])
        if location is None:
            raise InvalidInput("No such stock location.", errors={"location_id": ["No such stock location."]})
        weight = args.get("weight_grams")
        if weight is None:
            weight = order.weight_grams  # of the whole order
        return shipment_labels.quote_rates(
            order, provider, location, packages=args["packages"], weight_grams=weight
        )


@api_bp.route("/shipments")
class Shipments(MethodView):
    @require_permission(FULFILMENT_READ)
    @api_bp.arguments(ShipmentFilterSchema, location="query")
    @api_bp.response(200, ShipmentSchema(many=True))
    @api_bp.alt_response(422, **PROBLEM, description="A filter value is not valid (`errors` names it)")
    @api_bp.paginate(page_size=25, max_page_size=100)
    @api_bp.doc(security=BEARER)
    def get(self, filters, pagination_parameters):
        """Shipments, newest first [fulfilment.read]

        Filters combine (AND): `status` takes several values, `created_from` and
        `created_to` are UTC days (inclusive), `q` an exact shipment, order or tracking number."""
        page = api_page(shipment_queries.filtered_shipments(filters), pagination_parameters)
        return shipment_queries.shipment_views(page)


@api_bp.route(f"/shipments/<{SHIPMENT_NUMBER}:shipment_number>")
class ShipmentItem(MethodView):
    @require_permission(FULFILMENT_READ)
    @api_bp.response(200, ShipmentDetailSchema)
    @api_bp.alt_response(404, **PROBLEM, description="No such shipment")
    @api_bp.doc(security=BEARER)
    def get(self, shipment_number):
        """One shipment with its lines and tracking events [fulfilment.read]"""
        return detail(shipment_queries.shipment_by_number(shipment_number))
