"""Catalog: the category tree, brands, products, options, variants and prices."""

from flask import Blueprint
from flask_smorest import Blueprint as ApiBlueprint

from app.core.permissions import define_permission

CATALOG_READ = define_permission(
    "catalog.read",
    "See products, variants, categories, brands and price history",
    "Catalog",
    default_roles=("sales", "support", "marketing"),
)
CATALOG_WRITE = define_permission(
    "catalog.write",
    "Create and edit products, variants, categories and brands",
    "Catalog",
    default_roles=("marketing",),
)
CATALOG_PRICES = define_permission(
    "catalog.prices", "Change prices, one by one or in bulk", "Catalog", default_roles=("marketing",)
)
CATALOG_IMPORT = define_permission("catalog.import", "Import and export products from CSV", "Catalog")

bp = Blueprint("catalog", __name__)
api_bp = ApiBlueprint("catalog_api", __name__, url_prefix="/api/v1/admin", description="Catalog (staff)")
store_api_bp = ApiBlueprint(
    "store_catalog_api", __name__, url_prefix="/api/v1/store", description="Storefront catalog"
)
extra_api_blueprints = (store_api_bp,)

# Route modules, the seeder and the CLI register themselves on import.
from app.blueprints.catalog import (  # noqa: E402,F401
    api,
    category_views,
    exports,
    import_cli,
    import_views,
    imports,
    price_views,
    seed,
    store_api,
    variant_views,
    views,
)
