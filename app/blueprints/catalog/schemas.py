"""Marshmallow schemas of the staff catalog API: query args, bodies in, resources out.

Output schemas list every field a client sees. Money is a decimal string beside
`currency`; times are ISO 8601 in UTC. Bodies load into the service inputs
(`ProductInput`, `VariantInput`, `PriceAdjustment`, `ProductFilter`).
"""

from __future__ import annotations

from typing import ClassVar

import marshmallow as ma
from marshmallow import validate

from app.blueprints.catalog.inputs import (
    AttributeInput,
    ImageInput,
    PriceAdjustment,
    VariantInput,
)
from app.blueprints.catalog.models import BACKORDER_POLICIES, PRICE_FIELDS, PRODUCT_STATUSES, TAX_CLASSES
from app.blueprints.catalog.pricing import MODES
from app.blueprints.catalog.queries import SORTS, ProductFilter
from app.core.money import CENT, MoneyField, MoneyInput, store_currency

MAX_DB_INT = 2**31 - 1


def currency(_obj) -> str:
    return store_currency()


def currency_field():
    return ma.fields.Function(currency, metadata={"description": "ISO 4217"})


def db_id(*, strict: bool = True, **kwargs) -> ma.fields.Integer:
    """An id; strict (JSON numbers only) in bodies, not in query strings where all is text."""
    return ma.fields.Integer(strict=strict, validate=validate.Range(min=1, max=MAX_DB_INT), **kwargs)


def text(max_length: int, **kwargs) -> ma.fields.String:
    return ma.fields.String(validate=validate.Length(max=max_length), **kwargs)


class DecimalString(ma.fields.Decimal):
    """A decimal as a JSON string ("12.5"); a JSON number is refused, since a client's JSON
    library may already have turned it into a binary float (0.1 + 0.2)."""

    default_error_messages: ClassVar[dict[str, str]] = {
        "not_string": 'Send a decimal string, like "19.90", not a JSON number.'
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("as_string", True)
        kwargs.setdefault("allow_nan", False)
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("not_string")
        return super()._deserialize(value, attr, data, **kwargs)


def money_in(**kwargs) -> MoneyInput:
    # The services refuse negatives with a field error.
    return MoneyInput(validate=validate.Range(min=-(10**10), max=10**10), **kwargs)


def drop_blank_query_args(data):
    """An empty query argument means "no filter", not "the empty string"."""
    return {
        key: value.strip() if isinstance(value, str) else value
        for key, value in data.items()
        if value is not None and (not isinstance(value, str) or value.strip())
    }


# ---- filters ------------------------------------------------------------------------------


class ProductFilterSchema(ma.Schema):
    """Filters and order of the product list; loads a `ProductFilter`."""

    class Meta:
        unknown = ma.EXCLUDE  # page and page_size belong to the pagination

    q = text(100, metadata={"description": "Part of the name, slug, SKU or barcode, any case"})
    status = ma.fields.String(validate=validate.OneOf(PRODUCT_STATUSES))
    category_id = db_id(strict=False, metadata={"description": "Includes its sub-categories"})
    brand_id = db_id(strict=False)
    min_price = MoneyInput(validate=validate.Range(min=0, max=10**10))
    max_price = MoneyInput(validate=validate.Range(min=0, max=10**10))
    sort = ma.fields.String(load_default="name", validate=validate.OneOf(SORTS))

    @ma.pre_load
    def drop_blanks(self, data, **_kwargs):
        return drop_blank_query_args(data) if isinstance(data, dict) else data

    @ma.post_load
    def to_filter(self, data, **_kwargs) -> ProductFilter:
        return ProductFilter(**data)


class AdjustmentSchema(ma.Schema):
    mode = ma.fields.String(
        required=True,
        validate=validate.OneOf(MODES),
        metadata={"description": "percent (+10 / -15), amount (added, may be negative), set (the new price)"},
    )
    value = DecimalString(
        required=True,
        metadata={
            "description": 'A decimal string ("-15", "2.50"); an amount or price has at most two decimals'
        },
    )
    field = ma.fields.String(load_default="price", validate=validate.OneOf(PRICE_FIELDS))
    reason = text(200, load_default="")

    @ma.validates_schema
    def money_has_cents_at_most(self, data, **_kwargs):
        # An amount or a price with a third decimal is a typo, not something to round.
        value = data.get("value")
        if (
            data.get("mode") in ("amount", "set")
            and value is not None
            and value.is_finite()
            and value != value.quantize(CENT)
        ):
            raise ma.ValidationError("At most two decimals.", "value")

    @ma.post_load
    def to_input(self, data, **_kwargs) -> PriceAdjustment:
        return PriceAdjustment(**data)


class BulkPriceChangeSchema(ma.Schema):
    filter = ma.fields.Nested(ProductFilterSchema, load_default=lambda: ProductFilter())
    adjustment = ma.fields.Nested(AdjustmentSchema, required=True)


class BulkPriceApplySchema(BulkPriceChangeSchema):
    expected_count = ma.fields.Integer(
        strict=True,
        validate=validate.Range(min=0),
        metadata={
            "description": "The preview's `count`. When given and the filter now matches another "
            "number of variants, the change is refused (409 preview_out_of_date) and nothing changes."
        },
    )


class PricePreviewArgsSchema(BulkPriceChangeSchema):
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))


# ---- bodies in ---------------------------------------------------------------------------


class ImageInSchema(ma.Schema):
    url = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))
    alt_text = text(300, load_default="")

    @ma.post_load
    def to_input(self, data, **_kwargs):
        return ImageInput(**data)


class AttributeInSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    value = ma.fields.String(required=True, validate=validate.Length(min=1, max=500))

    @ma.post_load
    def to_input(self, data, **_kwargs):
        return AttributeInput(**data)


class OptionInSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=60))
    values = ma.fields.List(
        ma.fields.String(validate=validate.Length(min=1, max=100)),
        required=True,
        validate=validate.Length(min=1, max=100),
    )


def options_field(**kwargs):
    return ma.fields.List(
        ma.fields.Nested(OptionInSchema),
        validate=validate.Length(max=10),
        metadata={"description": "Option types in order, each with its values in order"},
        **kwargs,
    )


def as_option_dict(options: list[dict]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for option in options:
        # A repeated name would silently merge: keep it distinct so the service reports it.
        name = option["name"] if option["name"] not in result else f"{option['name']} "
        result[name] = option["values"]
    return result


class VariantFieldsSchema(ma.Schema):
    """A variant's own fields; partial on PATCH."""

    sku = ma.fields.String(validate=validate.Length(min=1, max=64))
    price = money_in()
    barcode = text(64, allow_none=True)
    compare_at_price = money_in(allow_none=True)
    cost_price = money_in(allow_none=True)
    weight_grams = ma.fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(min=0, max=MAX_DB_INT)
    )
    is_active = ma.fields.Boolean()
    low_stock_threshold = ma.fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(min=0, max=MAX_DB_INT)
    )
    backorder_policy = ma.fields.String(validate=validate.OneOf(BACKORDER_POLICIES))
    backorder_limit = ma.fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=0, max=MAX_DB_INT),
        metadata={"description": "With backorder_policy allow: at most this many; null for no limit"},
    )
    expected_restock_date = ma.fields.Date(allow_none=True, metadata={"description": "YYYY-MM-DD"})


class VariantCreateSchema(VariantFieldsSchema):
    sku = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    price = money_in(required=True)
    options = ma.fields.Dict(
        keys=ma.fields.String(validate=validate.Length(max=60)),
        values=ma.fields.String(validate=validate.Length(max=100)),
        load_default=dict,
        metadata={"description": "Option name -> value, one for each of the product's options"},
    )

    @ma.post_load
    def to_input(self, data, **_kwargs) -> VariantInput:
        return VariantInput(**data)


class VariantUpdateSchema(VariantFieldsSchema):
    reason = text(200, load_default="", metadata={"description": "Stored with any price change"})


class ProductFieldsSchema(ma.Schema):
    name = ma.fields.String(validate=validate.Length(min=1, max=200))
    slug = text(200, allow_none=True, metadata={"description": "Generated from the name when left out"})
    description = text(50_000, metadata={"description": "Markdown"})
    status = ma.fields.String(validate=validate.OneOf(PRODUCT_STATUSES))
    brand_id = db_id(allow_none=True)
    tax_class = ma.fields.String(validate=validate.OneOf(TAX_CLASSES))
    seo_title = text(200)
    seo_description = text(320)
    category_ids = ma.fields.List(ma.fields.Integer(strict=True), validate=validate.Length(max=50))
    images = ma.fields.List(ma.fields.Nested(ImageInSchema), validate=validate.Length(max=50))
    attributes = ma.fields.List(ma.fields.Nested(AttributeInSchema), validate=validate.Length(max=100))


class ProductCreateSchema(ProductFieldsSchema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    options = options_field(load_default=list)
    variants = ma.fields.List(
        ma.fields.Nested(VariantCreateSchema),
        required=True,
        validate=validate.Length(min=1, max=500),
        metadata={"description": "Exactly one (with no options) for a product without options"},
    )


class ProductUpdateSchema(ProductFieldsSchema):
    """A partial change: fields left out stay; categories, images and attributes, when
    given, replace the lists."""


class StatusSchema(ma.Schema):
    status = ma.fields.String(required=True, validate=validate.OneOf(PRODUCT_STATUSES))


class OptionsSchema(ma.Schema):
    options = options_field(required=True)


class GenerateVariantsSchema(ma.Schema):
    price = money_in(required=True)
    sku_prefix = text(40, allow_none=True, metadata={"description": "Defaults to the product slug"})


class CategoryCreateSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))
    parent_id = db_id(allow_none=True, load_default=None)
    slug = text(140, allow_none=True, load_default=None)
    description = text(20_000, load_default="")
    is_active = ma.fields.Boolean(load_default=True)


class CategoryUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=validate.Length(min=1, max=120))
    slug = text(140, metadata={"description": "Empty: generated again from the name"})
    description = text(20_000)
    is_active = ma.fields.Boolean()


class CategoryMoveSchema(ma.Schema):
    parent_id = db_id(required=True, allow_none=True, metadata={"description": "null: top level"})
    position = ma.fields.Integer(
        load_default=0, validate=validate.Range(min=0, max=100_000), metadata={"description": "0: first"}
    )


class BrandCreateSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))
    slug = text(140, allow_none=True, load_default=None)


class BrandUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=validate.Length(min=1, max=120))
    slug = text(140)
    is_active = ma.fields.Boolean()


# ---- resources out -----------------------------------------------------------------------


class BrandSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    slug = ma.fields.String()
    is_active = ma.fields.Boolean()


class BrandRefSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()


def option_map(variant) -> dict[str, str]:
    return dict(part.split("=", 1) for part in variant.option_key.split("|")) if variant.option_key else {}


class VariantSchema(ma.Schema):
    id = ma.fields.Integer()
    product_id = ma.fields.Integer()
    sku = ma.fields.String()
    barcode = ma.fields.String(allow_none=True)
    title = ma.fields.String(metadata={"description": "“Red / M”, or “Default”"})
    options = ma.fields.Function(option_map, metadata={"description": "Option name -> value"})
    price = MoneyField()
    compare_at_price = MoneyField(allow_none=True)
    cost_price = MoneyField(allow_none=True)
    currency = currency_field()
    weight_grams = ma.fields.Integer(allow_none=True)
    is_active = ma.fields.Boolean()
    position = ma.fields.Integer()
    low_stock_threshold = ma.fields.Integer(allow_none=True)
    backorder_policy = ma.fields.String()
    backorder_limit = ma.fields.Integer(allow_none=True)
    expected_restock_date = ma.fields.Date(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    updated_at = ma.fields.AwareDateTime()


class ProductSchema(ma.Schema):
    """A product as lists show it."""

    id = ma.fields.Integer()
    name = ma.fields.String()
    slug = ma.fields.String()
    status = ma.fields.String()
    brand = ma.fields.Nested(BrandRefSchema, allow_none=True)
    tax_class = ma.fields.String()
    min_price = MoneyField(allow_none=True, metadata={"description": "Lowest price of the active variants"})
    max_price = MoneyField(allow_none=True)
    currency = currency_field()
    published_at = ma.fields.AwareDateTime(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    updated_at = ma.fields.AwareDateTime()


class AdminImageSchema(ma.Schema):
    url = ma.fields.String()
    alt_text = ma.fields.String()


class AdminAttributeSchema(ma.Schema):
    name = ma.fields.String()
    value = ma.fields.String()


class AdminOptionSchema(ma.Schema):
    name = ma.fields.String()
    values = ma.fields.Function(lambda option: [value.value for value in option.values])


class ProductDetailSchema(ProductSchema):
    description = ma.fields.String()
    seo_title = ma.fields.String()
    seo_description = ma.fields.String()
    category_ids = ma.fields.Function(lambda product: [link.category_id for link in product.category_links])
    images = ma.fields.List(ma.fields.Nested(AdminImageSchema))
    attributes = ma.fields.List(ma.fields.Nested(AdminAttributeSchema))
    options = ma.fields.List(ma.fields.Nested(AdminOptionSchema))
    variants = ma.fields.List(ma.fields.Nested(VariantSchema))


class PriceChangeSchema(ma.Schema):
    id = ma.fields.Integer()
    variant_id = ma.fields.Integer()
    field = ma.fields.String()
    old_amount = MoneyField(allow_none=True)
    new_amount = MoneyField(allow_none=True)
    currency = currency_field()
    changed_by_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "The staff user; null: system"}
    )
    changed_at = ma.fields.AwareDateTime()
    reason = ma.fields.String()


class PricePreviewRowSchema(ma.Schema):
    variant_id = ma.fields.Integer()
    sku = ma.fields.String()
    product_name = ma.fields.String()
    old = MoneyField(allow_none=True)
    new = MoneyField(allow_none=True)
    error = ma.fields.String()


class PricePreviewSchema(ma.Schema):
    count = ma.fields.Integer(metadata={"description": "Variants whose amount would change"})
    invalid_count = ma.fields.Integer(metadata={"description": "Of those, how many would be invalid"})
    rows = ma.fields.List(ma.fields.Nested(PricePreviewRowSchema))
    errors = ma.fields.List(ma.fields.Nested(PricePreviewRowSchema))
    currency = currency_field()


class BulkPriceResultSchema(ma.Schema):
    changed = ma.fields.Integer(metadata={"description": "Variants whose amount changed"})


class CategorySchema(ma.Schema):
    id = ma.fields.Integer()
    parent_id = ma.fields.Integer(allow_none=True)
    name = ma.fields.String()
    slug = ma.fields.String()
    description = ma.fields.String()
    position = ma.fields.Integer()
    is_active = ma.fields.Boolean()
    path = ma.fields.String(metadata={"description": "Ancestor ids and its own: /3/17/42/"})
    depth = ma.fields.Integer()


class AdminCategoryNodeSchema(CategorySchema):
    """A category with its sub-categories (the tree)."""

    children = ma.fields.List(ma.fields.Nested(lambda: AdminCategoryNodeSchema))


def node_as_dict(node) -> dict:
    data = {name: getattr(node.category, name) for name in CategorySchema._declared_fields}
    data["children"] = [node_as_dict(child) for child in node.children]
    return data
