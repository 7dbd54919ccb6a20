"""Marshmallow schemas of the storefront catalog API: the list's query arguments, and the
category tree, product cards and product page it answers with.

Query arguments ignore names they do not know (EXCLUDE: `page`, `page_size` belong to the
pagination, and a tracking parameter a shop's links carry must not break them); a known
argument with a bad value is a 422 naming it. Output schemas name every field a shopper
sees: cost prices, stock figures beyond AVAILABLE_CAP and drafts never reach them.
"""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from marshmallow import validate

from app.blueprints.catalog import store_product_page, store_queries
from app.blueprints.catalog.rendering import markdown_summary, markdown_to_safe_html
from app.blueprints.catalog.stock import BACKORDER, IN_STOCK, OUT_OF_STOCK
from app.core.money import MoneyField

STATES = (IN_STOCK, BACKORDER, OUT_OF_STOCK)
STATE_DESCRIPTION = "in_stock (ships now), backorder (can be ordered now, ships later) or out_of_stock"
MAX_PRICE = 10**10  # beyond Numeric(12, 2)
MAX_OPTION_FILTERS = 10


def store_currency(_obj) -> str:
    return current_app.config["STORE_CURRENCY"]


def currency_field() -> ma.fields.Function:
    return ma.fields.Function(
        store_currency, metadata={"type": "string", "description": "ISO 4217, of every amount here"}
    )


# ---- query arguments ------------------------------------------------------------------


class ProductListArgsSchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    q = ma.fields.String(
        validate=validate.Length(max=200),
        metadata={
            "description": "Words of the name, a SKU, the brand or the description; each word "
            f"matches as a prefix (the first {store_queries.MAX_SEARCH_WORDS} count)"
        },
    )
    category = ma.fields.String(
        validate=validate.Length(max=140),
        metadata={"description": "A category slug; products of its sub-categories are included"},
    )
    brand = ma.fields.String(
        validate=validate.Length(max=140),
        metadata={"description": "A brand slug (the `brand.slug` of a product card)"},
    )
    min_price = ma.fields.Decimal(
        validate=validate.Range(min=0, max=MAX_PRICE),
        metadata={"description": "On the product's lowest variant price, inclusive"},
    )
    max_price = ma.fields.Decimal(
        validate=validate.Range(min=0, max=MAX_PRICE),
        metadata={"description": "On the product's lowest variant price, inclusive"},
    )
    option = ma.fields.List(
        ma.fields.String(validate=validate.Length(max=161)),
        validate=validate.Length(max=MAX_OPTION_FILTERS),
        metadata={
            "description": "Repeatable `Name:Value`, e.g. `option=Size:M&option=Colour:Red`: a product "
            "with a variant for sale having those values (case-insensitive); values of the same "
            "option are alternatives (`Size:M` and `Size:L`: M or L)"
        },
    )
    in_stock = ma.fields.Boolean(
        metadata={"description": "true: only products with a variant that ships now; false: no filter"}
    )
    sort = ma.fields.String(
        validate=validate.OneOf(store_queries.SORTS),
        metadata={
            "description": "relevance (the default with q; without q it is newest), price, -price, "
            "newest (the default without q) or name"
        },
    )

    @ma.pre_load
    def drop_blanks(self, data, **_kwargs):
        # An empty query argument means "no filter", not "the empty string".
        return {
            key: value
            for key in data
            if (value := data[key]) is not None and not (isinstance(value, str) and not value.strip())
        }

    @ma.validates("option")
    def options_name_a_value(self, values, **_kwargs):
        for value in values:
            name, _, choice = value.partition(":")
            if not name.strip() or not choice.strip():
                raise ma.ValidationError("Give each option as Name:Value, e.g. Size:M.")

    @ma.validates_schema
    def price_range_in_order(self, data, **_kwargs):
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            raise ma.ValidationError("Must not be below min_price.", "max_price")

    @ma.post_load
    def to_filter(self, data, **_kwargs) -> store_queries.ProductListFilter:
        options: dict[str, tuple[str, ...]] = {}
        for value in data.get("option", ()):
            name, _, choice = value.partition(":")
            key = name.strip().lower()
            options[key] = (*options.get(key, ()), choice.strip().lower())
        return store_queries.ProductListFilter(
            q=data.get("q", ""),
            category=data.get("category"),
            brand=data.get("brand"),
            min_price=data.get("min_price"),
            max_price=data.get("max_price"),
            options=options,
            in_stock=data.get("in_stock", False),
            sort=data.get("sort"),
        )


# ---- the category tree ------------------------------------------------------------------


class CategoryNodeSchema(ma.Schema):
    slug = ma.fields.String()
    name = ma.fields.String()
    description = ma.fields.String()
    position = ma.fields.Integer(metadata={"description": "Order among its siblings"})
    children = ma.fields.List(ma.fields.Nested(lambda: CategoryNodeSchema()))


# ---- product cards (the list) -----------------------------------------------------------


class RefSchema(ma.Schema):
    slug = ma.fields.String()
    name = ma.fields.String()


class ImageSchema(ma.Schema):
    url = ma.fields.String()
    alt_text = ma.fields.String()


class PriceRangeSchema(ma.Schema):
    min = MoneyField()
    max = MoneyField()


class ProductCardSchema(ma.Schema):
    slug = ma.fields.String()
    name = ma.fields.String()
    brand = ma.fields.Nested(RefSchema, allow_none=True)
    min_price = MoneyField(allow_none=True, metadata={"description": "Lowest price of a variant for sale"})
    max_price = MoneyField(allow_none=True, metadata={"description": "Highest price of a variant for sale"})
    compare_at = ma.fields.Nested(
        PriceRangeSchema,
        allow_none=True,
        metadata={"description": "Lowest and highest compare-at (was) price of its variants; null: none"},
    )
    currency = currency_field()
    image = ma.fields.Nested(ImageSchema, allow_none=True, metadata={"description": "The main image"})
    availability = ma.fields.String(metadata={"description": STATE_DESCRIPTION, "enum": list(STATES)})
    in_stock = ma.fields.Boolean(metadata={"description": "availability is in_stock"})


# ---- the product page -------------------------------------------------------------------


class SanitizedMarkdown(ma.fields.String):
    """Markdown in, sanitized HTML out."""

    def _serialize(self, value, attr, obj, **kwargs):
        return markdown_to_safe_html(value)


class AvailabilitySchema(ma.Schema):
    state = ma.fields.String(metadata={"description": STATE_DESCRIPTION, "enum": list(STATES)})
    available = ma.fields.Function(
        lambda a: min(a.available, store_product_page.AVAILABLE_CAP),
        metadata={
            "type": "integer",
            "description": f"Units that ship now, at most {store_product_page.AVAILABLE_CAP} "
            f"({store_product_page.AVAILABLE_CAP} means that many or more)",
        },
    )
    expected_restock_date = ma.fields.Date(allow_none=True, metadata={"description": "When known"})


class StoreVariantSchema(ma.Schema):
    sku = ma.fields.String(attribute="variant.sku")
    title = ma.fields.String(attribute="variant.title", metadata={"description": 'e.g. "Red / M"'})
    options = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.String(), metadata={"description": "Option name -> value"}
    )
    price = MoneyField(attribute="variant.price")
    compare_at_price = MoneyField(attribute="variant.compare_at_price", allow_none=True)
    currency = currency_field()
    weight_grams = ma.fields.Integer(attribute="variant.weight_grams", allow_none=True)
    availability = ma.fields.Nested(AvailabilitySchema)


class OptionSchema(ma.Schema):
    name = ma.fields.String()
    values = ma.fields.List(ma.fields.String(), metadata={"description": "Those some variant for sale has"})


class MatrixCellSchema(ma.Schema):
    options = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    sku = ma.fields.String(allow_none=True, metadata={"description": "null: no variant for sale"})


class AttributeSchema(ma.Schema):
    name = ma.fields.String()
    value = ma.fields.String()


class SeoSchema(ma.Schema):
    """The product's own SEO fields, else its name and the start of its description."""

    title = ma.fields.Function(lambda product: product.seo_title or product.name, metadata={"type": "string"})
    description = ma.fields.Function(
        lambda product: product.seo_description or markdown_summary(product.description),
        metadata={"type": "string"},
    )


class ProductPageSchema(ma.Schema):
    slug = ma.fields.String(attribute="product.slug")
    name = ma.fields.String(attribute="product.name")
    brand = ma.fields.Nested(RefSchema, attribute="product.brand", allow_none=True)
    description_html = SanitizedMarkdown(
        attribute="product.description",
        metadata={
            "description": "The Markdown description as sanitized HTML (no scripts, no javascript: links)"
        },
    )
    min_price = MoneyField(attribute="product.min_price", allow_none=True)
    max_price = MoneyField(attribute="product.max_price", allow_none=True)
    currency = currency_field()
    availability = ma.fields.String(
        metadata={"description": "Of the product as a whole: " + STATE_DESCRIPTION, "enum": list(STATES)}
    )
    in_stock = ma.fields.Boolean(metadata={"description": "availability is in_stock"})
    breadcrumbs = ma.fields.List(
        ma.fields.Nested(RefSchema),
        metadata={"description": "Its main category and that category's ancestors, root first"},
    )
    images = ma.fields.List(ma.fields.Nested(ImageSchema), attribute="product.images")
    attributes = ma.fields.List(ma.fields.Nested(AttributeSchema), attribute="product.attributes")
    options = ma.fields.List(ma.fields.Nested(OptionSchema))
    variants = ma.fields.List(ma.fields.Nested(StoreVariantSchema))
    option_matrix = ma.fields.List(
        ma.fields.Nested(MatrixCellSchema),
        metadata={
            "description": "Each combination of option values with the SKU that has it "
            f"(null: none for sale); above {store_product_page.MATRIX_LIMIT} combinations, only "
            "those with a variant"
        },
    )
    seo = ma.fields.Nested(SeoSchema, attribute="product")
    published_at = ma.fields.AwareDateTime(attribute="product.published_at", allow_none=True)
