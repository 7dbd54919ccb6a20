"""Marshmallow schemas of the shipping and tax settings API (/api/v1/admin).

Bodies are checked for shape here; the rules (known countries, one zone per destination,
prices not negative, bands once per weight, rates from 0 up to 100 %) are the services',
which answer with field errors named like the body's fields ("countries.1.country",
"bands.0.price", "percent"). Money is a decimal string beside `currency`; tax rates go
in as a percentage and come out as both the percentage and the stored fraction.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.blueprints.catalog.models import TAX_CLASSES
from app.blueprints.catalog.schemas import currency_field, money_in, text
from app.blueprints.orders.models import SHIPPING_RATE_KINDS
from app.blueprints.orders.shipping_methods import MAX_BANDS
from app.blueprints.orders.taxes import percent_of
from app.core.money import MoneyField

MAX_DB_INT = 2**31 - 1


def position_field(**kwargs) -> ma.fields.Integer:
    return ma.fields.Integer(strict=True, validate=validate.Range(min=0, max=100_000), **kwargs)


# ---- bodies in ---------------------------------------------------------------------------


class DestinationInSchema(ma.Schema):
    country = ma.fields.String(
        required=True, validate=validate.Length(max=64), metadata={"description": "ISO 3166-1 alpha-2"}
    )
    region = text(100, load_default="", metadata={"description": "Empty: the whole country"})


def destinations_field(**kwargs):
    return ma.fields.List(
        ma.fields.Nested(DestinationInSchema),
        validate=validate.Length(max=300),
        metadata={
            "description": "Replaces the zone's destinations; a region's entry wins over its country's"
        },
        **kwargs,
    )


class ZoneCreateSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))
    countries = destinations_field(load_default=list)
    position = position_field(load_default=None, allow_none=True, metadata={"description": "Default: last"})


class ZoneUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=validate.Length(min=1, max=120))
    countries = destinations_field()
    position = position_field()


class BandInSchema(ma.Schema):
    max_weight_grams = ma.fields.Integer(
        required=True, strict=True, validate=validate.Range(min=-MAX_DB_INT, max=MAX_DB_INT)
    )
    price = money_in(required=True)


class MethodFieldsSchema(ma.Schema):
    """A method's fields; partial on PATCH."""

    code = ma.fields.String(
        validate=validate.Length(min=1, max=40),
        metadata={"description": "What the storefront sends, e.g. “standard”; unique in its zone"},
    )
    name = ma.fields.String(validate=validate.Length(min=1, max=120))
    kind = ma.fields.String(
        validate=validate.OneOf(SHIPPING_RATE_KINDS),
        metadata={"description": "flat (flat_rate) or weight_band (bands)"},
    )
    flat_rate = money_in(allow_none=True, metadata={"description": "Needed by a flat method"})
    free_over = money_in(
        allow_none=True, metadata={"description": "Goods totals from this amount on ship free; null: never"}
    )
    bands = ma.fields.List(
        ma.fields.Nested(BandInSchema),
        validate=validate.Length(max=MAX_BANDS),
        metadata={
            "description": "Weight-band method: the first band whose maximum covers the parcel prices it"
        },
    )
    tax_class = ma.fields.String(validate=validate.OneOf(TAX_CLASSES))
    is_active = ma.fields.Boolean()
    position = position_field()


class MethodCreateSchema(MethodFieldsSchema):
    code = ma.fields.String(required=True, validate=validate.Length(min=1, max=40))
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))
    kind = ma.fields.String(load_default="flat", validate=validate.OneOf(SHIPPING_RATE_KINDS))
    bands = ma.fields.List(
        ma.fields.Nested(BandInSchema), load_default=list, validate=validate.Length(max=MAX_BANDS)
    )
    tax_class = ma.fields.String(load_default="standard", validate=validate.OneOf(TAX_CLASSES))
    is_active = ma.fields.Boolean(load_default=True)


class MethodUpdateSchema(MethodFieldsSchema):
    """A partial change; `bands`, when given, replaces them."""


def percent_field(**kwargs) -> ma.fields.Decimal:
    return ma.fields.Decimal(
        allow_nan=False,
        as_string=True,
        metadata={"description": "Percentage, e.g. “21” or “5.5” (from 0 up to 100, two decimals)"},
        **kwargs,
    )


class TaxRateFieldsSchema(ma.Schema):
    country = ma.fields.String(
        validate=validate.Length(min=1, max=64), metadata={"description": "ISO 3166-1"}
    )
    region = text(100, metadata={"description": "Empty: the whole country"})
    tax_class = ma.fields.String(validate=validate.OneOf(TAX_CLASSES))
    percent = percent_field()
    name = text(60, metadata={"description": "Shown on invoices; empty: “VAT <percent>%”"})


class TaxRateCreateSchema(TaxRateFieldsSchema):
    country = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    region = text(100, load_default="")
    tax_class = ma.fields.String(required=True, validate=validate.OneOf(TAX_CLASSES))
    percent = percent_field(required=True)
    name = text(60, load_default="")


class TaxRateUpdateSchema(TaxRateFieldsSchema):
    """A partial change."""


class TaxRateFilterSchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE  # page and page_size belong to the pagination

    country = ma.fields.String(validate=validate.Length(max=2))
    tax_class = ma.fields.String(validate=validate.OneOf(TAX_CLASSES))


# ---- resources out -----------------------------------------------------------------------


class DestinationSchema(ma.Schema):
    country = ma.fields.String()
    region = ma.fields.String(metadata={"description": "Empty: the whole country"})


class BandSchema(ma.Schema):
    max_weight_grams = ma.fields.Integer()
    price = MoneyField()


class MethodSchema(ma.Schema):
    id = ma.fields.Integer()
    zone_id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String()
    flat_rate = MoneyField(allow_none=True)
    free_over = MoneyField(allow_none=True)
    bands = ma.fields.List(ma.fields.Nested(BandSchema))
    currency = currency_field()
    tax_class = ma.fields.String()
    is_active = ma.fields.Boolean()
    position = ma.fields.Integer()


class ZoneSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    position = ma.fields.Integer()
    countries = ma.fields.List(ma.fields.Nested(DestinationSchema))
    methods = ma.fields.List(ma.fields.Nested(MethodSchema), metadata={"description": "By position"})
    created_at = ma.fields.AwareDateTime()


class TaxRateSchema(ma.Schema):
    id = ma.fields.Integer()
    country = ma.fields.String()
    region = ma.fields.String(metadata={"description": "Empty: the whole country"})
    tax_class = ma.fields.String()
    percent = ma.fields.Function(
        lambda rate: str(percent_of(rate.rate)), metadata={"description": "e.g. “21.00”"}
    )
    rate = ma.fields.Decimal(as_string=True, metadata={"description": "The fraction applied, e.g. “0.2100”"})
    name = ma.fields.String()
