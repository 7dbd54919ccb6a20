"""Staff API for inventory (/api/v1/admin): locations, stock levels, adjustments, counts,
transfers, the movement ledger, alerts and backorders (receipts: receipt_api.py).

Reads need `inventory.read`, stock changes `inventory.write`, locations
`inventory.locations`. Variants are named by SKU and locations by code in bodies and
filters; an unknown one is a 422 on its field, stock that is not there a 409.
"""

from __future__ import annotations

from flask.views import MethodView
from flask_login import current_user

from app.blueprints.catalog.stock import stock_view
from app.blueprints.inventory import (
    INVENTORY_LOCATIONS,
    INVENTORY_READ,
    INVENTORY_WRITE,
    alerts,
    api_bp,
    backorders,
    queries,
    services,
)
from app.blueprints.inventory.schemas import (
    AlertArgs,
    AlertSchema,
    BackorderArgs,
    BackorderCancelSchema,
    BackorderSchema,
    LocationCreateSchema,
    LocationSchema,
    LocationUpdateSchema,
    MovementArgs,
    MovementFeedSchema,
    MovementSchema,
    StockAdjustmentSchema,
    StockArgs,
    StockCountSchema,
    StockLevelSchema,
    StockTransferSchema,
    SubscriptionSchema,
    TransferResultSchema,
    VariantStockSchema,
)
from app.core.api import ProblemSchema
from app.core.errors import PROBLEM_JSON
from app.core.permissions import require_permission
from app.core.transaction import transaction
from app.extensions import db

BEARER = [{"bearerAuth": []}]
ID = "int(max=2147483647)"
PROBLEM = {"schema": ProblemSchema, "content_type": PROBLEM_JSON}


def location_id_of(args: dict, name: str = "location") -> int | None:
    return services.location_by_code(args[name], field=name).id if args.get(name) else None


def paginated(pagination_parameters, rows_and_total):
    rows, total = rows_and_total
    pagination_parameters.item_count = total
    return rows


# ---- locations ----------------------------------------------------------------------------


@api_bp.route("/locations")
class Locations(MethodView):
    @require_permission(INVENTORY_READ)
    @api_bp.response(200, LocationSchema(many=True))
    @api_bp.doc(security=BEARER)
    def get(self):
        """Every stock location, in fulfilment order (position)"""
        return services.list_locations()

    @require_permission(INVENTORY_LOCATIONS)
    @api_bp.arguments(LocationCreateSchema)
    @api_bp.response(201, LocationSchema)
    @api_bp.doc(security=BEARER)
    def post(self, data):
        """Create a warehouse or store; its code is unique (stored upper-case)"""
        with transaction():
            return services.create_location(actor=current_user, **data)


@api_bp.route(f"/locations/<{ID}:location_id>")
class LocationItem(MethodView):
    @require_permission(INVENTORY_READ)
    @api_bp.response(200, LocationSchema)
    @api_bp.doc(security=BEARER)
    def get(self, location_id):
        """One stock location"""
        return services.get_location(location_id)

    @require_permission(INVENTORY_LOCATIONS)
    @api_bp.arguments(LocationUpdateSchema)
    @api_bp.response(200, LocationSchema)
    @api_bp.doc(security=BEARER)
    def patch(self, data, location_id):
        """Change the fields given (threshold null: back to the app's default)"""
        with transaction():
            return services.update_location(services.get_location(location_id), data, actor=current_user)


# ---- stock levels -------------------------------------------------------------------------


@api_bp.route("/stock")
class Stock(MethodView):
    @require_permission(INVENTORY_READ)
    @api_bp.arguments(StockArgs, location="query")
    @api_bp.response(200, StockLevelSchema(many=True))
    @api_bp.paginate(page_size=25, max_page_size=100)
    @api_bp.doc(security=BEARER)
    def get(self, args, pagination_parameters):
        """Stock per variant and location, filtered (location, low stock only, SKU or name)"""
        filters = queries.StockFilter(
            location_id=location_id_of(args),
            low_stock=args["low_stock"],
            q=args.get("q", ""),
            sort=args["sort"],
        )
        page = queries.stock_page(filters, pagination_parameters.page, pagination_parameters.page_size)
        return paginated(pagination_parameters, page)


@api_bp.route(f"/variants/<{ID}:variant_id>/stock")
class VariantStock(MethodView):
    @require_permission(INVENTORY_READ)
    @api_bp.response(200, VariantStockSchema)
    @api_bp.doc(security=BEARER)
    def get(self, variant_id):
        """A variant's stock at every location, and its availability as the storefront sees it"""
        variant = services.get_variant(variant_id)
        return {
            "variant_id": variant.id,
            "sku": variant.sku,
            "availability": stock_view().availability([variant.id])[variant.id],
            "levels": queries.stock_rows(queries.StockFilter(variant_id=variant.id)),
        }


@api_bp.route("/stock/adjustments")
class Adjustments(MethodView):
    @require_permission(INVENTORY_WRITE)
    @api_bp.arguments(StockAdjustmentSchema)
    @api_bp.response(201, MovementSchema)
    @api_bp.alt_response(409, **PROBLEM, description="Would take stock that is not free (insufficient_stock)")
    @api_bp.doc(security=BEARER)
    def post(self, data):
        """Add or take away units on hand, with a reason (damage, loss, found)"""
        with transaction():
            movement = services.adjust_stock(
                services.variant_by_sku(data["sku"]),
                services.location_by_code(data["location"]),
                data["delta"],
                reason=data["reason"],
                reference=data["reference"],
                actor=current_user,
            )
            return queries.describe_movements([movement])[0]


@api_bp.route("/stock/counts")
class Counts(MethodView):
    @require_permission(INVENTORY_WRITE)
    @api_bp.arguments(StockCountSchema)
    @api_bp.response(201, MovementSchema)
    @api_bp.alt_response(409, **PROBLEM, description="Count below the units reserved (count_below_reserved)")
    @api_bp.doc(security=BEARER)
    def post(self, data):
        """Record a stock count: on hand becomes what was counted (a count_correction)"""
        with transaction():
            movement = services.count_stock(
                services.variant_by_sku(data["sku"]),
                services.location_by_code(data["location"]),
                data["counted"],
                reason=data["reason"],
                actor=current_user,
            )
            return queries.describe_movements([movement])[0]


@api_bp.route("/stock/transfers")
class Transfers(MethodView):
    @require_permission(INVENTORY_WRITE)
    @api_bp.arguments(StockTransferSchema)
    @api_bp.response(201, TransferResultSchema)
    @api_bp.alt_response(
        409, **PROBLEM, description="Not enough free stock at the source (insufficient_stock)"
    )
    @api_bp.doc(security=BEARER)
    def post(self, data):
        """Move free units from one location to another (transfer_out + transfer_in)"""
        with transaction():
            transfer = services.transfer_stock(
                services.variant_by_sku(data["sku"]),
                services.location_by_code(data["from_location"], field="from_location"),
                services.location_by_code(data["to_location"], field="to_location"),
                data["quantity"],
                reason=data["reason"],
                actor=current_user,
            )
            return {
                "reference": transfer.reference,
                "movements": queries.describe_movements([transfer.out, transfer.into]),
            }


@api_bp.route("/stock/movements")
class Movements(MethodView):
    @require_permission(INVENTORY_READ)
    @api_bp.arguments(MovementArgs, location="query")
    @api_bp.response(200, MovementFeedSchema)
    @api_bp.doc(security=BEARER)
    def get(self, args):
        """The movement ledger, newest first, by keyset cursor

        Start without `before_id`, then pass each answer's `next_before_id` until it is null."""
        filters = queries.MovementFilter(
            variant_id=services.variant_by_sku(args["sku"]).id if args.get("sku") else None,
            location_id=location_id_of(args),
            kind=args.get("kind"),
            reference=args.get("reference"),
            before_id=args.get("before_id"),
        )
        items, next_before_id = queries.movements(filters, args["limit"])
        return {"items": items, "next_before_id": next_before_id}


# ---- alerts and backorders ------------------------------------------------------------------


@api_bp.route("/stock/alerts")
class Alerts(MethodView):
    @require_permission(INVENTORY_READ)
    @api_bp.arguments(AlertArgs, location="query")
    @api_bp.response(200, AlertSchema(many=True))
    @api_bp.paginate(page_size=25, max_page_size=100)
    @api_bp.doc(security=BEARER)
    def get(self, args, pagination_parameters):
        """Low-stock alerts, newest first (open ones by default)"""
        status = None if args["status"] == "all" else args["status"]
        page = queries.alert_page(
            status, location_id_of(args), pagination_parameters.page, pagination_parameters.page_size
        )
        return paginated(pagination_parameters, page)


@api_bp.route("/stock/alerts/subscription")
class AlertSubscription(MethodView):
    @require_permission(INVENTORY_READ)
    @api_bp.response(200, SubscriptionSchema)
    @api_bp.doc(security=BEARER)
    def get(self):
        """Whether the token's user gets an email for each new low-stock alert"""
        return {"subscribed": alerts.is_subscribed(current_user._get_current_object())}

    @require_permission(INVENTORY_READ)
    @api_bp.response(200, SubscriptionSchema)
    @api_bp.doc(security=BEARER)
    def put(self):
        """Subscribe the token's user to low-stock alert emails (idempotent)"""
        user = current_user._get_current_object()
        with transaction():
            alerts.subscribe(user, actor=user)
        return {"subscribed": True}

    @require_permission(INVENTORY_READ)
    @api_bp.response(200, SubscriptionSchema)
    @api_bp.doc(security=BEARER)
    def delete(self):
        """Stop the emails (idempotent)"""
        user = current_user._get_current_object()
        with transaction():
            alerts.unsubscribe(user, actor=user)
        return {"subscribed": False}


@api_bp.route("/backorders")
class Backorders(MethodView):
    @require_permission(INVENTORY_READ)
    @api_bp.arguments(BackorderArgs, location="query")
    @api_bp.response(200, BackorderSchema(many=True))
    @api_bp.paginate(page_size=25, max_page_size=100)
    @api_bp.doc(security=BEARER)
    def get(self, args, pagination_parameters):
        """Backorders in the order they are served (oldest first)"""
        variant_id = services.variant_by_sku(args["sku"]).id if args.get("sku") else None
        query = queries.backorder_query(args.get("status"), variant_id, args.get("reference", ""))
        page = db.paginate(
            query, page=pagination_parameters.page, per_page=pagination_parameters.page_size, error_out=False
        )
        pagination_parameters.item_count = page.total
        return queries.backorder_views(page.items)


@api_bp.route(f"/backorders/<{ID}:backorder_id>/cancel")
class BackorderCancel(MethodView):
    @require_permission(INVENTORY_WRITE)
    @api_bp.arguments(BackorderCancelSchema)
    @api_bp.response(200, BackorderSchema)
    @api_bp.alt_response(409, **PROBLEM, description="Already allocated stock (backorder_allocated)")
    @api_bp.doc(security=BEARER)
    def post(self, data, backorder_id):
        """Take a waiting backorder out of the line"""
        with transaction():
            backorder = backorders.cancel_backorder(
                backorders.get_backorder(backorder_id), actor=current_user, reason=data["reason"]
            )
            return queries.backorder_views([backorder])[0]
