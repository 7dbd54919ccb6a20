"""Read side of the catalog for staff: the filtered product list (portal, admin API and
CSV export share one builder), the variants of a filtered set (bulk price change) and a
variant's price history."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal

from sqlalchemy import Select, false, func, or_, select
from sqlalchemy.orm import aliased, joinedload

from app.blueprints.catalog.models import Category, PriceChange, Product, ProductCategory, Variant
from app.extensions import db

SORTS = ("name", "-name", "price", "-price", "created", "-created")
DEFAULT_SORT = "name"


@dataclass(frozen=True)
class ProductFilter:
    """What the staff list shows. `q` matches name, slug, SKU or barcode (any case);
    `category_id` includes its sub-categories; the price bounds are inclusive and keep
    products with a variant in range (and, for variants, the variants in range)."""

    q: str = ""
    status: str | None = None
    category_id: int | None = None
    brand_id: int | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    sort: str = DEFAULT_SORT

    def as_dict(self) -> dict:
        """The filters in use, JSON-safe (for audit entries)."""
        values = {}
        for key, value in asdict(self).items():
            if value in (None, "") or (key == "sort" and value == DEFAULT_SORT):
                continue
            values[key] = str(value) if isinstance(value, Decimal) else value
        return values


def like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def product_conditions(f: ProductFilter) -> list:
    conditions = []
    q = (f.q or "").strip().lower()
    if q:
        pattern = like_pattern(q)
        # An alias correlated to products explicitly: the same conditions also run inside
        # UPDATE variants (bulk price change), where plain `variants` would bind to it.
        other = aliased(Variant)
        variant_match = (
            select(other.id)
            .where(
                other.product_id == Product.id,
                or_(
                    func.lower(other.sku).like(pattern, escape="\\"),
                    func.lower(other.barcode).like(pattern, escape="\\"),
                ),
            )
            .correlate(Product)
            .exists()
        )
        conditions.append(
            or_(
                func.lower(Product.name).like(pattern, escape="\\"),
                Product.slug.like(pattern, escape="\\"),
                variant_match,
            )
        )
    if f.status:
        conditions.append(Product.status == f.status)
    if f.brand_id is not None:
        conditions.append(Product.brand_id == f.brand_id)
    if f.category_id is not None:
        path = db.session.scalar(select(Category.path).where(Category.id == f.category_id))
        if path is None:
            conditions.append(false())
        else:
            in_subtree = (
                select(ProductCategory.product_id)
                .join(Category, Category.id == ProductCategory.category_id)
                .where(Category.path.startswith(path))
            )
            conditions.append(Product.id.in_(in_subtree))
    if f.min_price is not None:
        conditions.append(Product.max_price >= f.min_price)
    if f.max_price is not None:
        conditions.append(Product.min_price <= f.max_price)
    return conditions


def _order(f: ProductFilter) -> list:
    sort = f.sort if f.sort in SORTS else DEFAULT_SORT
    descending = sort.startswith("-")
    column = {"name": Product.name, "price": Product.min_price, "created": Product.created_at}[
        sort.lstrip("-")
    ]
    if descending:
        return [column.desc().nulls_last(), Product.id.desc()]
    return [column.asc().nulls_last(), Product.id.asc()]


def product_list_query(f: ProductFilter) -> Select:
    """Products matching `f`, sorted, with their brand loaded."""
    return (
        select(Product).options(joinedload(Product.brand)).where(*product_conditions(f)).order_by(*_order(f))
    )


def filtered_product_ids(f: ProductFilter) -> Select:
    """Ids of the filtered products, never correlated to an enclosing UPDATE products."""
    return select(Product.id).where(*product_conditions(f)).correlate(None)


def variant_conditions(f: ProductFilter) -> list:
    conditions = [Variant.product_id.in_(filtered_product_ids(f))]
    if f.min_price is not None:
        conditions.append(Variant.price >= f.min_price)
    if f.max_price is not None:
        conditions.append(Variant.price <= f.max_price)
    return conditions


def variant_list_query(f: ProductFilter) -> Select:
    """The variants of the filtered products (within the price bounds, when given), with
    their product loaded, in list order."""
    return (
        select(Variant)
        .join(Product, Product.id == Variant.product_id)
        .options(joinedload(Variant.product))
        .where(*variant_conditions(f))
        .order_by(*_order(f), Variant.position, Variant.id)
    )


def price_history(variant_id: int) -> list[PriceChange]:
    """A variant's price changes, newest first."""
    return list(
        db.session.scalars(
            select(PriceChange)
            .where(PriceChange.variant_id == variant_id)
            .order_by(PriceChange.changed_at.desc(), PriceChange.id.desc())
        )
    )
