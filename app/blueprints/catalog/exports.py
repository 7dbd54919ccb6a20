"""Products and variants as CSV, in the import's columns: an export, edited or not, imports
back (unchanged, it changes nothing). One row per variant; written chunk by chunk of
products, so an export of any size runs in constant memory, with every cell a spreadsheet
would run as a formula neutralised. Taking the catalog out is audited with its filter.

Served by the portal (import_views) and the admin API (GET /api/v1/admin/products/export.csv).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from flask import Response, stream_with_context
from flask.views import MethodView
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from app.blueprints.catalog import CATALOG_IMPORT, api_bp
from app.blueprints.catalog.import_files import ATTRIBUTE_SEPARATOR, COLUMNS, LIST_SEPARATOR, OPTION_SLOTS
from app.blueprints.catalog.models import Product, ProductCategory, Variant
from app.blueprints.catalog.queries import ProductFilter, product_list_query
from app.blueprints.catalog.schemas import ProductFilterSchema
from app.core import audit, csv_stream
from app.core.models import AuditEntry
from app.core.permissions import require_permission
from app.core.timeutil import utcnow
from app.core.transaction import transaction
from app.extensions import db

CHUNK = 200  # products loaded (with their variants) per round of queries


def option_cells(variant: Variant) -> list[str]:
    """option1_name, option1_value, ... from the variant's canonical "Size=M|Colour=Red"."""
    pairs = [part.split("=", 1) for part in variant.option_key.split("|")] if variant.option_key else []
    cells: list[str] = []
    for slot in range(OPTION_SLOTS):
        cells.extend(pairs[slot] if slot < len(pairs) else ("", ""))
    return cells


def product_cells(product: Product) -> list[str]:
    alts = [image.alt_text for image in product.images]
    return [
        product.slug,
        product.name,
        product.status,
        product.brand.name if product.brand is not None else "",
        LIST_SEPARATOR.join(link.category.slug for link in product.category_links),
        product.tax_class,
        product.description,
        product.seo_title,
        product.seo_description,
        LIST_SEPARATOR.join(f"{a.name}{ATTRIBUTE_SEPARATOR} {a.value}" for a in product.attributes),
        LIST_SEPARATOR.join(image.url for image in product.images),
        LIST_SEPARATOR.join(alts) if any(alts) else "",
    ]


def variant_cells(variant: Variant) -> list:
    return [
        variant.sku,
        variant.barcode,
        variant.price,
        variant.compare_at_price,
        variant.cost_price,
        variant.weight_grams,
        "yes" if variant.is_active else "no",
        variant.backorder_policy,
        variant.backorder_limit,
        variant.expected_restock_date.isoformat() if variant.expected_restock_date else "",
        variant.low_stock_threshold,
    ]


def export_rows(products: Iterable[Product]) -> Iterator[list]:
    for product in products:
        head = product_cells(product)
        for variant in product.variants:
            yield [*head, *option_cells(variant), *variant_cells(variant)]


def filtered_products(filters: ProductFilter) -> Iterator[Product]:
    """The filtered products in list order, loaded CHUNK at a time with everything a row
    shows. The ids stream from one query; loaded products are not kept (the session holds
    them weakly), so memory stays flat whatever the catalog's size."""
    ids = product_list_query(filters).with_only_columns(Product.id).execution_options(yield_per=CHUNK)
    loading = (
        selectinload(Product.variants),
        selectinload(Product.images),
        selectinload(Product.attributes),
        selectinload(Product.category_links).joinedload(ProductCategory.category),
        joinedload(Product.brand),
    )
    for chunk in db.session.execute(ids).scalars().partitions():
        loaded = {
            product.id: product
            for product in db.session.scalars(select(Product).where(Product.id.in_(chunk)).options(*loading))
        }
        yield from (loaded[product_id] for product_id in chunk if product_id in loaded)
        for product in loaded.values():
            db.session.expunge(product)  # and its variants, images, ... (cascade)


def csv_lines(filters: ProductFilter) -> Iterator[str]:
    """The header, then one CSV line per variant of the filtered products."""
    return csv_stream.csv_lines(COLUMNS, export_rows(filtered_products(filters)))


def record_export(filters: ProductFilter, *, actor, via: str) -> AuditEntry:
    described = ", ".join(f"{key}={value}" for key, value in filters.as_dict().items()) or "all products"
    return audit.record(
        "catalog.exported",
        actor=actor,
        summary=f"Exported products as CSV ({described})"[:500],
        filter=filters.as_dict(),
        via=via,
    )


def csv_response(filters: ProductFilter, *, via: str) -> Response:
    """The export as a streamed download, audited first (in its own transaction)."""
    with transaction():
        record_export(filters, actor=current_user, via=via)
    filename = f"products-{utcnow().date().isoformat()}.csv"
    return Response(
        # The queries run once the response starts, inside the request kept open for it.
        stream_with_context(csv_lines(filters)),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={filename}", "Cache-Control": "no-store"},
    )


# --- The admin API --------------------------------------------------------------------------


@api_bp.route("/products/export.csv")
class ProductExport(MethodView):
    @require_permission(CATALOG_IMPORT)
    @api_bp.arguments(ProductFilterSchema, location="query")
    @api_bp.doc(
        security=[{"bearerAuth": []}],
        responses={"200": {"description": "CSV, one row per variant", "content": {"text/csv": {}}}},
    )
    def get(self, filters: ProductFilter):
        """Products and variants of the list's filters as CSV, in the import's columns

        Streamed; an unchanged export imports back without changing anything. The export
        is audited with its filter."""
        return csv_response(filters, via="api")
