"""Inventory: locations, stock levels, the movement ledger, alerts, backorders, receipts."""

from flask import Blueprint
from flask_smorest import Blueprint as ApiBlueprint

from app.core.permissions import define_permission

INVENTORY_READ = define_permission(
    "inventory.read",
    "See stock levels, movements, alerts and receipts",
    "Inventory",
    default_roles=("sales", "support", "marketing"),
)
INVENTORY_WRITE = define_permission(
    "inventory.write",
    "Receive stock, adjust, transfer and count stock",
    "Inventory",
    default_roles=("support",),
)
INVENTORY_LOCATIONS = define_permission(
    "inventory.locations", "Create and change stock locations and their thresholds", "Inventory"
)

bp = Blueprint("inventory", __name__)
api_bp = ApiBlueprint("inventory_api", __name__, url_prefix="/api/v1/admin", description="Inventory (staff)")

from app.blueprints.inventory.store_api import store_api_bp  # noqa: E402

extra_api_blueprints = (store_api_bp,)

# Route modules, the dashboard panel, the seeder and the CLI register themselves on import.
from app.blueprints.inventory import (  # noqa: E402,F401
    alert_views,
    api,
    cli,
    dashboard,
    location_views,
    receipt_api,
    receipt_views,
    seed,
    variant_views,
    views,
)


def init_app(app) -> None:
    from app.blueprints.catalog.stock import register_stock_view
    from app.blueprints.inventory.stock_view import InventoryStockView

    register_stock_view(InventoryStockView())
