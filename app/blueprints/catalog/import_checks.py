"""Checking a product's rows in a CSV import before anything is written: against each other
(a SKU twice, the same option values twice, rows naming different options or disagreeing on
a product column) and against the database (unknown categories, a SKU of another product,
option values another variant has). What the database holds is read once per batch into a
`Lookup`. Problems are collected per row and column and raised together as GroupFailed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from app.blueprints.catalog.import_files import FIELD_COLUMNS, ProductGroup, ProductValues, RowInput
from app.blueprints.catalog.models import Brand, Category, Product, ProductOption, Variant
from app.blueprints.catalog.validation import option_key
from app.core.csv_import import ROW
from app.core.errors import DomainError
from app.extensions import db

COLUMN_OF_FIELD = {"slug": "product_slug", "name": "product_name", "images": "image_urls"}


class GroupFailed(Exception):
    """The product is not imported; `errors` by row number, each {column: [messages]}."""

    def __init__(self, errors: dict[int, dict[str, list[str]]]):
        super().__init__("The product is not imported.")
        self.errors = errors


@dataclass
class Lookup:
    """What a batch of groups needs from the database, read in a few queries up front and
    kept current as its products are written."""

    variants: dict[str, Variant] = field(default_factory=dict)  # by SKU
    products_by_slug: dict[str, Product] = field(default_factory=dict)
    products_by_name: dict[str, list[Product]] = field(default_factory=dict)
    categories: dict[str, int] = field(default_factory=dict)  # id by slug
    brands: dict[str, Brand] = field(default_factory=dict)  # by lower-case name and by slug

    def learn(self, product: Product) -> None:
        """A product the batch has just written (called once its savepoint is released)."""
        self.products_by_slug[product.slug] = product
        self.products_by_name.setdefault(product.name, [])
        if product not in self.products_by_name[product.name]:
            self.products_by_name[product.name].append(product)
        for variant in product.variants:
            self.variants[variant.sku] = variant
        if product.brand is not None:
            self.brands[product.brand.name.lower()] = product.brand
            self.brands[product.brand.slug] = product.brand


def product_loading():
    """Everything import_group reads of a product, loaded with it."""
    return (
        selectinload(Product.variants).selectinload(Variant.option_values),
        selectinload(Product.options).selectinload(ProductOption.values),
        selectinload(Product.images),
        selectinload(Product.attributes),
        selectinload(Product.category_links),
        joinedload(Product.brand),
    )


def lookup_for(groups: list[ProductGroup]) -> Lookup:
    """One query each for the batch's SKUs, product slugs and names, category slugs, and
    the brands (a short list)."""
    rows = [row for group in groups for row in group.rows]
    skus = {row.sku for row in rows if row.sku}
    slugs = {row.product.slug for row in rows if row.product.slug}
    names = {row.product.name for row in rows if row.product.name and not row.product.slug}
    category_slugs = {slug for row in rows for slug in row.product.categories or ()}
    lookup = Lookup()
    if skus:
        query = select(Variant).where(Variant.sku.in_(skus)).options(joinedload(Variant.product))
        lookup.variants = {variant.sku: variant for variant in db.session.scalars(query)}
    product_ids = {variant.product_id for variant in lookup.variants.values()}
    conditions = [Product.id.in_(product_ids)] if product_ids else []
    if slugs:
        conditions.append(Product.slug.in_(slugs))
    if names:
        conditions.append(Product.name.in_(names))
    if conditions:
        for product in db.session.scalars(
            select(Product).where(or_(*conditions)).options(*product_loading())
        ):
            lookup.products_by_slug[product.slug] = product
            lookup.products_by_name.setdefault(product.name, []).append(product)
    if category_slugs:
        found = db.session.execute(
            select(Category.slug, Category.id).where(Category.slug.in_(category_slugs))
        )
        lookup.categories = {slug: category_id for slug, category_id in found}
    for brand in db.session.scalars(select(Brand)):
        lookup.brands[brand.name.lower()] = brand
        lookup.brands[brand.slug] = brand
    return lookup


# --- Checking the rows of a product ----------------------------------------------------------


class Problems:
    """Messages per row number and column, raised together as GroupFailed."""

    def __init__(self, group: ProductGroup):
        self.group = group
        self.errors: dict[int, dict[str, list[str]]] = {}

    def add(self, row: RowInput | int, column: str, message: str) -> None:
        number = row if isinstance(row, int) else row.number
        self.errors.setdefault(number, {}).setdefault(column, []).append(message)

    def add_error(self, row: RowInput, error: DomainError, *, rows: list[RowInput] | None = None) -> None:
        """A service's error: its fields named as columns, "variants.N.x" on the N-th of `rows`."""
        for name, messages in (error.errors or {ROW: [error.detail]}).items():
            target, column = row, name
            parts = name.split(".")
            if parts[0] == "variants" and rows is not None and len(parts) > 2 and parts[1].isdigit():
                target, column = rows[int(parts[1])], ".".join(parts[2:])
            for message in messages:
                self.add(target, column_of(column), message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise GroupFailed(self.errors)


def column_of(field_name: str) -> str:
    """The CSV column of a service's field name ("options.1.name" -> option2_name)."""
    parts = field_name.split(".")
    if parts[0] == "options" and len(parts) > 1 and parts[1].isdigit():
        return f"option{int(parts[1]) + 1}_{'name' if parts[-1] == 'name' else 'value'}"
    if parts[0] == "options":
        return "option1_value"
    if parts[0] in ("variants", "_row"):
        return ROW
    return FIELD_COLUMNS.get(parts[0], parts[0])


def check_rows(group: ProductGroup, problems: Problems) -> ProductValues:
    """The rows' own problems and their disagreements; the product's values, merged."""
    for number, _ in group.overflow:
        problems.add(
            number, ROW, f"A product may have at most {len(group.rows)} rows (variants) in one file."
        )
    for row in group.rows:
        for column, messages in row.errors.items():
            for message in messages:
                problems.add(row, column, message)
    first_sku: dict[str, int] = {}
    first_options: dict[str, int] = {}
    option_names = None
    for row in group.rows:
        if row.sku in first_sku:
            problems.add(row, "sku", f"Also on row {first_sku[row.sku]}: a SKU is one variant.")
        first_sku.setdefault(row.sku, row.number)
        if not row.options:
            continue
        names = [name for name, _ in row.options]
        if option_names is None:
            option_names = (row.number, names)
        elif names != option_names[1]:
            problems.add(
                row,
                "option1_name",
                f"Row {option_names[0]} of this product names the options {', '.join(option_names[1])}.",
            )
        key = option_key(sorted(row.options))
        if key in first_options:
            problems.add(row, "option1_value", f"Same option values as row {first_options[key]}.")
        first_options.setdefault(key, row.number)
    merged = ProductValues()
    source: dict[str, int] = {}
    for row in group.rows:
        for name, value in row.product.given().items():
            current = getattr(merged, name)
            if current is None:
                setattr(merged, name, value)
                source[name] = row.number
            elif current != value:
                column = COLUMN_OF_FIELD.get(name, name)
                problems.add(
                    row, column, f"Differs from row {source[name]}: the rows of a product must agree."
                )
    return merged


def category_ids(group: ProductGroup, merged: ProductValues, lookup: Lookup, problems: Problems):
    if merged.categories is None:
        return None
    unknown = [slug for slug in merged.categories if slug not in lookup.categories]
    for row in group.rows:
        for slug in unknown:
            if slug in (row.product.categories or ()):
                problems.add(row, "categories", f"No category has the slug “{slug}”.")
    return [lookup.categories[slug] for slug in merged.categories if slug in lookup.categories]


def find_product(group: ProductGroup, merged: ProductValues, lookup: Lookup, problems: Problems):
    """The product the rows belong to (None: a new one). By slug; else by the product of
    their known SKUs; else by name (when one product has it)."""
    owners = {}
    for row in group.rows:
        variant = lookup.variants.get(row.sku)
        if variant is not None:
            owners.setdefault(variant.product_id, []).append(row)
    if merged.slug:
        product = lookup.products_by_slug.get(merged.slug)
    elif len(owners) == 1:
        product = lookup.variants[next(iter(owners.values()))[0].sku].product
    elif not owners and merged.name:
        named = lookup.products_by_name.get(merged.name, [])
        if len(named) > 1:
            problems.add(
                group.rows[0], "product_name", "Several products have this name: give the product_slug."
            )
        product = named[0] if len(named) == 1 else None
    else:
        product = None
    for product_id, rows in owners.items():
        if product is None or product_id != product.id:
            slug = lookup.variants[rows[0].sku].product.slug
            for row in rows:
                problems.add(row, "sku", f"The SKU belongs to the product “{slug}”.")
    if product is None and not owners and not merged.name and not merged.slug:
        for row in group.rows:
            problems.add(row, "sku", "Unknown SKU: give product_slug or product_name to create its product.")
    return product


def option_names_of(group: ProductGroup) -> list[str]:
    return next(([name for name, _ in row.options] for row in group.rows if row.options), [])


def ordered_key(options: list[tuple[str, str]], order: list[str]) -> str:
    """The option key of a row's values, in the product's option order."""
    return option_key(
        sorted(options, key=lambda pair: order.index(pair[0]) if pair[0] in order else len(order))
    )


def option_map(group: ProductGroup, order: list[str], existing: dict[str, list[str]] | None = None):
    """Option name -> values: the product's, then those the rows add, in order of appearance."""
    options = {name: list((existing or {}).get(name, [])) for name in order}
    for row in group.rows:
        for name, value in row.options:
            if name in options and value not in options[name]:
                options[name].append(value)
    return options


def plan_variants(group, product: Product, lookup: Lookup, problems: Problems) -> list:
    """(row, its variant or None for a new one), checked against the product's options."""
    product_names = [option.name for option in product.options]
    row_names = option_names_of(group)
    order = product_names or row_names
    if row_names and product_names and set(row_names) != set(product_names):
        problems.add(group.rows[0], "option1_name", f"The product's options are {', '.join(product_names)}.")
        return []
    taken = {variant.option_key: variant for variant in product.variants}
    planned = []
    for row in group.rows:
        variant = lookup.variants.get(row.sku)
        key = ordered_key(row.options, order) if row.options else None
        if variant is not None:
            if row_names and not product_names:
                problems.add(
                    row,
                    "option1_name",
                    f"{row.sku} has no options: a variant's options are set in the product editor.",
                )
            elif key is not None and key != variant.option_key:
                problems.add(
                    row,
                    "option1_value",
                    f"{row.sku} is “{variant.title}”: a variant's options cannot change; "
                    "add a new variant (new SKU) instead.",
                )
        else:
            if "price" not in row.variant:
                problems.add(row, "price", "Required for a new variant.")
            if order and key is None:
                problems.add(row, "option1_name", f"Give this variant's values of {', '.join(order)}.")
            elif not order and (product.variants or any(v is None for _, v in planned)):
                # Without options a product has one (default) variant, and it has it already.
                problems.add(
                    row, "option1_name", "The product has no options: give option values to add a variant."
                )
            elif key in taken and taken[key].sku != row.sku:
                problems.add(row, "option1_value", f"The variant {taken[key].sku} has these option values.")
        planned.append((row, variant))
    return planned


def check_new_product(group: ProductGroup, merged: ProductValues, problems: Problems) -> None:
    """Rows that create a product: a name, a price per variant, option values on every row
    (or a single row for a product without options)."""
    names = option_names_of(group)
    if not merged.name:
        problems.add(group.rows[0], "product_name", "Required to create the product: its SKUs are new.")
    for index, row in enumerate(group.rows):
        if "price" not in row.variant:
            problems.add(row, "price", "Required for a new variant.")
        if names and not row.options:
            problems.add(row, "option1_name", f"Give this variant's values of {', '.join(names)}.")
        elif not names and index > 0:
            problems.add(
                row, "option1_name", "A product without options has one variant: give option values."
            )
