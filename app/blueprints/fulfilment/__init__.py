"""Fulfilment: shipments and shipping providers, tracking for customers, returns (RMA),
refunds and credit notes. Everything that happens to an order after it is paid."""

from flask import Blueprint
from flask_smorest import Blueprint as ApiBlueprint

from app.core.permissions import define_permission

FULFILMENT_READ = define_permission(
    "fulfilment.read",
    "See shipments, delivery issues and returns",
    "Fulfilment",
    default_roles=("sales", "support"),
)
FULFILMENT_SHIP = define_permission(
    "fulfilment.ship",
    "Create shipments (pick and pack), record tracking, resolve delivery issues",
    "Fulfilment",
    default_roles=("support",),
)
RETURNS_MANAGE = define_permission(
    "returns.manage",
    "Open, approve, reject and receive returns (restock or write off)",
    "Fulfilment",
    default_roles=("support",),
)
# Refunds take the orders domain's `orders.refund` permission.

bp = Blueprint("fulfilment", __name__)
api_bp = ApiBlueprint(
    "fulfilment_api",
    __name__,
    url_prefix="/api/v1/admin",
    description="Shipments, returns and refunds (staff)",
)
store_api_bp = ApiBlueprint(
    "store_fulfilment_api",
    __name__,
    url_prefix="/api/v1/store",
    description="Order tracking and returns for customers",
)
hooks_api_bp = ApiBlueprint(
    "shipping_hooks_api",
    __name__,
    url_prefix="/api/v1/hooks",
    description="Inbound tracking webhooks of shipping providers (signature checked, processed once)",
)
extra_api_blueprints = (store_api_bp, hooks_api_bp)

# Route modules and the seeder register themselves on import.
from app.blueprints.fulfilment import (  # noqa: E402,F401
    credit_note_rendering,
    customer_merge,
    external_refunds,
    hooks_api,
    issue_dashboard,
    issue_views,
    models,
    parcelhub,
    refund_api,
    refund_emails,
    refund_section,
    refund_views,
    return_api,
    return_emails,
    return_timeline,
    return_views,
    seed,
    seed_returns,
    shipment_api,
    shipment_views,
    store_return_api,
    store_tracking_api,
    tracking_emails,
    tracking_event_api,
    tracking_page_views,
    tracking_section,
)
