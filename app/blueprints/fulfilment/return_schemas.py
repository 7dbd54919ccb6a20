"""Marshmallow schemas of returns: the request body (customers and staff), what can be
returned, a return as its customer sees it and as staff see it, the queue's filters and
the bodies of the staff actions.

Bodies reject unknown fields (marshmallow's default). Errors of the returns service name
order lines by id (`lines.<order_line_id>`); errors of the body's shape name them by
their place in the list (`lines.<index>.quantity`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import marshmallow as ma
from marshmallow import ValidationError, validate, validates_schema

from app.blueprints.fulfilment.models import RETURN_REASONS, RETURN_STATUSES
from app.blueprints.fulfilment.return_queries import ReturnableLine, ReturnFilters
from app.blueprints.fulfilment.returns import MAX_NOTE, MAX_WRITE_OFF_REASON, available_actions
from app.core.money import MoneyField
from app.core.query_args import cleaned_query_args

MAX_DB_INT = 2**31 - 1
MAX_LINES = 100
MAX_UNITS = 100_000
DAYS = validate.Range(min=date(1900, 1, 1), max=date(9999, 12, 30))
REASONS_TEXT = ", ".join(RETURN_REASONS)


def _line_id(**kwargs) -> ma.fields.Integer:
    return ma.fields.Integer(strict=True, validate=validate.Range(1, MAX_DB_INT), **kwargs)


def _units(**kwargs) -> ma.fields.Integer:
    return ma.fields.Integer(strict=True, validate=validate.Range(0, MAX_UNITS), **kwargs)


def _no_line_twice(lines: list[dict]) -> None:
    seen: set[int] = set()
    for index, line in enumerate(lines):
        if line["order_line_id"] in seen:
            raise ValidationError({"lines": {index: {"order_line_id": ["This line is listed twice."]}}})
        seen.add(line["order_line_id"])


# ---- asking for a return -----------------------------------------------------------------


class ReturnRequestLineInputSchema(ma.Schema):
    order_line_id = _line_id(required=True, metadata={"description": "The `id` of a line of the order"})
    quantity = ma.fields.Integer(
        strict=True, required=True, validate=validate.Range(1, MAX_UNITS), metadata={"description": "Units"}
    )


class ReturnRequestInputSchema(ma.Schema):
    class Meta:
        description = (
            "Delivered units to send back, with the reason. Within the return window only, and "
            "never more per line than delivered less what the order's other returns hold "
            "(`GET .../returnable` tells)."
        )

    lines = ma.fields.List(
        ma.fields.Nested(ReturnRequestLineInputSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_LINES),
    )
    reason = ma.fields.String(
        required=True,
        validate=validate.OneOf(RETURN_REASONS),
        metadata={"description": f"One of: {REASONS_TEXT}"},
    )
    note = ma.fields.String(
        load_default="", validate=validate.Length(max=MAX_NOTE), metadata={"description": "In your own words"}
    )

    @validates_schema
    def each_line_once(self, data, **_kwargs):
        _no_line_twice(data.get("lines") or [])

    @ma.post_load
    def units_by_line(self, data, **_kwargs):
        data["lines"] = {line["order_line_id"]: line["quantity"] for line in data["lines"]}
        return data


# ---- what can be returned ------------------------------------------------------------------


class ReturnableLineSchema(ma.Schema):
    order_line_id = ma.fields.Integer()
    sku = ma.fields.String(attribute="line.sku")
    product_name = ma.fields.String(attribute="line.name")
    variant_title = ma.fields.String(attribute="line.title")
    quantity = ma.fields.Integer(attribute="line.quantity", metadata={"description": "Units ordered"})
    delivered = ma.fields.Integer(metadata={"description": "Units delivered"})
    in_returns = ma.fields.Integer(metadata={"description": "Units in the order's returns (not rejected)"})
    returnable = ma.fields.Integer(metadata={"description": "Delivered units not in a return yet"})
    delivered_at = ma.fields.AwareDateTime(allow_none=True)
    window_closes_at = ma.fields.AwareDateTime(allow_none=True)
    window_open = ma.fields.Boolean()
    can_return = ma.fields.Boolean(metadata={"description": "returnable > 0 and the window is open"})


@dataclass(frozen=True)
class ReturnableView:
    order_number: str
    window_days: int
    lines: list[ReturnableLine]

    @property
    def can_return(self) -> bool:
        return any(line.can_return for line in self.lines)

    @property
    def reasons(self) -> tuple[str, ...]:
        return RETURN_REASONS


class ReturnableSchema(ma.Schema):
    class Meta:
        description = "What each line of the order allows to be returned now, for the return form."

    order_number = ma.fields.String()
    window_days = ma.fields.Integer(metadata={"description": "Days after delivery a return may be asked for"})
    can_return = ma.fields.Boolean(metadata={"description": "Whether any line can be returned now"})
    reasons = ma.fields.List(ma.fields.String(), metadata={"description": "The reasons a return may give"})
    lines = ma.fields.List(ma.fields.Nested(ReturnableLineSchema))


# ---- a return ------------------------------------------------------------------------------


class ReturnItemSchema(ma.Schema):
    order_line_id = ma.fields.Integer()
    sku = ma.fields.String()
    product_name = ma.fields.String(attribute="name")
    variant_title = ma.fields.String(attribute="title")
    quantity = ma.fields.Integer(metadata={"description": "Units returned"})


class CustomerReturnSchema(ma.Schema):
    class Meta:
        description = (
            "A return as its customer sees it. Status: requested -> approved / rejected -> "
            "received -> refunded / closed."
        )

    number = ma.fields.String(metadata={"example": "R100042-1"})
    order_number = ma.fields.String()
    status = ma.fields.String(metadata={"description": ", ".join(RETURN_STATUSES)})
    reason = ma.fields.String(metadata={"description": REASONS_TEXT})
    note = ma.fields.String(attribute="customer_note")
    lines = ma.fields.List(ma.fields.Nested(ReturnItemSchema))
    rejection_reason = ma.fields.String(allow_none=True, metadata={"description": "Why, when rejected"})
    refunded_amount = MoneyField()
    currency = ma.fields.String()
    requested_at = ma.fields.AwareDateTime()
    decided_at = ma.fields.AwareDateTime(allow_none=True, metadata={"description": "Approved or rejected"})
    received_at = ma.fields.AwareDateTime(allow_none=True)
    closed_at = ma.fields.AwareDateTime(
        allow_none=True, metadata={"description": "Rejected, refunded or closed"}
    )


class StaffReturnItemSchema(ReturnItemSchema):
    restocked_quantity = ma.fields.Integer()
    written_off_quantity = ma.fields.Integer()
    write_off_reason = ma.fields.String()


class StaffReturnSchema(CustomerReturnSchema):
    class Meta:
        description = (
            "A return as staff see it: the customer's view, the staff note (why rejected or "
            "closed, or what staff wrote when opening it), the inspection of each line and "
            "the actions its state allows."
        )

    id = ma.fields.Integer()
    customer_id = ma.fields.Integer(allow_none=True, metadata={"description": "null: a guest order"})
    email = ma.fields.String(metadata={"description": "The order's email"})
    staff_note = ma.fields.String()
    opened_by_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "The staff user who opened it"}
    )
    restock_location_id = ma.fields.Integer(allow_none=True)
    lines = ma.fields.List(ma.fields.Nested(StaffReturnItemSchema))
    available_actions = ma.fields.Function(
        lambda details: available_actions(details.ret),
        metadata={
            "type": "array",
            "items": {"type": "string"},
            "description": "approve, reject, receive, close, refund: what its state allows now "
            "(the caller's permissions aside; refunds are made with orders.refund)",
        },
    )


# ---- the queue -----------------------------------------------------------------------------


class ReturnFilterSchema(ma.Schema):
    """Filters of the staff returns list; loads `ReturnFilters`."""

    class Meta:
        unknown = ma.EXCLUDE  # page and page_size belong to the pagination

    q = ma.fields.String(
        validate=validate.Length(max=254),
        metadata={"description": "A return number, an order number (exact) or the start of the email"},
    )
    status = ma.fields.List(
        ma.fields.String(validate=validate.OneOf(RETURN_STATUSES)),
        validate=validate.Length(max=len(RETURN_STATUSES)),
        metadata={"description": "Repeat (or separate by commas) for several; none: any status"},
    )
    reason = ma.fields.String(validate=validate.OneOf(RETURN_REASONS))
    requested_from = ma.fields.Date(validate=DAYS, metadata={"description": "First day (UTC), inclusive"})
    requested_to = ma.fields.Date(validate=DAYS, metadata={"description": "Last day (UTC), inclusive"})
    customer_id = ma.fields.Integer(validate=validate.Range(1, MAX_DB_INT))

    @ma.pre_load
    def drop_blanks_and_split_statuses(self, data, **_kwargs):
        # An empty argument means "no filter"; "status=a,b" is two statuses.
        return cleaned_query_args(data, ("status",))

    @validates_schema
    def days_in_order(self, data, **_kwargs):
        if (
            data.get("requested_from")
            and data.get("requested_to")
            and data["requested_from"] > data["requested_to"]
        ):
            raise ValidationError({"requested_to": ["Must not be before requested_from."]})

    @ma.post_load
    def to_filters(self, data, **_kwargs) -> ReturnFilters:
        if "status" in data:
            data["status"] = tuple(dict.fromkeys(data["status"]))
        return ReturnFilters(**data)


# ---- staff actions -------------------------------------------------------------------------


class ReturnApproveSchema(ma.Schema):
    note = ma.fields.String(load_default="", validate=validate.Length(max=MAX_NOTE))


class ReturnRejectSchema(ma.Schema):
    reason = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_NOTE),
        metadata={"description": "Why (mailed to the customer)"},
    )


class ReturnCloseSchema(ma.Schema):
    note = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_NOTE),
        metadata={"description": "Why it ends without a refund (internal)"},
    )


class ReturnInspectionLineSchema(ma.Schema):
    order_line_id = _line_id(required=True)
    restock_quantity = _units(load_default=0)
    write_off_quantity = _units(load_default=0)
    write_off_reason = ma.fields.String(
        load_default="",
        validate=validate.Length(max=MAX_WRITE_OFF_REASON),
        metadata={"description": "Required when writing off"},
    )


class ReturnReceiveSchema(ma.Schema):
    class Meta:
        description = (
            "The goods are back: for every line of the return, how many units go back on the "
            "shelf and how many are written off (with why); they add up to the units returned. "
            "`location_id` (a stock location) is required when anything is restocked."
        )

    location_id = ma.fields.Integer(
        strict=True, allow_none=True, load_default=None, validate=validate.Range(1, MAX_DB_INT)
    )
    lines = ma.fields.List(
        ma.fields.Nested(ReturnInspectionLineSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_LINES),
    )

    @validates_schema
    def each_line_once(self, data, **_kwargs):
        _no_line_twice(data.get("lines") or [])

    @ma.post_load
    def inspections(self, data, **_kwargs):
        data["inspections"] = {
            line["order_line_id"]: (
                line["restock_quantity"],
                line["write_off_quantity"],
                line["write_off_reason"],
            )
            for line in data.pop("lines")
        }
        return data


class ReturnTokenQuerySchema(ma.Schema):
    token = ma.fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={
            "description": "The order's tracking token (guests, from the order mails); "
            "not needed with a customer token"
        },
    )
