"""Marshmallow schemas of the staff shipments API: the body of a new shipment, the list's
filters, a shipment (with its lines, and for one shipment its tracking events) and what an
order has left to ship.

Bodies reject unknown fields (marshmallow's default, RAISE); integers are strict (a
string "2" is a 422, not a guess).
"""

from __future__ import annotations

from datetime import date

import marshmallow as ma
from marshmallow import ValidationError, validate, validates_schema

from app.blueprints.fulfilment.models import TRACKING_STATUSES
from app.blueprints.fulfilment.shipment_queries import ShipmentFilters
from app.blueprints.fulfilment.shipments import MAX_PACKAGES, MAX_WEIGHT_GRAMS, TEXT_LIMITS
from app.blueprints.fulfilment.tracking_schemas import TrackingEventSchema
from app.core.money import MoneyField
from app.core.query_args import cleaned_query_args

MAX_DB_INT = 2**31 - 1
DAYS = validate.Range(min=date(1900, 1, 1), max=date(9999, 12, 30))


def text(max_length: int, **kwargs) -> ma.fields.String:
    return ma.fields.String(validate=validate.Length(max=max_length), **kwargs)


# ---- a new shipment --------------------------------------------------------------------------


class ShipmentLineInSchema(ma.Schema):
    order_line_id = ma.fields.Integer(strict=True, required=True, validate=validate.Range(1, MAX_DB_INT))
    quantity = ma.fields.Integer(
        strict=True, required=True, validate=validate.Range(1, MAX_DB_INT), metadata={"description": "Units"}
    )


class ShipmentCreateSchema(ma.Schema):
    class Meta:
        description = (
            "Units of the order leaving one stock location. Without `lines`, everything reserved "
            "for the order at the location ships. With a provider that makes labels (parcelhub) "
            "the carrier, service, tracking number and URL come from the label."
        )

    location_id = ma.fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(1, MAX_DB_INT),
        metadata={"description": "Ship from"},
    )
    lines = ma.fields.List(
        ma.fields.Nested(ShipmentLineInSchema),
        validate=validate.Length(min=1, max=500),
        metadata={"description": "Units per order line (default: all reserved at the location)"},
    )
    provider = ma.fields.String(
        load_default="manual",
        validate=validate.Length(min=1, max=30),
        metadata={"description": "A provider code: manual (default), parcelhub"},
    )
    carrier = text(TEXT_LIMITS["carrier"], load_default="", metadata={"example": "PostNL"})
    service = text(TEXT_LIMITS["service"], load_default="", metadata={"example": "Standard"})
    tracking_number = text(
        TEXT_LIMITS["tracking_number"], load_default="", metadata={"example": "3SABCD1234567"}
    )
    tracking_url = text(TEXT_LIMITS["tracking_url"], load_default="", metadata={"format": "uri"})
    packages = ma.fields.Integer(
        strict=True,
        load_default=1,
        validate=validate.Range(1, MAX_PACKAGES),
        metadata={"description": "Parcels"},
    )
    weight_grams = ma.fields.Integer(
        strict=True,
        allow_none=True,
        load_default=None,
        validate=validate.Range(0, MAX_WEIGHT_GRAMS),
        metadata={"description": "Default: the weight of the units shipped"},
    )

    @validates_schema
    def one_entry_per_line(self, data, **_kwargs):
        seen = set()
        for index, line in enumerate(data.get("lines") or []):
            if line["order_line_id"] in seen:
                raise ValidationError({"lines": {index: {"order_line_id": ["Listed twice."]}}})
            seen.add(line["order_line_id"])


# ---- the list --------------------------------------------------------------------------------


class ShipmentFilterSchema(ma.Schema):
    """Filters of the shipments list; loads a `ShipmentFilters`."""

    class Meta:
        unknown = ma.EXCLUDE  # page and page_size belong to the pagination

    q = text(100, metadata={"description": "A shipment number, order number or tracking number (exact)"})
    status = ma.fields.List(
        ma.fields.String(validate=validate.OneOf(TRACKING_STATUSES)),
        validate=validate.Length(max=len(TRACKING_STATUSES)),
        metadata={"description": "Tracking status; repeat the parameter (or separate by commas) for several"},
    )
    provider = text(30, metadata={"description": "A provider code"})
    carrier = text(TEXT_LIMITS["carrier"], metadata={"description": "Carrier name (any case)"})
    created_from = ma.fields.Date(validate=DAYS, metadata={"description": "First day (UTC), inclusive"})
    created_to = ma.fields.Date(validate=DAYS, metadata={"description": "Last day (UTC), inclusive"})

    @ma.pre_load
    def drop_blanks_and_split_lists(self, data, **_kwargs):
        # An empty argument means "no filter"; "status=a,b" is two statuses.
        return cleaned_query_args(data, ("status",))

    @validates_schema
    def days_in_order(self, data, **_kwargs):
        if data.get("created_from") and data.get("created_to") and data["created_from"] > data["created_to"]:
            raise ValidationError({"created_to": ["Must not be before created_from."]})

    @ma.post_load
    def to_filters(self, data, **_kwargs) -> ShipmentFilters:
        if "status" in data:
            data["status"] = tuple(dict.fromkeys(data["status"]))
        return ShipmentFilters(**data)


# ---- out -------------------------------------------------------------------------------------


class LocationSummarySchema(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()


class ShipmentLineSchema(ma.Schema):
    order_line_id = ma.fields.Integer()
    sku = ma.fields.String()
    name = ma.fields.String()
    title = ma.fields.String()
    quantity = ma.fields.Integer()


class ShipmentSchema(ma.Schema):
    class Meta:
        description = "Units of an order that left one stock location in one or more parcels."

    id = ma.fields.Integer()
    number = ma.fields.String(metadata={"example": "100042-1"})
    order_number = ma.fields.String()
    sequence = ma.fields.Integer()
    location = ma.fields.Nested(LocationSummarySchema, allow_none=True)
    provider = ma.fields.String()
    carrier = ma.fields.String()
    service = ma.fields.String()
    tracking_number = ma.fields.String()
    tracking_url = ma.fields.String()
    provider_reference = ma.fields.String()
    label_url = ma.fields.String()
    packages = ma.fields.Integer()
    weight_grams = ma.fields.Integer()
    status = ma.fields.String(metadata={"description": ", ".join(TRACKING_STATUSES)})
    estimated_delivery = ma.fields.Date(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    delivered_at = ma.fields.AwareDateTime(allow_none=True)
    lines = ma.fields.List(ma.fields.Nested(ShipmentLineSchema))


class ShipmentDetailSchema(ShipmentSchema):
    class Meta:
        description = "A shipment with its tracking events, newest first."

    tracking_events = ma.fields.List(ma.fields.Nested(TrackingEventSchema))


class ReservedAtSchema(ma.Schema):
    location_id = ma.fields.Integer()
    quantity = ma.fields.Integer()


class ShippableLineSchema(ma.Schema):
    order_line_id = ma.fields.Integer(attribute="line.id")
    sku = ma.fields.String(attribute="line.sku")
    name = ma.fields.String(attribute="line.name")
    ordered = ma.fields.Integer()
    shipped = ma.fields.Integer()
    to_ship = ma.fields.Integer(metadata={"description": "Ordered less shipped"})
    reserved = ma.fields.List(
        ma.fields.Nested(ReservedAtSchema),
        attribute="reserved_list",
        metadata={"description": "Units reserved for the order, per stock location"},
    )


class ShippableSchema(ma.Schema):
    class Meta:
        description = "What the order has left to ship, and where its units are reserved."

    order_number = ma.fields.String()
    can_ship = ma.fields.Boolean(
        metadata={"description": "The order's state allows shipping and units are reserved"}
    )
    lines = ma.fields.List(ma.fields.Nested(ShippableLineSchema))


class RatesQuerySchema(ma.Schema):
    """Which provider to ask, and what leaves from where."""

    provider = ma.fields.String(required=True, validate=validate.Length(max=30))
    location_id = ma.fields.Integer(required=True, validate=validate.Range(1, MAX_DB_INT))
    packages = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PACKAGES))
    weight_grams = ma.fields.Integer(
        validate=validate.Range(min=0, max=MAX_WEIGHT_GRAMS),
        metadata={"description": "Default: the weight of the order's lines"},
    )


class RateSchema(ma.Schema):
    class Meta:
        description = (
            "One carrier's price for the parcels; `rate_id` can be sent as the shipment's `service`."
        )

    carrier = ma.fields.String()
    service = ma.fields.String()
    amount = MoneyField()
    currency = ma.fields.String()
    estimated_days = ma.fields.Integer(allow_none=True)
    rate_id = ma.fields.String()
