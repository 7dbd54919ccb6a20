"""Segment rules over purchase history, registered with customers' field registry at import:

- "Bought a product": any of / none of some products (product ids, or SKUs naming their
  product: any variant of it counts), optionally within the last N days;
- "Bought in a category": the same for categories, each with its sub-categories (a prefix
  match on the categories' materialized path).

Each is an EXISTS over the customer's counted orders (paid, not cancelled:
`customer_figures.counts_as_purchase`) joined to their lines, inside the segment's one
SQL query. Values are {"products": [12, "TEA-001"], "days": 90} and
{"categories": [3], "days": null}; a product or category that does not exist is a field
error naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, false, or_, select

from app.blueprints.catalog.categories import category_tree
from app.blueprints.catalog.models import Category, Product, ProductCategory, Variant
from app.blueprints.customers.models import Customer
from app.blueprints.customers.segment_fields import Field, register_field
from app.blueprints.customers.segment_values import MAX_DAYS, MAX_LIST, ValueProblem, whole
from app.blueprints.orders.customer_figures import counts_as_purchase
from app.blueprints.orders.order_models import Order, OrderLine
from app.extensions import db

OPERATORS = ("any_of", "none_of")
MAX_SKU = 64
MAX_ID = 2**31 - 1


# --- Values ----------------------------------------------------------------------------------


def purchases_value(key: str, check_items: Callable[[list], list]):
    """Checks {key: [...], "days": n | None}: a non-empty list (at most MAX_LIST), each item
    known, and an optional number of days."""

    def check(_operator, value):
        if not isinstance(value, dict):
            raise ValueProblem(f'Give {{"{key}": [...]}} and optionally "days".')
        unknown = set(value) - {key, "days"}
        if unknown:
            raise ValueProblem(f"Unknown keys: {', '.join(sorted(unknown))}.")
        items = value.get(key)
        if not isinstance(items, list) or not items:
            raise ValueProblem(f"Give at least one of the {key}.")
        if len(items) > MAX_LIST:
            raise ValueProblem(f"At most {MAX_LIST} {key}.")
        days = value.get("days")
        if days is not None:
            days = whole(1, MAX_DAYS)(days)
        return {key: check_items(items), "days": days}

    return check


def _unique(items: list) -> list:
    return list(dict.fromkeys(items))


def _whole_id(item) -> bool:
    return isinstance(item, int) and not isinstance(item, bool) and 0 < item <= MAX_ID


def checked_products(items: list) -> list:
    """Product ids stay ids, strings are SKUs (trimmed); a number that is no product's id
    but is a SKU counts as that SKU. Unknown ones are named, all at once."""
    ids = [item for item in items if _whole_id(item)]
    texts = [item.strip() for item in items if isinstance(item, str) and item.strip()]
    odd = [item for item in items if not _whole_id(item) and not (isinstance(item, str) and item.strip())]
    if odd or any(len(text) > MAX_SKU for text in texts):
        raise ValueProblem("Give product ids (whole numbers) or SKUs.")
    known_ids = set(db.session.scalars(select(Product.id).where(Product.id.in_(ids)))) if ids else set()
    candidates = texts + [str(item) for item in ids if item not in known_ids]
    known_skus = (
        set(db.session.scalars(select(Variant.sku).where(Variant.sku.in_(candidates))))
        if candidates
        else set()
    )
    checked, missing = [], []
    for item in items:
        if _whole_id(item) and item in known_ids:
            checked.append(item)
        elif str(item).strip() in known_skus:
            checked.append(str(item).strip())
        else:
            missing.append(str(item).strip())
    if missing:
        raise ValueProblem(f"No product with the id or SKU {', '.join(_unique(missing))}.")
    return _unique(checked)


def checked_categories(items: list) -> list[int]:
    """Category ids (a numeric string from a form counts as its number); unknown ones named."""
    ids = []
    for item in items:
        if isinstance(item, str) and item.strip().isdigit():
            item = int(item.strip())
        if not _whole_id(item):
            raise ValueProblem("Give category ids (whole numbers).")
        ids.append(item)
    ids = _unique(ids)
    known = set(db.session.scalars(select(Category.id).where(Category.id.in_(ids))))
    missing = [str(item) for item in ids if item not in known]
    if missing:
        raise ValueProblem(f"No category with the id {', '.join(missing)}.")
    return ids


def in_words(key: str, item: Callable[[object], str], suffix: str = ""):
    def words(operator, value) -> str:
        listed = ", ".join(item(entry) for entry in value[key])
        within = f" in the last {value['days']} days" if value.get("days") else ""
        return f"{listed}{suffix}{within}"

    return words


# --- Expressions -----------------------------------------------------------------------------


def bought(line_matches: Callable[[list], ColumnElement[bool]], key: str):
    """EXISTS a counted order of the customer (within the days) with a line that matches."""

    def build(operator, value, now: datetime):
        conditions = [Order.customer_id == Customer.id, counts_as_purchase(), line_matches(value[key])]
        if value.get("days"):
            conditions.append(Order.placed_at >= now - timedelta(days=value["days"]))
        found = (
            select(OrderLine.id)
            .join(Order, Order.id == OrderLine.order_id)
            .where(*conditions)
            .correlate(Customer)
            .exists()
        )
        return found if operator == "any_of" else ~found

    return build


def product_lines(items: list) -> ColumnElement[bool]:
    ids = [item for item in items if isinstance(item, int)]
    skus = [item for item in items if isinstance(item, str)]
    matches = []
    if ids:
        matches.append(OrderLine.product_id.in_(ids))
    if skus:
        matches.append(OrderLine.product_id.in_(select(Variant.product_id).where(Variant.sku.in_(skus))))
    return or_(*matches)


def category_lines(ids: list[int]) -> ColumnElement[bool]:
    """Lines of products linked to the categories or anything below them. The categories'
    paths are read now and inlined as prefixes, so the planner estimates the subtree as it
    would a hand-written `path LIKE '/3/%'` (a prefix taken from a joined row it cannot)."""
    paths = db.session.scalars(select(Category.path).where(Category.id.in_(ids))).all()
    products = (
        select(ProductCategory.product_id)
        .join(Category, Category.id == ProductCategory.category_id)
        # Paths are ids and separators only: nothing in them is a LIKE wildcard.
        .where(or_(*(Category.path.like(f"{path}%") for path in paths)) if paths else false())
    )
    return OrderLine.product_id.in_(products)


def category_options() -> list[tuple[str, str]]:
    """Every category, in tree order, indented by depth (the builder's picker)."""
    options = []

    def walk(nodes):
        for node in nodes:
            category = node.category
            options.append((str(category.id), f"{'— ' * category.depth}{category.name}"))
            walk(node.children)

    walk(category_tree())
    return options


HINT = "Leave “Within (days)” empty for any time. Paid orders count, cancelled ones do not."

register_field(
    Field(
        "bought_product",
        "Bought a product",
        "Purchases",
        OPERATORS,
        scalar=lambda value: value,
        build=bought(product_lines, "products"),
        widget="purchases",
        hint=f"SKUs or product ids, separated by commas. {HINT}",
        whole_value=purchases_value("products", checked_products),
        value_key="products",
        words=in_words("products", str),
    )
)
register_field(
    Field(
        "bought_in_category",
        "Bought in a category",
        "Purchases",
        OPERATORS,
        scalar=lambda value: value,
        build=bought(category_lines, "categories"),
        widget="purchases",
        hint=f"A category includes its sub-categories. {HINT}",
        whole_value=purchases_value("categories", checked_categories),
        options=category_options,
        value_key="categories",
        words=in_words("categories", lambda category_id: f"#{category_id}", " (with sub-categories)"),
    )
)
