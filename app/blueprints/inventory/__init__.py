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
