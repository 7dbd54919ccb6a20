"""Storefront catalog API (/api/v1/store): the category tree, the product list with search,
filters and sorts, and the product page.

Public and rate limited per client IP (`STORE_API_RATE_LIMIT`, 600 a minute by default,
one budget with the other storefront reads: app/core/store_rate_limit.py). Every answer
carries a strong `ETag` and `Cache-Control: public, max-age=60` (a minute of staleness
is what a shop can live with for prices and stock in a list: the cart and the checkout
check again), and a request whose `If-None-Match` names the current ETag gets a 304
without a body. Each worker keeps its answers for a few seconds (store_cache.py); those
it serves from there are not counted against the rate limit.
"""

from __future__ import annotations

from flask.views import MethodView

from app.blueprints.catalog import store_api_bp, store_product_page, store_queries
from app.blueprints.catalog.store_cache import CACHE_CONTROL, cacheable, request_key, worker_cache
from app.blueprints.catalog.store_schemas import (
    CategoryNodeSchema,
    ProductCardSchema,
    ProductListArgsSchema,
    ProductPageSchema,
)
from app.core.api import ProblemSchema
from app.core.errors import PROBLEM_JSON, NotFound
from app.core.permissions import public
from app.core.store_rate_limit import store_reads_limit

bp = store_api_bp
PROBLEM = {"schema": ProblemSchema, "content_type": PROBLEM_JSON}
CACHE_HEADERS = {
    "Cache-Control": {"description": CACHE_CONTROL, "schema": {"type": "string"}},
    "X-Cache": {
        "description": "hit: served from the server's answer cache; miss",
        "schema": {"type": "string"},
    },
}
TOO_MANY = "Too many requests from this address (see Retry-After)"
# The query arguments that change a list's matches, and those that change its answer.
FILTER_ARGUMENTS = ("q", "category", "brand", "min_price", "max_price", "option", "in_stock")
LIST_ARGUMENTS = (*FILTER_ARGUMENTS, "sort", "page", "page_size")


@bp.route("/categories")
class Categories(MethodView):
    @public
    @cacheable()
    @store_reads_limit
    @bp.response(200, CategoryNodeSchema(many=True), headers=CACHE_HEADERS)
    @bp.alt_response(429, **PROBLEM, description=TOO_MANY)
    def get(self):
        """The category tree: active categories, each with its active children

        Root categories first, siblings by `position`. A category under an inactive one
        is hidden with it."""
        return store_queries.active_category_tree()


@bp.route("/products")
class Products(MethodView):
    @public
    @cacheable(LIST_ARGUMENTS)
    @store_reads_limit
    @bp.arguments(ProductListArgsSchema, location="query")
    @bp.response(200, ProductCardSchema(many=True), headers=CACHE_HEADERS)
    @bp.paginate(page_size=24, max_page_size=100)
    @bp.alt_response(429, **PROBLEM, description=TOO_MANY)
    def get(self, filters, pagination_parameters):
        """Products for sale: search, filter, sort, page by page

        `q` searches names, SKUs, brands and descriptions (on PostgreSQL full-text, every
        word as a prefix, ranked; elsewhere every word as a substring). An unknown
        `category` is a 422 on `category`, an unknown `brand` on `brand`. Unknown query
        arguments are ignored; a known one with a bad value is a 422 naming it. The total
        for `X-Pagination` counts every match (as of a few seconds ago at most)."""
        totals = worker_cache("totals")
        key = request_key(FILTER_ARGUMENTS) if totals else ""
        cards, total = store_queries.product_list(
            filters,
            pagination_parameters.page,
            pagination_parameters.page_size,
            total=totals.get(key) if totals else None,
        )
        if totals:
            totals.put(key, total)
        pagination_parameters.item_count = total
        return cards


@bp.route("/products/<slug>")
class ProductItem(MethodView):
    @public
    @cacheable()
    @store_reads_limit
    @bp.response(200, ProductPageSchema, headers=CACHE_HEADERS)
    @bp.alt_response(404, **PROBLEM, description="No product for sale has this slug")
    @bp.alt_response(429, **PROBLEM, description=TOO_MANY)
    def get(self, slug):
        """A product page: variants with availability, option matrix, images, breadcrumbs

        Drafts and archived products are a 404, as unknown slugs are."""
        page = store_product_page.product_page(slug)
        if page is None:
            raise NotFound("No product for sale has this address.", code="product_not_found")
        return page
