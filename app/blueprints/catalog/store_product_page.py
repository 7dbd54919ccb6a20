"""Read side of the storefront product page: a product for sale with its variants, their
availability, the option matrix and the breadcrumbs, in a fixed number of statements
whatever the number of variants: the product row (brand joined), one `selectinload` per
relation (images, attributes, options, option values, variants, variants' option values),
the breadcrumbs, and one availability query (through `stock_view()`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import joinedload, load_only, selectinload

from app.blueprints.catalog.models import Brand, Category, Product, ProductCategory, ProductOption, Variant
from app.blueprints.catalog.stock import IN_STOCK, VariantAvailability, stock_view
from app.blueprints.catalog.store_queries import NOT_STOCKED, product_state
from app.extensions import db

# How many units a variant's availability reveals: enough for "only 3 left", without
# telling anyone the stock we hold ("10" reads "10 or more").
AVAILABLE_CAP = 10
# Beyond this many combinations of option values, the matrix lists the existing variants
# only (a product with 3 options of 20 values has 8,000 combinations and a few variants).
MATRIX_LIMIT = 1000


@dataclass(frozen=True)
class Crumb:
    slug: str
    name: str


@dataclass(frozen=True)
class VariantView:
    variant: Variant
    options: dict[str, str]  # option name -> value, in the product's option order
    availability: VariantAvailability


@dataclass(frozen=True)
class OptionView:
    name: str
    values: list[str]


@dataclass(frozen=True)
class MatrixCell:
    options: dict[str, str]
    sku: str | None  # None: no variant for sale has this combination


@dataclass(frozen=True)
class ProductPage:
    product: Product
    breadcrumbs: list[Crumb]
    options: list[OptionView]
    variants: list[VariantView]
    option_matrix: list[MatrixCell]
    availability: str

    @property
    def in_stock(self) -> bool:
        return self.availability == IN_STOCK


def load_active_product(slug: str) -> Product | None:
    active_variants = Product.variants.and_(Variant.is_active)
    return db.session.scalar(
        select(Product)
        .where(Product.slug == slug, Product.status == "active")
        .options(
            load_only(
                Product.id,
                Product.slug,
                Product.name,
                Product.description,
                Product.brand_id,
                Product.seo_title,
                Product.seo_description,
                Product.min_price,
                Product.max_price,
                Product.published_at,
            ),
            joinedload(Product.brand).load_only(Brand.name, Brand.slug),
            selectinload(Product.images),
            selectinload(Product.attributes),
            selectinload(Product.options).selectinload(ProductOption.values),
            selectinload(active_variants).selectinload(Variant.option_values),
        )
    )


def breadcrumbs(product_id: int) -> list[Crumb]:
    """The product's main category (its lowest-position link to an active category) and
    that category's ancestors, root first, in one query. Inactive ones have no page to
    link to and are left out."""
    main = (
        select(Category.path)
        .join(ProductCategory, ProductCategory.category_id == Category.id)
        .where(ProductCategory.product_id == product_id, Category.is_active)
        .order_by(ProductCategory.position, ProductCategory.category_id)
        .limit(1)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(Category.slug, Category.name)
        .where(main.like(Category.path + "%"), Category.is_active)
        .order_by(Category.depth)
    )
    return [Crumb(row.slug, row.name) for row in rows]


def option_views(product: Product, for_sale: list[Variant]) -> tuple[list[OptionView], dict[int, tuple]]:
    """The product's options with the values some variant for sale uses, and each value
    id's (option name, value)."""
    used = {value.id for variant in for_sale for value in variant.option_values}
    views, by_value_id = [], {}
    for option in product.options:
        values = [value for value in option.values if value.id in used]
        if values:
            views.append(OptionView(option.name, [value.value for value in values]))
        by_value_id.update({value.id: (option.name, value.value) for value in values})
    return views, by_value_id


def option_matrix(options: list[OptionView], variants: list[VariantView]) -> list[MatrixCell]:
    names = [option.name for option in options]
    sku_by_values = {
        tuple(view.options.get(name) for name in names): view.variant.sku
        for view in variants
        if len(view.options) == len(names)
    }
    combinations = 1
    for option in options:
        combinations *= len(option.values)
    if combinations > MATRIX_LIMIT:
        keys = list(sku_by_values)
    else:
        keys = [()]
        for option in options:
            keys = [(*key, value) for key in keys for value in option.values]
    return [MatrixCell(dict(zip(names, key, strict=True)), sku_by_values.get(key)) for key in keys]


def product_page(slug: str) -> ProductPage | None:
    """Everything the product page shows, or None when no active product has `slug`."""
    product = load_active_product(slug)
    if product is None:
        return None
    # The query loads only active variants, unless the session holds the product already.
    for_sale = [variant for variant in product.variants if variant.is_active]
    options, by_value_id = option_views(product, for_sale)
    order = {option.name: index for index, option in enumerate(options)}
    availability = stock_view().availability([variant.id for variant in for_sale])
    variants = []
    for variant in for_sale:
        pairs = sorted((by_value_id[value.id] for value in variant.option_values), key=lambda p: order[p[0]])
        variants.append(VariantView(variant, dict(pairs), availability.get(variant.id, NOT_STOCKED)))
    return ProductPage(
        product=product,
        breadcrumbs=breadcrumbs(product.id),
        options=options,
        variants=variants,
        option_matrix=option_matrix(options, variants),
        availability=product_state([variant.id for variant in for_sale], availability),
    )
