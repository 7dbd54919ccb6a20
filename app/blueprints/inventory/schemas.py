"""Marshmallow schemas of the staff inventory API: query args, bodies in, resources out.

Variants are named by SKU and locations by code in bodies and filters (what integrations
and warehouse people know); responses carry the ids too. Money is a decimal string beside
`currency`; times are ISO 8601 in UTC.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.blueprints.inventory.models import (
    ALERT_STATUSES,
    BACKORDER_STATUSES,
    LOCATION_KINDS,
    MOVEMENT_KINDS,
)
from app.blueprints.inventory.queries import STOCK_SORTS
from app.core.money import MoneyField, MoneyInput, store_currency

MAX_DB_INT = 2**31 - 1
MAX_DB_BIGINT = 2**63 - 1  # movement ids are bigint
MAX_UNITS = 1_000_000


def text(max_length: int, **kwargs) -> ma.fields.String:
    return ma.fields.String(validate=validate.Length(max=max_length), **kwargs)


def sku_field(**kwargs) -> ma.fields.String:
    return ma.fields.String(required=True, validate=validate.Length(min=1, max=64), **kwargs)


def location_code(**kwargs) -> ma.fields.String:
    kwargs.setdefault("metadata", {"description": "Location code, e.g. WH1"})
    return ma.fields.String(validate=validate.Length(min=1, max=32), **kwargs)


def units(minimum: int = 1, **kwargs) -> ma.fields.Integer:
    return ma.fields.Integer(strict=True, validate=validate.Range(min=minimum, max=MAX_UNITS), **kwargs)


class FilterArgs(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE  # page and page_size belong to the pagination

    @ma.pre_load
    def drop_blanks(self, data, **_kwargs):
        # An empty query argument means "no filter", not "the empty string".
        return {
            key: value for key, value in data.items() if not (isinstance(value, str) and not value.strip())
        }


# ---- locations ------------------------------------------------------------------------------


class LocationSchema(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String()
    address = ma.fields.String()
    is_active = ma.fields.Boolean()
    fulfils_orders = ma.fields.Boolean(
        metadata={"description": "Online orders are served from active fulfilling locations, by position"}
    )
    position = ma.fields.Integer()
    low_stock_threshold = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "Default threshold of its variants; null: the app's default"},
    )
    created_at = ma.fields.AwareDateTime()


class LocationUpdateSchema(ma.Schema):
    code = ma.fields.String(validate=validate.Length(min=1, max=32))
    name = ma.fields.String(validate=validate.Length(min=1, max=120))
    kind = ma.fields.String(validate=validate.OneOf(LOCATION_KINDS))
    address = text(2000)
    is_active = ma.fields.Boolean()
    fulfils_orders = ma.fields.Boolean()
    position = ma.fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_DB_INT))
    low_stock_threshold = ma.fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(min=0, max=MAX_UNITS)
    )


class LocationCreateSchema(LocationUpdateSchema):
    code = ma.fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))


# ---- stock ----------------------------------------------------------------------------------


class StockArgs(FilterArgs):
    location = location_code()
    low_stock = ma.fields.Boolean(
        load_default=False, metadata={"description": "Only levels at or below threshold"}
    )
    q = text(100, metadata={"description": "Part of the SKU or product name, case-insensitive"})
    sort = ma.fields.String(load_default="product", validate=validate.OneOf(STOCK_SORTS))


class StockLevelSchema(ma.Schema):
    variant_id = ma.fields.Integer()
    sku = ma.fields.String()
    product_id = ma.fields.Integer()
    product_name = ma.fields.String()
    variant_title = ma.fields.String()
    location_id = ma.fields.Integer()
    location_code = ma.fields.String()
    on_hand = ma.fields.Integer()
    reserved = ma.fields.Integer(metadata={"description": "Allocated to orders not yet shipped"})
    available = ma.fields.Integer(metadata={"description": "on_hand - reserved"})
    threshold = ma.fields.Integer(metadata={"description": "Low-stock threshold in force"})
    is_low = ma.fields.Boolean()
    updated_at = ma.fields.AwareDateTime()


class StockAvailabilitySchema(ma.Schema):
    state = ma.fields.String(metadata={"description": "in_stock, backorder or out_of_stock"})
    available = ma.fields.Integer(metadata={"description": "Units that can ship now (online)"})
    backorderable = ma.fields.Integer(
        allow_none=True, metadata={"description": "More units that may be backordered; null: no limit"}
    )
    expected_restock_date = ma.fields.Date(allow_none=True)


class VariantStockSchema(ma.Schema):
    variant_id = ma.fields.Integer()
    sku = ma.fields.String()
    availability = ma.fields.Nested(StockAvailabilitySchema)
    levels = ma.fields.List(ma.fields.Nested(StockLevelSchema))


class StockAdjustmentSchema(ma.Schema):
    sku = sku_field()
    location = location_code(required=True)
    delta = ma.fields.Integer(
        required=True,
        strict=True,
        validate=[
            validate.Range(min=-MAX_UNITS, max=MAX_UNITS),
            validate.NoneOf([0], error="Must not be 0."),
        ],
        metadata={"description": "Units added (positive) or taken away (negative)"},
    )
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=300))
    reference = text(100, load_default="")


class StockCountSchema(ma.Schema):
    sku = sku_field()
    location = location_code(required=True)
    counted = units(0, required=True, metadata={"description": "Units found on the shelf"})
    reason = text(300, load_default="")


class StockTransferSchema(ma.Schema):
    sku = sku_field()
    from_location = location_code(required=True)
    to_location = location_code(required=True)
    quantity = units(required=True)
    reason = text(300, load_default="")


class MovementSchema(ma.Schema):
    id = ma.fields.Integer()
    variant_id = ma.fields.Integer()
    sku = ma.fields.String()
    location_id = ma.fields.Integer()
    location_code = ma.fields.String()
    kind = ma.fields.String(metadata={"description": ", ".join(MOVEMENT_KINDS)})
    on_hand_delta = ma.fields.Integer()
    reserved_delta = ma.fields.Integer()
    reason = ma.fields.String()
    reference = ma.fields.String(
        metadata={"description": "What caused it: order:1042, receipt:7, transfer:..."}
    )
    actor_id = ma.fields.Integer(allow_none=True)
    actor_email = ma.fields.String(allow_none=True)
    created_at = ma.fields.AwareDateTime()


class TransferResultSchema(ma.Schema):
    reference = ma.fields.String()
    movements = ma.fields.List(ma.fields.Nested(MovementSchema))


class MovementArgs(FilterArgs):
    sku = text(64)
    location = location_code()
    kind = ma.fields.String(validate=validate.OneOf(MOVEMENT_KINDS))
    reference = text(100)
    before_id = ma.fields.Integer(
        validate=validate.Range(min=1, max=MAX_DB_BIGINT),
        metadata={"description": "`next_before_id` of the previous batch"},
    )
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class MovementFeedSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(MovementSchema))
    next_before_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "null at the start of the ledger"}
    )


# ---- receipts -------------------------------------------------------------------------------


class ReceiptLineInSchema(ma.Schema):
    sku = sku_field()
    quantity = units(required=True)
    unit_cost = MoneyInput(allow_none=True, load_default=None, validate=validate.Range(min=0))


class ReceiptHeaderFields(ma.Schema):
    supplier = text(200, load_default="")
    supplier_reference = text(100, load_default="")
    note = text(5000, load_default="")


class ReceiptCreateSchema(ReceiptHeaderFields):
    location = location_code(required=True)
    lines = ma.fields.List(
        ma.fields.Nested(ReceiptLineInSchema), required=True, validate=validate.Length(min=1, max=10_000)
    )


class ReceiptCsvSchema(ReceiptHeaderFields):
    location = location_code(required=True)
    csv = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=2_000_000),
        metadata={
            "description": "The CSV file's text: a header row with sku and quantity (unit_cost optional)",
            "example": "sku,quantity,unit_cost\nTEE-RED-M,24,4.10\n",
        },
    )


class ReceiptLineSchema(ma.Schema):
    id = ma.fields.Integer()
    variant_id = ma.fields.Integer()
    sku = ma.fields.String()
    quantity = ma.fields.Integer()
    unit_cost = MoneyField(allow_none=True)


class ReceiptSchema(ma.Schema):
    id = ma.fields.Integer()
    location_id = ma.fields.Integer()
    location_code = ma.fields.String()
    supplier = ma.fields.String()
    supplier_reference = ma.fields.String()
    note = ma.fields.String()
    received_by_id = ma.fields.Integer(allow_none=True)
    received_at = ma.fields.AwareDateTime()
    units = ma.fields.Integer(metadata={"description": "Units received, all lines together"})
    currency = ma.fields.Function(lambda _receipt: store_currency(), metadata={"description": "ISO 4217"})
    lines = ma.fields.List(ma.fields.Nested(ReceiptLineSchema))


class ReceiptArgs(FilterArgs):
    location = location_code()
    supplier_reference = text(100)


# ---- alerts and backorders ------------------------------------------------------------------


class AlertArgs(FilterArgs):
    status = ma.fields.String(load_default="open", validate=validate.OneOf((*ALERT_STATUSES, "all")))
    location = location_code()


class AlertSchema(ma.Schema):
    id = ma.fields.Integer()
    variant_id = ma.fields.Integer()
    sku = ma.fields.String()
    product_name = ma.fields.String()
    location_id = ma.fields.Integer()
    location_code = ma.fields.String()
    threshold = ma.fields.Integer()
    available_at_raise = ma.fields.Integer()
    available = ma.fields.Integer(metadata={"description": "Available now"})
    status = ma.fields.String()
    raised_at = ma.fields.AwareDateTime()
    resolved_at = ma.fields.AwareDateTime(allow_none=True)
    emailed_at = ma.fields.AwareDateTime(allow_none=True)


class SubscriptionSchema(ma.Schema):
    subscribed = ma.fields.Boolean(
        metadata={"description": "Whether the token's user gets low-stock alert emails"}
    )


class BackorderArgs(FilterArgs):
    status = ma.fields.String(validate=validate.OneOf(BACKORDER_STATUSES))
    sku = text(64)
    reference = text(100)


class BackorderSchema(ma.Schema):
    id = ma.fields.Integer()
    variant_id = ma.fields.Integer()
    sku = ma.fields.String()
    quantity = ma.fields.Integer()
    status = ma.fields.String()
    reference = ma.fields.String()
    customer_id = ma.fields.Integer(allow_none=True)
    location_id = ma.fields.Integer(allow_none=True, metadata={"description": "Where it was allocated"})
    created_at = ma.fields.AwareDateTime()
    allocated_at = ma.fields.AwareDateTime(allow_none=True)


class BackorderCancelSchema(ma.Schema):
    reason = text(300, load_default="")
