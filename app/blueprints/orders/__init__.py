"""Orders: shipping and tax settings, carts and the pricing pipeline (checkout, orders and
payments build on them)."""

from flask import Blueprint
from flask_smorest import Blueprint as ApiBlueprint

from app.core.permissions import define_permission

ORDERS_READ = define_permission(
    "orders.read",
    "See orders and the shipping and tax settings",
    "Orders",
    default_roles=("sales", "support"),
)
ORDERS_SETTINGS = define_permission(
    "orders.settings", "Change shipping zones, shipping methods and tax rates", "Orders"
)

bp = Blueprint("orders", __name__)
api_bp = ApiBlueprint("orders_api", __name__, url_prefix="/api/v1/admin", description="Orders (staff)")
store_api_bp = ApiBlueprint(
    "store_orders_api", __name__, url_prefix="/api/v1/store", description="Storefront carts"
)
extra_api_blueprints = (store_api_bp,)

# Route modules and the seeder register themselves on import.
from app.blueprints.orders import (  # noqa: E402,F401
    checkout_api,
    invoice_models,
    order_models,
    payment_models,
    seed,
    settings_api,
    settings_views,
    store_api,
)
