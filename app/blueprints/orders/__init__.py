"""Orders: shipping and tax settings, carts and the pricing pipeline, checkout, the order
lifecycle, payments and invoices."""

from flask import Blueprint
from flask_smorest import Blueprint as ApiBlueprint

from app.core.permissions import define_permission

ORDERS_READ = define_permission(
    "orders.read",
    "See orders and the shipping and tax settings",
    "Orders",
    default_roles=("sales", "support"),
)
ORDERS_MANAGE = define_permission(
    "orders.manage",
    "Take phone orders, move orders through their states, hold, cancel unpaid orders, add notes",
    "Orders",
    default_roles=("sales", "support"),
)
ORDERS_PAYMENTS = define_permission(
    "orders.payments",
    "Mark manual payments as received and capture authorized payments",
    "Orders",
    default_roles=("sales",),
)
ORDERS_REFUND = define_permission(
    "orders.refund", "Refund payments (also: cancel an order that was paid)", "Orders"
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
