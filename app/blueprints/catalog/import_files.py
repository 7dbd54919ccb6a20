"""The product import's CSV file: its columns, grouping its rows by product, and parsing
one row into checked values.

One row per variant; the export writes exactly these columns, so an export imports back.
`sku` is required and is the key: a known SKU updates its variant. The other columns are
optional, in any order; an unknown column refuses the file before any row is read.
Consecutive rows with the same product_slug (or, without one, product_name) are one
product, imported together; its other product columns may be repeated on each row (they
must then agree) or given on its first row only. A row with neither only updates a known
SKU. Empty cells change nothing. Lists inside a cell ("categories", "image_urls", ...)
are separated by "|".

Nothing here touches the database: resolving slugs and writing is imports' work.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

from app.blueprints.catalog import validation
from app.blueprints.catalog.models import PRODUCT_STATUSES, TAX_CLASSES, Product
from app.core import csv_import
from app.core.csv_import import ROW, FileLayout
from app.core.errors import InvalidInput

OPTION_SLOTS = 3
OPTION_COLUMNS = tuple(f"option{n}_{part}" for n in range(1, OPTION_SLOTS + 1) for part in ("name", "value"))
PRODUCT_COLUMNS = (
    "product_slug",
    "product_name",
    "status",
    "brand",
    "categories",
    "tax_class",
    "description",
    "seo_title",
    "seo_description",
    "attributes",
    "image_urls",
    "image_alt_texts",
)
VARIANT_COLUMNS = (
    "sku",
    "barcode",
    "price",
    "compare_at_price",
    "cost_price",
    "weight_grams",
    "variant_active",
    "backorder_policy",
    "backorder_limit",
    "expected_restock_date",
    "low_stock_threshold",
)
COLUMNS = (*PRODUCT_COLUMNS, *OPTION_COLUMNS, *VARIANT_COLUMNS)  # the export's order
LIST_SEPARATOR = "|"
ATTRIBUTE_SEPARATOR = ":"
BOOLEANS = {
    **dict.fromkeys(("yes", "y", "true", "1", "active"), True),
    **dict.fromkeys(("no", "n", "false", "0", "inactive"), False),
}
DECIMAL_COMMA = re.compile(r"-?\d+,\d{1,2}")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
IMAGE_URL = re.compile(r"^(https?://[^\s]+|/[^\s]*)$")
# A product's variants are imported together, held in memory: a bound keeps that small.
MAX_GROUP_ROWS = 1000
# Service field names -> the column that holds them (for errors the services raise).
FIELD_COLUMNS = {
    "name": "product_name",
    "slug": "product_slug",
    "brand_id": "brand",
    "category_ids": "categories",
    "images": "image_urls",
    "attributes": "attributes",
    "options": "option1_name",
    "is_active": "variant_active",
}


def options_come_in_pairs(names: tuple[str, ...]) -> str | None:
    unpaired = [
        f"option{n}_{has} without option{n}_{lacks}"
        for n in range(1, OPTION_SLOTS + 1)
        for has, lacks in (("name", "value"), ("value", "name"))
        if f"option{n}_{has}" in names and f"option{n}_{lacks}" not in names
    ]
    return "; ".join(unpaired) or None


HEADER = csv_import.Header(key="sku", columns=COLUMNS, checks=(options_come_in_pairs,))


def inspect_file(path: str) -> FileLayout:
    """The first, cheap pass: the file decodes, parses, names known columns (sku among
    them), and how many rows it holds. Raises csv_import.UnreadableFile."""
    return csv_import.inspect_file(path, HEADER)


# --- One row ------------------------------------------------------------------------------


@dataclass
class ProductValues:
    """The product columns a row gives (None: the cell is empty or the column absent)."""

    slug: str | None = None
    name: str | None = None
    status: str | None = None
    brand: str | None = None
    categories: list[str] | None = None  # category slugs
    tax_class: str | None = None
    description: str | None = None
    seo_title: str | None = None
    seo_description: str | None = None
    attributes: list[tuple[str, str]] | None = None
    images: list[tuple[str, str]] | None = None  # (url, alt text)

    def given(self) -> dict:
        return {name: value for name, value in vars(self).items() if value is not None}


@dataclass
class RowInput:
    number: int  # as a spreadsheet shows it
    sku: str
    product: ProductValues
    options: list[tuple[str, str]]  # (option name, value) in option1..3 order
    variant: dict  # the VariantInput fields the row gives, checked (sku not among them)
    errors: dict[str, list[str]] = field(default_factory=dict)  # per column; ROW for the row

    @property
    def product_key(self) -> str:
        """What ties the rows of one product together in the file."""
        if self.product.slug:
            return f"slug:{self.product.slug}"
        if self.product.name:
            return f"name:{self.product.name.casefold()}"
        return f"sku:{self.sku.casefold()}"  # a row that only updates a known SKU

    def fail(self, column: str, message: str) -> None:
        self.errors.setdefault(column, []).append(message)


def split_list(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(LIST_SEPARATOR) if part.strip()]


def parse_row(number: int, columns: tuple[str, ...], cells: list[str]) -> RowInput:
    """The row's values, checked and normalised; every problem found is in `errors`
    (a row with errors is still returned, so its product group can be reported whole)."""
    try:
        values = csv_import.row_values(columns, cells)
    except InvalidInput as error:
        row = RowInput(number, "", ProductValues(), [], {})
        row.errors.update(error.errors or {ROW: [error.detail]})
        return row
    problems = validation.FieldErrors()
    sku = values.get("sku", "")
    row = RowInput(
        number=number,
        sku=sku,
        product=product_values(values, problems),
        options=option_values(values, problems),
        variant=variant_values(values, problems),
    )
    if not sku:
        problems.add("sku", "Required: the SKU identifies the variant.")
    elif len(sku) > validation.MAX_SKU:
        problems.add("sku", f"At most {validation.MAX_SKU} characters.")
    elif re.search(r"\s", sku):
        problems.add("sku", "No spaces in a SKU.")
    for column, messages in problems.errors.items():
        for message in messages:
            row.fail(FIELD_COLUMNS.get(column, column), message)
    return row


def limited(values: dict, name: str, problems: validation.FieldErrors, max_length: int) -> str | None:
    text = values.get(name) or ""
    if not text:
        return None
    if len(text) > max_length:
        problems.add(name, f"At most {max_length} characters.")
    return text


def column_length(name: str) -> int:
    return Product.__table__.c[name].type.length


def product_values(values: dict, problems: validation.FieldErrors) -> ProductValues:
    product = ProductValues(
        name=limited(values, "product_name", problems, column_length("name")),
        brand=limited(values, "brand", problems, 120),
        description=values.get("description") or None,
        seo_title=limited(values, "seo_title", problems, column_length("seo_title")),
        seo_description=limited(values, "seo_description", problems, column_length("seo_description")),
    )
    if values.get("product_slug"):
        product.slug = validation.slug_format(
            values["product_slug"], "product_slug", problems, max_length=column_length("slug")
        )
    for name, choices in (("status", PRODUCT_STATUSES), ("tax_class", TAX_CLASSES)):
        if raw := values.get(name):
            if raw.lower() in choices:
                setattr(product, name, raw.lower())
            else:
                problems.add(name, f"Choose one of: {', '.join(choices)}.")
    if values.get("categories"):
        product.categories = list(dict.fromkeys(slug.lower() for slug in split_list(values["categories"])))
    if values.get("attributes"):
        product.attributes = attribute_pairs(values["attributes"], problems)
    if values.get("image_urls") or values.get("image_alt_texts"):
        product.images = image_pairs(
            values.get("image_urls", ""), values.get("image_alt_texts", ""), problems
        )
    return product


def attribute_pairs(raw: str, problems: validation.FieldErrors) -> list[tuple[str, str]]:
    """ "Material: cotton | Fit: slim" -> [("Material", "cotton"), ("Fit", "slim")]."""
    pairs: list[tuple[str, str]] = []
    for part in split_list(raw):
        name, separator, value = part.partition(ATTRIBUTE_SEPARATOR)
        name, value = name.strip(), value.strip()
        if not separator or not name or not value:
            problems.add("attributes", f"“{part}” is not like “Material: cotton”.")
        elif len(name) > 100 or len(value) > 500:
            problems.add("attributes", f"“{part[:40]}…”: at most 100 characters of name and 500 of value.")
        elif name.casefold() in (known.casefold() for known, _ in pairs):
            problems.add("attributes", f"“{name}” is given twice.")
        else:
            pairs.append((name, value))
    return pairs


def image_pairs(urls_raw: str, alts_raw: str, problems: validation.FieldErrors) -> list[tuple[str, str]]:
    urls = split_list(urls_raw)
    alts = [part.strip() for part in alts_raw.split(LIST_SEPARATOR)] if alts_raw else []
    if len(alts) > len(urls):
        problems.add("image_alt_texts", "More alt texts than image URLs.")
    for url in urls:
        if len(url) > 2000 or not IMAGE_URL.match(url):
            problems.add(
                "image_urls", f"“{url[:60]}” is not a web address (https://…) or a path (/static/…)."
            )
    for alt in alts:
        if len(alt) > 300:
            problems.add("image_alt_texts", "At most 300 characters per alt text.")
    return [(url, alts[index] if index < len(alts) else "") for index, url in enumerate(urls)]


def option_values(values: dict, problems: validation.FieldErrors) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for n in range(1, OPTION_SLOTS + 1):
        name, value = values.get(f"option{n}_name", ""), values.get(f"option{n}_value", "")
        if not name and not value:
            continue
        if not name or not value:
            problems.add(f"option{n}_{'name' if not name else 'value'}", "Give the option's name and value.")
            continue
        if len(name) > validation.MAX_OPTION_NAME or any(c in name for c in validation.OPTION_NAME_FORBIDDEN):
            problems.add(
                f"option{n}_name", f"At most {validation.MAX_OPTION_NAME} characters, no “|” or “=”."
            )
        if len(value) > validation.MAX_OPTION_VALUE or any(
            c in value for c in validation.OPTION_VALUE_FORBIDDEN
        ):
            problems.add(f"option{n}_value", f"At most {validation.MAX_OPTION_VALUE} characters, no “|”.")
        if name.casefold() in (known.casefold() for known, _ in pairs):
            problems.add(f"option{n}_name", f"The option “{name}” is given twice.")
        pairs.append((name, value))
    return pairs


def variant_values(values: dict, problems: validation.FieldErrors) -> dict:
    """The variant fields the row gives, checked with the services' own rules (negative
    amounts, a compare-at price below the price, ...)."""
    given: dict = {}
    for name in ("barcode", "weight_grams"):
        if values.get(name):
            given[name] = values[name]
    for name in ("price", "compare_at_price", "cost_price"):
        if raw := values.get(name):
            # "12,50" from a spreadsheet in a comma-decimal locale is 12.50.
            given[name] = raw.replace(",", ".") if DECIMAL_COMMA.fullmatch(raw) else raw
    for column, name in (
        ("backorder_limit", "backorder_limit"),
        ("low_stock_threshold", "low_stock_threshold"),
    ):
        if values.get(column):
            given[name] = values[column]
    if raw := values.get("backorder_policy"):
        given["backorder_policy"] = raw.lower()
    if raw := values.get("variant_active"):
        active = BOOLEANS.get(raw.lower())
        if active is None:
            problems.add("variant_active", "Use yes or no.")
        else:
            given["is_active"] = active
    if raw := values.get("expected_restock_date"):
        try:
            if not ISO_DATE.fullmatch(raw):
                raise ValueError(raw)
            given["expected_restock_date"] = date.fromisoformat(raw)
        except ValueError:
            problems.add("expected_restock_date", f"“{raw}” is not a date like 2026-12-24.")
    return validation.variant_fields(given, "", problems)


# --- Rows grouped by product ------------------------------------------------------------------


@dataclass
class ProductGroup:
    """Consecutive rows of one product, imported together (all or none)."""

    rows: list[RowInput]
    overflow: list[tuple[int, str]] = field(default_factory=list)  # (row number, sku) past MAX_GROUP_ROWS

    @property
    def size(self) -> int:
        return len(self.rows) + len(self.overflow)


def product_groups(
    rows: Iterable[tuple[int, list[str]]], columns: tuple[str, ...], *, max_rows: int = MAX_GROUP_ROWS
) -> Iterator[ProductGroup]:
    """The parsed rows, consecutive rows of the same product together. A product with more
    than `max_rows` rows keeps only their numbers past that (it fails whole)."""
    group: ProductGroup | None = None
    key = None
    sku_at = columns.index("sku")
    for number, cells in rows:
        row = parse_row(number, columns, cells)
        if group is not None and row.product_key == key:
            if len(group.rows) < max_rows:
                group.rows.append(row)
            else:
                group.overflow.append((number, csv_import.cell_at(cells, sku_at)))
            continue
        if group is not None:
            yield group
        group, key = ProductGroup([row]), row.product_key
    if group is not None:
        yield group
