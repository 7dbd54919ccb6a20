"""Read side of the storefront catalog: the category tree and the product list with its
search, filters and sorts.

A page of the list costs a fixed number of statements whatever its size: the category
lookup (only with `category`; `brand` is a subquery of the page, looked up on its own only
when the page is empty, to tell an unknown slug from a brand with nothing for sale), the
page (ids on the sort's index, then what the cards show, brand joined, main image as a
column), the count (none when the caller knows the total, when a ranked search counts in
its page statement, or on a last page, which tells the total by itself), the page's
variants for sale, and one availability query.
Availability comes only through `stock_view()` (inventory sits to our right). The
product page is in store_product_page.py.

Only what a shopper may see is read: active products, active variants, active categories
(an inactive category hides its whole subtree).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import ColumnElement, Select, distinct, func, literal_column, null, select

from app.blueprints.catalog.models import (
    PRODUCT_STATUSES,
    Brand,
    Category,
    Product,
    ProductCategory,
    ProductImage,
    ProductOption,
    ProductOptionValue,
    Variant,
    VariantOptionValue,
)
from app.blueprints.catalog.stock import BACKORDER, IN_STOCK, OUT_OF_STOCK, VariantAvailability, stock_view
from app.core.errors import InvalidInput
from app.extensions import db

SORTS = ("relevance", "price", "-price", "newest", "name")
MAX_SEARCH_WORDS = 8
# A search word is a run of letters and digits; anything else a shopper types (the
# tsquery operators & | ! : * ( ) < > and quotes included) only separates words, so no
# input can change the shape of the full-text query.
WORD = re.compile(r"[^\W_]+")
# Not mapped on Product: a generated tsvector column of the migration (PostgreSQL only).
SEARCH_VECTOR = literal_column("products.search_vector")
NOT_STOCKED = VariantAvailability(OUT_OF_STOCK, 0, 0)
NOT_FOR_SALE = tuple(status for status in PRODUCT_STATUSES if status != "active")
UNKNOWN_CATEGORY = "No category of the store has this slug."
UNKNOWN_BRAND = "No brand of the store has this slug."


# ---- the category tree ------------------------------------------------------------------


@dataclass
class CategoryNode:
    slug: str
    name: str
    description: str
    position: int
    children: list[CategoryNode] = field(default_factory=list)


def active_category_tree() -> list[CategoryNode]:
    """The active categories as a tree, siblings by position, in one query. A category
    under an inactive one is left out with it: shoppers cannot reach it."""
    rows = db.session.execute(
        select(
            Category.id,
            Category.parent_id,
            Category.slug,
            Category.name,
            Category.description,
            Category.position,
        )
        .where(Category.is_active)
        # Parents before children (by depth), so each row finds its parent already placed.
        .order_by(Category.depth, Category.position, Category.id)
    )
    placed: dict[int, CategoryNode] = {}
    roots: list[CategoryNode] = []
    for row in rows:
        node = CategoryNode(row.slug, row.name, row.description, row.position)
        if row.parent_id is None:
            roots.append(node)
        elif row.parent_id in placed:
            placed[row.parent_id].children.append(node)
        else:
            continue  # its parent is inactive (or hidden itself)
        placed[row.id] = node
    return roots


def visible_subtree_ids(slug: str) -> list[int]:
    """Ids of the category `slug` and of its visible descendants, in one query: the
    category's ancestors (and itself) and descendants by materialized path. An unknown
    slug, or one hidden by an inactive category on its path, is a 422 on `category`."""
    top = select(Category.path).where(Category.slug == slug).scalar_subquery()
    rows = db.session.execute(
        select(Category.id, Category.path, Category.is_active, Category.slug).where(
            top.like(Category.path + "%") | Category.path.like(top + "%")
        )
    ).all()
    target = next((row for row in rows if row.slug == slug), None)
    if target is None:
        raise InvalidInput(UNKNOWN_CATEGORY, errors={"category": [UNKNOWN_CATEGORY]})
    hidden = [row.path for row in rows if not row.is_active]
    if any(target.path.startswith(path) for path in hidden):
        raise InvalidInput(UNKNOWN_CATEGORY, errors={"category": [UNKNOWN_CATEGORY]})
    return [
        row.id
        for row in rows
        if row.path.startswith(target.path) and not any(row.path.startswith(path) for path in hidden)
    ]


# ---- the product list -------------------------------------------------------------------


@dataclass(frozen=True)
class ProductListFilter:
    q: str = ""
    category: str | None = None  # a slug; its sub-categories are included
    brand: str | None = None  # a slug
    min_price: Decimal | None = None  # both on the product's lowest price
    max_price: Decimal | None = None
    # Option name -> accepted values (lower case): a product matches when one of its active
    # variants has, for every name, one of the values (Size M or L, and Colour red).
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)
    in_stock: bool = False
    sort: str | None = None  # None: relevance with a search, newest without


@dataclass(frozen=True)
class PriceRange:
    min: Decimal
    max: Decimal


@dataclass(frozen=True)
class Ref:
    slug: str
    name: str


@dataclass(frozen=True)
class Image:
    url: str
    alt_text: str


@dataclass(frozen=True)
class ProductCard:
    slug: str
    name: str
    brand: Ref | None
    min_price: Decimal | None
    max_price: Decimal | None
    compare_at: PriceRange | None  # of the variants that have a compare-at price
    image: Image | None  # the first one
    availability: str

    @property
    def in_stock(self) -> bool:
        return self.availability == IN_STOCK


def search_words(q: str) -> list[str]:
    return WORD.findall(q.lower())[:MAX_SEARCH_WORDS]


def dialect_name() -> str:
    return db.session.get_bind().dialect.name


def search_condition(words: list[str], dialect: str) -> tuple[ColumnElement[bool], ColumnElement | None]:
    """The search filter and, on PostgreSQL, its rank. PostgreSQL: every word as a prefix
    in the products' tsvector (GIN-indexed), "jack blu" finding "Blue Jacket". Elsewhere:
    every word somewhere in search_text, with LIKE (no index, no rank)."""
    if dialect == "postgresql":
        # A one-letter prefix would match most of the catalog: such words match whole.
        terms = [f"{word}:*" if len(word) > 1 else word for word in words]
        query = func.to_tsquery("simple", " & ".join(terms))
        return SEARCH_VECTOR.op("@@")(query), func.ts_rank(SEARCH_VECTOR, query)
    conditions = [
        Product.search_text.ilike("%" + word.replace("\\", "\\\\").replace("%", "\\%") + "%", escape="\\")
        for word in words
    ]
    return db.and_(*conditions), None


def option_condition(options: dict[str, tuple[str, ...]]) -> ColumnElement[bool]:
    """The product has an active variant carrying, for each option name, one of the values
    (names and values compared case-insensitively)."""
    per_option = [
        select(VariantOptionValue.variant_id)
        .join(ProductOptionValue, ProductOptionValue.id == VariantOptionValue.option_value_id)
        .join(ProductOption, ProductOption.id == ProductOptionValue.option_id)
        .where(
            VariantOptionValue.variant_id == Variant.id,
            func.lower(ProductOption.name) == name,
            func.lower(ProductOptionValue.value).in_(values),
        )
        .exists()
        for name, values in options.items()
    ]
    return select(Variant.id).where(Variant.product_id == Product.id, Variant.is_active, *per_option).exists()


def list_conditions(filters: ProductListFilter, category_ids: list[int] | None, words: list[str]):
    conditions: list[ColumnElement[bool]] = [Product.status == "active"]
    rank = None
    if category_ids is not None:
        # A semi-join on (category_id, product_id): the index ix_product_categories_category_product
        # answers it without touching the link rows.
        in_subtree = select(ProductCategory.product_id).where(ProductCategory.category_id.in_(category_ids))
        conditions.append(Product.id.in_(in_subtree))
    if filters.brand is not None:
        # A subquery, not a lookup first: the brand costs no statement of its own (an
        # unknown slug is told apart from an empty brand only when the page is empty).
        brand_id = select(Brand.id).where(Brand.slug == filters.brand).scalar_subquery()
        conditions.append(Product.brand_id == brand_id)
    if filters.min_price is not None:
        conditions.append(Product.min_price >= filters.min_price)
    if filters.max_price is not None:
        conditions.append(Product.min_price <= filters.max_price)
    if filters.options:
        conditions.append(option_condition(filters.options))
    if filters.in_stock:
        conditions.append(stock_view().in_stock_condition(Product.id))
    if words:
        matches, rank = search_condition(words, dialect_name())
        conditions.append(matches)
    return conditions, rank


def list_order(sort: str, rank: ColumnElement | None, words: list[str]) -> list[tuple[ColumnElement, bool]]:
    """(key, descending) pairs of a sort, the id last so that pages never overlap. Each
    sort but relevance follows an index of products: (status, min_price, id), (status,
    published_at, id) or (status, name, id)."""
    newest = [(Product.published_at, True), (Product.id, True)]
    if sort == "price":
        return [(Product.min_price, False), (Product.id, False)]
    if sort == "-price":
        return [(Product.min_price, True), (Product.id, True)]
    if sort == "name":
        return [(Product.name, False), (Product.id, False)]
    if sort == "relevance" and rank is not None:
        return [(rank, True), *newest]
    if sort == "relevance" and words:
        # Without a rank (SQLite), a name containing the first word comes first.
        first = "%" + words[0].replace("\\", "\\\\").replace("%", "\\%") + "%"
        return [(Product.name.ilike(first, escape="\\"), True), *newest]
    return newest


def main_image(column) -> ColumnElement:
    """A column of the product's first image (correlated: one index lookup per row listed)."""
    return (
        select(column)
        .where(ProductImage.product_id == Product.id)
        .order_by(ProductImage.position, ProductImage.id)
        .limit(1)
        .scalar_subquery()
    )


def ordering(keys: list, directions: list[bool]) -> list:
    return [key.desc() if descending else key.asc() for key, descending in zip(keys, directions, strict=True)]


def product_page_query(conditions, keys, page: int, page_size: int, *, count_matches: bool) -> Select:
    """The page in two steps, one statement: the ids of the page's products, found on the
    sort's index alone (an index-only scan needs no product row for the rows it skips),
    then what a card shows of those products, brand joined, main image as a column.
    `count_matches` adds the number of all matches, counted by a window over them before
    the LIMIT: what a ranked search reads anyway. Plain rows, no ORM objects: a list is
    read often and only read."""
    sort_keys = [key.label(f"sort_{index}") for index, (key, _) in enumerate(keys)]
    directions = [descending for _, descending in keys]
    ids = select(Product.id.label("id"), *sort_keys).where(*conditions)
    if count_matches:
        ids = ids.add_columns(func.count().over().label("total"))
    ids = (
        ids.order_by(*ordering(sort_keys, directions))
        .limit(page_size)
        .offset((page - 1) * page_size)
        .subquery("page")
    )
    return (
        select(
            Product.id,
            Product.slug,
            Product.name,
            Product.min_price,
            Product.max_price,
            Brand.slug.label("brand_slug"),
            Brand.name.label("brand_name"),
            main_image(ProductImage.url).label("image_url"),
            main_image(ProductImage.alt_text).label("image_alt"),
            (ids.c.total if count_matches else null()).label("total"),
        )
        .join(ids, ids.c.id == Product.id)
        .outerjoin(Brand, Brand.id == Product.brand_id)
        .order_by(*ordering([ids.c[key.name] for key in sort_keys], directions))
    )


def variants_for_sale(product_ids: list[int]) -> dict[int, list]:
    """Product id -> (id, compare_at_price) of its active variants, in one query."""
    rows = db.session.execute(
        select(Variant.product_id, Variant.id, Variant.compare_at_price).where(
            Variant.product_id.in_(product_ids), Variant.is_active
        )
    )
    by_product: dict[int, list] = {}
    for row in rows:
        by_product.setdefault(row.product_id, []).append(row)
    return by_product


def product_state(variant_ids: list[int], availability: dict[int, VariantAvailability]) -> str:
    """In stock when a variant ships now; on backorder when one can be ordered; else out."""
    states = {availability.get(variant_id, NOT_STOCKED).state for variant_id in variant_ids}
    for state in (IN_STOCK, BACKORDER):
        if state in states:
            return state
    return OUT_OF_STOCK


def product_card(row, variants: list, availability: dict[int, VariantAvailability]) -> ProductCard:
    compare_at = [v.compare_at_price for v in variants if v.compare_at_price is not None]
    return ProductCard(
        slug=row.slug,
        name=row.name,
        brand=Ref(row.brand_slug, row.brand_name) if row.brand_slug is not None else None,
        min_price=row.min_price,
        max_price=row.max_price,
        compare_at=PriceRange(min(compare_at), max(compare_at)) if compare_at else None,
        image=Image(row.image_url, row.image_alt) if row.image_url is not None else None,
        availability=product_state([v.id for v in variants], availability),
    )


def count_of(conditions) -> Select:
    return select(func.count()).select_from(Product).where(*conditions)


def category_count(category_ids: list[int]) -> Select:
    """How many products for sale the categories hold, as the products linked to them less
    those not for sale. Both parts run on small index ranges (the links of the subtree, the
    few drafts and archived products), where counting the active ones would read the whole
    status index: 1 ms instead of 13 for a category of 2,000 products among 100,000."""
    linked = ProductCategory.category_id.in_(category_ids)
    products_linked = select(func.count(distinct(ProductCategory.product_id))).where(linked)
    not_for_sale = (
        select(func.count())
        .select_from(Product)
        .where(
            Product.status.in_(NOT_FOR_SALE), Product.id.in_(select(ProductCategory.product_id).where(linked))
        )
    )
    return select(products_linked.scalar_subquery() - not_for_sale.scalar_subquery())


def brand_exists(slug: str) -> bool:
    return db.session.scalar(select(Brand.id).where(Brand.slug == slug)) is not None


def product_list(
    filters: ProductListFilter, page: int, page_size: int, *, total: int | None = None
) -> tuple[list[ProductCard], int]:
    """One page of the storefront list and the number of matching products (`total`, when
    the caller knows it already, is taken as it is and not counted again)."""
    category_ids = visible_subtree_ids(filters.category) if filters.category else None
    words = search_words(filters.q)
    conditions, rank = list_conditions(filters, category_ids, words)
    sort = filters.sort or ("relevance" if words else "newest")
    # Ranking reads every match anyway, so its statement counts them too.
    in_one = total is None and sort == "relevance" and rank is not None
    keys = list_order(sort, rank, words)
    rows = db.session.execute(
        product_page_query(conditions, keys, page, page_size, count_matches=in_one)
    ).all()
    if not rows and filters.brand is not None and not brand_exists(filters.brand):
        raise InvalidInput(UNKNOWN_BRAND, errors={"brand": [UNKNOWN_BRAND]})
    if in_one and rows:
        total = rows[0].total
    if total is None and 0 < len(rows) < page_size:
        total = (page - 1) * page_size + len(rows)  # the last page: nothing to count
    if total is None:
        category_only = category_ids is not None and filters == ProductListFilter(
            category=filters.category, sort=filters.sort
        )
        count = category_count(category_ids) if category_only else count_of(conditions)
        total = db.session.scalar(count)
    variants = variants_for_sale([row.id for row in rows]) if rows else {}
    variant_ids = [variant.id for group in variants.values() for variant in group]
    availability = stock_view().availability(variant_ids) if variant_ids else {}
    return [product_card(row, variants.get(row.id, []), availability) for row in rows], total
