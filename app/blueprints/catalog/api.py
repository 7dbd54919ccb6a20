"""Staff catalog API (/api/v1/admin): products, options, variants, prices, categories and
brands for staff tools, PIM and ERP integrations. Reads need catalog.read, changes
catalog.write, and any change of a price (one variant's or in bulk) catalog.prices."""

from __future__ import annotations

from flask.views import MethodView
from flask_login import current_user

from app.blueprints.catalog import (
    CATALOG_PRICES,
    CATALOG_READ,
    CATALOG_WRITE,
    api_bp,
    brands,
    categories,
    pricing,
    queries,
    services,
)
from app.blueprints.catalog.inputs import AttributeInput, ImageInput, ProductInput
from app.blueprints.catalog.models import PRICE_FIELDS
from app.blueprints.catalog.schemas import (
    AdminCategoryNodeSchema,
    BrandCreateSchema,
    BrandSchema,
    BrandUpdateSchema,
    BulkPriceApplySchema,
    BulkPriceResultSchema,
    CategoryCreateSchema,
    CategoryMoveSchema,
    CategorySchema,
    CategoryUpdateSchema,
    GenerateVariantsSchema,
    OptionsSchema,
    PriceChangeSchema,
    PricePreviewArgsSchema,
    PricePreviewSchema,
    ProductCreateSchema,
    ProductDetailSchema,
    ProductFilterSchema,
    ProductSchema,
    ProductUpdateSchema,
    StatusSchema,
    VariantCreateSchema,
    VariantSchema,
    VariantUpdateSchema,
    as_option_dict,
    node_as_dict,
)
from app.core.errors import PermissionDenied
from app.core.pagination import api_page
from app.core.permissions import current_identity_can, log_denial, require_permission
from app.core.races import constraint_race_is_a_conflict
from app.core.transaction import transaction

BEARER = [{"bearerAuth": []}]
# Ids beyond the database's integer range are simply not found (SQLite cannot even bind them).
ID = "int(max=2147483647)"
# Unique columns a racing request may take first -> the body field they guard.
UNIQUE_FIELDS = {"sku": "sku", "barcode": "barcode", "slug": "slug", "name": "name"}
PRODUCT_FIELDS = ("name", "slug", "description", "status", "tax_class", "seo_title", "seo_description")


def require_price_permission() -> None:
    if not current_identity_can(CATALOG_PRICES):
        log_denial(CATALOG_PRICES)
        raise PermissionDenied(f"Changing prices needs the permission “{CATALOG_PRICES}”.")


def product_input(product, data: dict) -> ProductInput:
    """The product as it is, with the fields given in a PATCH body on top."""
    values = {name: data.get(name, getattr(product, name)) for name in PRODUCT_FIELDS}
    if "slug" in data and not data["slug"]:
        values["slug"] = product.slug  # an empty slug in a PATCH keeps it
    return ProductInput(
        **values,
        brand_id=data.get("brand_id", product.brand_id),
        category_ids=data.get("category_ids", [link.category_id for link in product.category_links]),
        images=data.get("images", [ImageInput(i.url, i.alt_text) for i in product.images]),
        attributes=data.get("attributes", [AttributeInput(a.name, a.value) for a in product.attributes]),
    )


# ---- products ----------------------------------------------------------------------------


@api_bp.route("/products")
class Products(MethodView):
    @require_permission(CATALOG_READ)
    @api_bp.arguments(ProductFilterSchema, location="query")
    @api_bp.response(200, ProductSchema(many=True))
    @api_bp.paginate(page_size=25, max_page_size=100)
    @api_bp.doc(security=BEARER)
    def get(self, product_filter, pagination_parameters):
        """Products, filtered (q, status, category incl. sub-categories, brand, price) and sorted"""
        return api_page(queries.product_list_query(product_filter), pagination_parameters)

    @require_permission(CATALOG_WRITE)
    @api_bp.arguments(ProductCreateSchema)
    @api_bp.response(201, ProductDetailSchema)
    @api_bp.doc(security=BEARER)
    def post(self, data):
        """Create a product with its options and variants (one variant without options)"""
        options = as_option_dict(data.pop("options", []))
        variants = data.pop("variants")
        with constraint_race_is_a_conflict(UNIQUE_FIELDS), transaction():
            product = services.create_product(
                ProductInput(**data), actor=current_user, options=options, variants=variants
            )
        return services.get_product(product.id)


@api_bp.route(f"/products/<{ID}:product_id>")
class ProductItem(MethodView):
    @require_permission(CATALOG_READ)
    @api_bp.response(200, ProductDetailSchema)
    @api_bp.doc(security=BEARER)
    def get(self, product_id):
        """One product with its options, variants, images, attributes and categories"""
        return services.get_product(product_id)

    @require_permission(CATALOG_WRITE)
    @api_bp.arguments(ProductUpdateSchema)
    @api_bp.response(200, ProductDetailSchema)
    @api_bp.doc(security=BEARER)
    def patch(self, data, product_id):
        """Change the fields given; categories, images and attributes replace the lists"""
        with constraint_race_is_a_conflict(UNIQUE_FIELDS), transaction():
            product = services.get_product(product_id)
            services.update_product(product, product_input(product, data), actor=current_user)
        return services.get_product(product_id)

    @require_permission(CATALOG_WRITE)
    @api_bp.response(204)
    @api_bp.alt_response(409, description="Not a draft, or ever stocked: archive it instead")
    @api_bp.doc(security=BEARER)
    def delete(self, product_id):
        """Delete a draft product that was never stocked"""
        with transaction():
            services.delete_product(services.get_product(product_id), actor=current_user)


@api_bp.route(f"/products/<{ID}:product_id>/status")
class ProductStatus(MethodView):
    @require_permission(CATALOG_WRITE)
    @api_bp.arguments(StatusSchema)
    @api_bp.response(200, ProductDetailSchema)
    @api_bp.alt_response(409, description="Active needs an active variant")
    @api_bp.doc(security=BEARER)
    def post(self, data, product_id):
        """Set draft, active or archived (the first activation publishes it)"""
        with transaction():
            services.set_product_status(services.get_product(product_id), data["status"], actor=current_user)
        return services.get_product(product_id)


@api_bp.route(f"/products/<{ID}:product_id>/options")
class ProductOptions(MethodView):
    @require_permission(CATALOG_WRITE)
    @api_bp.arguments(OptionsSchema)
    @api_bp.response(200, ProductDetailSchema)
    @api_bp.alt_response(409, description="A value or option to remove is used by a variant")
    @api_bp.doc(security=BEARER)
    def put(self, data, product_id):
        """Set the option types and values, in order (adding is free, removing a used value is not)"""
        with transaction():
            product = services.get_product(product_id)
            services.set_options(product, as_option_dict(data["options"]), actor=current_user)
        return services.get_product(product_id)


@api_bp.route(f"/products/<{ID}:product_id>/variants/generate")
class ProductVariantGeneration(MethodView):
    @require_permission(CATALOG_WRITE)
    @api_bp.arguments(GenerateVariantsSchema)
    @api_bp.response(201, VariantSchema(many=True))
    @api_bp.doc(security=BEARER)
    def post(self, data, product_id):
        """Create the missing option combinations at one price; returns the new variants"""
        with constraint_race_is_a_conflict(UNIQUE_FIELDS), transaction():
            product = services.get_product(product_id)
            created = services.generate_variants(
                product, actor=current_user, price=data["price"], sku_prefix=data.get("sku_prefix")
            )
            ids = [variant.id for variant in created]
        return [services.get_variant(variant_id) for variant_id in ids]


@api_bp.route(f"/products/<{ID}:product_id>/variants")
class ProductVariants(MethodView):
    @require_permission(CATALOG_WRITE)
    @api_bp.arguments(VariantCreateSchema)
    @api_bp.response(201, VariantSchema)
    @api_bp.doc(security=BEARER)
    def post(self, data, product_id):
        """Add one variant with its option values, SKU and price"""
        with constraint_race_is_a_conflict(UNIQUE_FIELDS), transaction():
            return services.add_variant(services.get_product(product_id), data, actor=current_user)


# ---- variants ----------------------------------------------------------------------------


@api_bp.route(f"/variants/<{ID}:variant_id>")
class VariantItem(MethodView):
    @require_permission(CATALOG_READ)
    @api_bp.response(200, VariantSchema)
    @api_bp.doc(security=BEARER)
    def get(self, variant_id):
        """One variant"""
        return services.get_variant(variant_id)

    @require_permission(CATALOG_WRITE)
    @api_bp.arguments(VariantUpdateSchema)
    @api_bp.response(200, VariantSchema)
    @api_bp.doc(security=BEARER)
    def patch(self, data, variant_id):
        """Change the fields given. Any price field also needs catalog.prices; price changes
        are recorded with `reason`."""
        reason = data.pop("reason", "")
        if any(field in data for field in PRICE_FIELDS):
            require_price_permission()
        with constraint_race_is_a_conflict(UNIQUE_FIELDS), transaction():
            variant = services.get_variant(variant_id)
            return services.update_variant(variant, data, actor=current_user, reason=reason)

    @require_permission(CATALOG_WRITE)
    @api_bp.response(204)
    @api_bp.alt_response(409, description="The product's last variant, or ever stocked: deactivate it")
    @api_bp.doc(security=BEARER)
    def delete(self, variant_id):
        """Delete a variant that was never stocked"""
        with transaction():
            services.delete_variant(services.get_variant(variant_id), actor=current_user)


@api_bp.route(f"/variants/<{ID}:variant_id>/price-history")
class VariantPriceHistory(MethodView):
    @require_permission(CATALOG_READ)
    @api_bp.response(200, PriceChangeSchema(many=True))
    @api_bp.doc(security=BEARER)
    def get(self, variant_id):
        """Every recorded change of the variant's prices, newest first"""
        return queries.price_history(services.get_variant(variant_id).id)


@api_bp.route("/variants/by-sku/<string:sku>")
class VariantBySku(MethodView):
    @require_permission(CATALOG_READ)
    @api_bp.response(200, VariantSchema)
    @api_bp.doc(security=BEARER)
    def get(self, sku):
        """The variant with this SKU"""
        return services.get_variant_by_sku(sku)


# ---- prices ------------------------------------------------------------------------------


@api_bp.route("/prices/preview")
class PricePreview(MethodView):
    @require_permission(CATALOG_PRICES)
    @api_bp.arguments(PricePreviewArgsSchema)
    @api_bp.response(200, PricePreviewSchema)
    @api_bp.doc(security=BEARER)
    def post(self, data):
        """What a bulk change would do: how many variants, the first `limit` with old and
        new amounts, and those whose result would be invalid. Changes nothing."""
        return pricing.preview_price_change(data["filter"], data["adjustment"], limit=data["limit"])


@api_bp.route("/prices/bulk-change")
class BulkPriceChange(MethodView):
    @require_permission(CATALOG_PRICES)
    @api_bp.arguments(BulkPriceApplySchema)
    @api_bp.response(200, BulkPriceResultSchema)
    @api_bp.alt_response(409, description="`expected_count` given and the filter now matches another number")
    @api_bp.doc(security=BEARER)
    def post(self, data):
        """Change a price field of every variant of the filtered products (within the price
        bounds, when given): by percent, by an amount, or to a value. Refused whole (422)
        when any result would be invalid; each change is recorded in the price history.
        Send the preview's `count` as `expected_count` to refuse (409) a stale preview."""
        with transaction():
            changed = pricing.apply_price_change(
                data["filter"],
                data["adjustment"],
                actor=current_user,
                expected_count=data.get("expected_count"),
            )
        return {"changed": changed}


# ---- categories --------------------------------------------------------------------------


@api_bp.route("/categories")
class Categories(MethodView):
    @require_permission(CATALOG_READ)
    @api_bp.response(200, AdminCategoryNodeSchema(many=True))
    @api_bp.doc(security=BEARER)
    def get(self):
        """The whole category tree, inactive categories included, siblings in order"""
        return [node_as_dict(node) for node in categories.category_tree(include_inactive=True)]

    @require_permission(CATALOG_WRITE)
    @api_bp.arguments(CategoryCreateSchema)
    @api_bp.response(201, CategorySchema)
    @api_bp.doc(security=BEARER)
    def post(self, data):
        """Create a category, last among its siblings"""
        with constraint_race_is_a_conflict(UNIQUE_FIELDS), transaction():
            return categories.create_category(actor=current_user, **data)


@api_bp.route(f"/categories/<{ID}:category_id>")
class CategoryItem(MethodView):
    @require_permission(CATALOG_READ)
    @api_bp.response(200, CategorySchema)
    @api_bp.doc(security=BEARER)
    def get(self, category_id):
        """One category"""
        return categories.get_category(category_id)

    @require_permission(CATALOG_WRITE)
    @api_bp.arguments(CategoryUpdateSchema)
    @api_bp.response(200, CategorySchema)
    @api_bp.doc(security=BEARER)
    def patch(self, data, category_id):
        """Change the fields given (to move it, use /move)"""
        with constraint_race_is_a_conflict(UNIQUE_FIELDS), transaction():
            return categories.update_category(
                categories.get_category(category_id), actor=current_user, **data
            )

    @require_permission(CATALOG_WRITE)
    @api_bp.response(204)
    @api_bp.alt_response(409, description="It has sub-categories")
    @api_bp.doc(security=BEARER)
    def delete(self, category_id):
        """Delete a category without sub-categories; products lose the link"""
        with transaction():
            categories.delete_category(categories.get_category(category_id), actor=current_user)


@api_bp.route(f"/categories/<{ID}:category_id>/move")
class CategoryMove(MethodView):
    @require_permission(CATALOG_WRITE)
    @api_bp.arguments(CategoryMoveSchema)
    @api_bp.response(200, CategorySchema)
    @api_bp.doc(security=BEARER)
    def post(self, data, category_id):
        """Move the category and its subtree under another parent (or to the top) at a position"""
        with transaction():
            category = categories.move_category(
                categories.get_category(category_id),
                actor=current_user,
                parent_id=data["parent_id"],
                position=data["position"],
            )
        return categories.get_category(category.id)


# ---- brands ------------------------------------------------------------------------------


@api_bp.route("/brands")
class Brands(MethodView):
    @require_permission(CATALOG_READ)
    @api_bp.response(200, BrandSchema(many=True))
    @api_bp.doc(security=BEARER)
    def get(self):
        """Every brand, by name"""
        return brands.list_brands()

    @require_permission(CATALOG_WRITE)
    @api_bp.arguments(BrandCreateSchema)
    @api_bp.response(201, BrandSchema)
    @api_bp.doc(security=BEARER)
    def post(self, data):
        """Create a brand (name and slug unique)"""
        with constraint_race_is_a_conflict(UNIQUE_FIELDS), transaction():
            return brands.create_brand(actor=current_user, **data)


@api_bp.route(f"/brands/<{ID}:brand_id>")
class BrandItem(MethodView):
    @require_permission(CATALOG_WRITE)
    @api_bp.arguments(BrandUpdateSchema)
    @api_bp.response(200, BrandSchema)
    @api_bp.doc(security=BEARER)
    def patch(self, data, brand_id):
        """Change the fields given"""
        with constraint_race_is_a_conflict(UNIQUE_FIELDS), transaction():
            return brands.update_brand(brands.get_brand(brand_id), actor=current_user, **data)

    @require_permission(CATALOG_WRITE)
    @api_bp.response(204)
    @api_bp.doc(security=BEARER)
    def delete(self, brand_id):
        """Delete a brand; its products keep no brand"""
        with transaction():
            brands.delete_brand(brands.get_brand(brand_id), actor=current_user)
