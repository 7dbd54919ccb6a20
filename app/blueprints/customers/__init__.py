"""Customers: profiles, consents, interactions, the timeline, segments."""

from flask import Blueprint
from flask_smorest import Blueprint as ApiBlueprint

from app.core.permissions import define_permission

CUSTOMERS_READ = define_permission(
    "customers.read",
    "See customer profiles, timelines and segments",
    "Customers",
    default_roles=("sales", "support", "marketing"),
)
CUSTOMERS_WRITE = define_permission(
    "customers.write",
    "Create and edit customers, addresses and consents",
    "Customers",
    default_roles=("sales", "support"),
)
CUSTOMERS_MERGE = define_permission(
    "customers.merge", "Merge duplicate customers", "Customers", default_roles=("sales",)
)
CUSTOMERS_EXPORT = define_permission(
    "customers.export", "Export customer lists as CSV", "Customers", default_roles=("sales", "marketing")
)
CUSTOMERS_IMPORT = define_permission("customers.import", "Import customers from CSV", "Customers")
INTERACTIONS_WRITE = define_permission(
    "interactions.write",
    "Log calls, emails, chats, meetings and notes with customers",
    "Customers",
    default_roles=("sales", "support"),
)
SEGMENTS_WRITE = define_permission(
    "segments.write", "Create, change and delete customer segments", "Customers", default_roles=("marketing",)
)

bp = Blueprint("customers", __name__)
api_bp = ApiBlueprint("customers_api", __name__, url_prefix="/api/v1/admin", description="Customers (staff)")
store_api_bp = ApiBlueprint(
    "store_customers_api", __name__, url_prefix="/api/v1/store", description="Storefront customers"
)
extra_api_blueprints = (store_api_bp,)

from app.blueprints.customers import api as _api  # noqa: E402,F401
from app.blueprints.customers import cli as _cli  # noqa: E402,F401
from app.blueprints.customers import dashboard as _dashboard  # noqa: E402,F401
from app.blueprints.customers import duplicates as _duplicates  # noqa: E402,F401
from app.blueprints.customers import imports as _imports  # noqa: E402,F401
from app.blueprints.customers import seed as _seed  # noqa: E402,F401
from app.blueprints.customers import segments as _segments  # noqa: E402,F401
from app.blueprints.customers import store_api as _store_api  # noqa: E402,F401
from app.blueprints.customers import views as _views  # noqa: E402,F401
