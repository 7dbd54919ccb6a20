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
    "store_orders_api",
    __name__,
    url_prefix="/api/v1/store",
    description="Storefront carts, checkout and orders",
)
hooks_api_bp = ApiBlueprint(
    "payment_hooks_api",
    __name__,
    url_prefix="/api/v1/hooks",
    description="Inbound webhooks of payment providers (signature checked, processed once)",
)
extra_api_blueprints = (store_api_bp, hooks_api_bp)

# Route modules and the seeder register themselves on import.
from app.blueprints.orders import (  # noqa: E402,F401
    admin_api,
    checkout_api,
    customer_figures,
    customer_merge,
    customer_segments,
    customer_timeline,
    emails,
    hooks_api,
    invoice_api,
    invoice_models,
    invoice_rendering,
    invoice_views,
    order_dashboard,
    order_models,
    order_page_views,
    order_views,
    payment_models,
    payment_webhooks,
    phone_order_views,
    seed,
    seed_orders,
    settings_api,
    settings_views,
    store_api,
    store_order_api,
    stripe_gateway,
)
