"""Marshmallow schemas of the staff orders API (/api/v1/admin/orders): the list's filters,
an order as staff see it (payments with every attempt, the whole timeline with internal
notes, the invoice), phone orders and the bodies of the staff actions.

Bodies reject unknown fields (marshmallow's default, RAISE). Money goes in and out as
decimal strings beside `currency`; a JSON number for money is a 422 (`MoneyInput`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import marshmallow as ma
from marshmallow import ValidationError, validate, validates_schema

from app.blueprints.orders.carts import MAX_LINES, MAX_QUANTITY, MIN_QUANTITY
from app.blueprints.orders.invoice_models import Invoice
from app.blueprints.orders.lifecycle import MAX_NOTE
from app.blueprints.orders.order_models import CHANNELS, ORDER_STATUSES, PAYMENT_STATUSES, Order, OrderEvent
from app.blueprints.orders.order_queries import SORTS, OrderFilters
from app.blueprints.orders.order_schemas import OrderSchema
from app.blueprints.orders.payment_models import Payment
from app.blueprints.orders.phone_orders import PhoneOrder
from app.blueprints.orders.store_schemas import CartAddressSchema
from app.core.money import MoneyField, MoneyInput
from app.core.query_args import cleaned_query_args

MAX_DB_INT = 2**31 - 1
MAX_MONEY = 10**10
LIST_FILTERS = ("status", "payment_status")
# The last day is a day short of date.max: the filter reads "before the day after placed_to".
DAYS = validate.Range(min=date(1900, 1, 1), max=date(9999, 12, 30))


def text(max_length: int, **kwargs) -> ma.fields.String:
    return ma.fields.String(validate=validate.Length(max=max_length), **kwargs)


def one_of_list(values: tuple[str, ...], description: str) -> ma.fields.List:
    return ma.fields.List(
        ma.fields.String(validate=validate.OneOf(values)),
        validate=validate.Length(max=len(values)),
        metadata={"description": f"{description}; repeat the parameter (or separate by commas) for several"},
    )


# ---- the list ----------------------------------------------------------------------------


class OrderFilterSchema(ma.Schema):
    """Filters and order of the staff order list; loads an `OrderFilters`."""

    class Meta:
        unknown = ma.EXCLUDE  # page and page_size belong to the pagination

    q = text(100, metadata={"description": "An order number (exact) or the start of the customer's email"})
    status = one_of_list(ORDER_STATUSES, "Order status")
    payment_status = one_of_list(PAYMENT_STATUSES, "Payment status")
    customer_id = ma.fields.Integer(validate=validate.Range(min=1, max=MAX_DB_INT))
    placed_from = ma.fields.Date(
        validate=DAYS, metadata={"description": "First day (UTC), inclusive, YYYY-MM-DD"}
    )
    placed_to = ma.fields.Date(
        validate=DAYS, metadata={"description": "Last day (UTC), inclusive, YYYY-MM-DD"}
    )
    min_total = MoneyInput(validate=validate.Range(min=0, max=MAX_MONEY))
    max_total = MoneyInput(validate=validate.Range(min=0, max=MAX_MONEY))
    channel = ma.fields.String(validate=validate.OneOf(CHANNELS))
    sort = ma.fields.String(load_default="newest", validate=validate.OneOf(tuple(SORTS)))

    @ma.pre_load
    def drop_blanks_and_split_lists(self, data, **_kwargs):
        # An empty argument means "no filter"; "status=a,b" is two statuses.
        return cleaned_query_args(data, LIST_FILTERS)

    @validates_schema
    def ranges_are_in_order(self, data, **_kwargs):
        errors = {}
        if data.get("placed_from") and data.get("placed_to") and data["placed_from"] > data["placed_to"]:
            errors["placed_to"] = ["Must not be before placed_from."]
        low, high = data.get("min_total"), data.get("max_total")
        if low is not None and high is not None and low > high:
            errors["max_total"] = ["Must not be below min_total."]
        if errors:
            raise ValidationError(errors)

    @ma.post_load
    def to_filters(self, data, **_kwargs) -> OrderFilters:
        for key in LIST_FILTERS:
            if key in data:
                data[key] = tuple(dict.fromkeys(data[key]))
        return OrderFilters(**data)


class StaffOrderSummarySchema(ma.Schema):
    class Meta:
        description = "An order as the staff list shows it (the lines are in the order itself)."

    id = ma.fields.Integer()
    number = ma.fields.String()
    status = ma.fields.String()
    payment_status = ma.fields.String()
    fulfilment_status = ma.fields.String()
    channel = ma.fields.String(metadata={"description": "storefront or phone"})
    customer_id = ma.fields.Integer(allow_none=True, metadata={"description": "null: a guest order"})
    email = ma.fields.String()
    payment_method = ma.fields.String()
    currency = ma.fields.String()
    total = MoneyField()
    amount_paid = MoneyField()
    amount_refunded = MoneyField()
    placed_at = ma.fields.AwareDateTime()
    paid_at = ma.fields.AwareDateTime(allow_none=True)
    cancelled_at = ma.fields.AwareDateTime(allow_none=True)


# ---- one order ---------------------------------------------------------------------------


class PaymentTransactionSchema(ma.Schema):
    class Meta:
        description = "One call to the gateway (or a staff member's mark as paid), whatever its outcome."

    kind = ma.fields.String(metadata={"description": "authorize, capture, void, refund, webhook, mark_paid"})
    succeeded = ma.fields.Boolean()
    amount = MoneyField()
    currency = ma.fields.String()
    gateway_reference = ma.fields.String(allow_none=True)
    error_code = ma.fields.String()
    error_message = ma.fields.String()
    actor = ma.fields.String(attribute="actor_label")
    created_at = ma.fields.AwareDateTime()


class StaffPaymentSchema(ma.Schema):
    id = ma.fields.Integer()
    gateway = ma.fields.String()
    gateway_reference = ma.fields.String(allow_none=True)
    status = ma.fields.String()
    amount = MoneyField()
    amount_captured = MoneyField()
    amount_refunded = MoneyField()
    currency = ma.fields.String()
    transactions = ma.fields.List(ma.fields.Nested(PaymentTransactionSchema))


class OrderEventSchema(ma.Schema):
    class Meta:
        description = "An entry of the order's timeline, internal notes included."

    id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"description": "placed, status, payment, fulfilment, note, email"})
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String(allow_none=True)
    note = ma.fields.String()
    data = ma.fields.Dict()
    actor = ma.fields.String(attribute="actor_label", metadata={"description": "Who: an email or system"})
    created_at = ma.fields.AwareDateTime()


class InvoiceSummarySchema(ma.Schema):
    number = ma.fields.String()
    status = ma.fields.String(metadata={"description": "pending (PDF being rendered) or rendered"})


@dataclass(frozen=True)
class StaffOrderView:
    """An order with what its staff view shows beside it (what `StaffOrderSchema` dumps)."""

    order: Order
    placed_by: str | None
    available_actions: list[str]
    payments: list[Payment]
    timeline: list[OrderEvent]
    invoice: Invoice | None

    def __getattr__(self, name):
        # Everything else is the order's own: OrderSchema reads it from here.
        if name == "order":
            raise AttributeError(name)
        return getattr(self.order, name)


class StaffOrderSchema(OrderSchema):
    class Meta:
        description = (
            "An order as staff see it: the customer's view plus who placed it, the actions its "
            "state allows, its payments with every gateway call, the timeline (the newest 200 "
            "entries; all of them at `/orders/{number}/events`) and its invoice."
        )

    id = ma.fields.Integer()
    customer_id = ma.fields.Integer(allow_none=True)
    channel = ma.fields.String()
    placed_by = ma.fields.String(allow_none=True, metadata={"description": "Staff email for phone orders"})
    available_actions = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "Actions the order's state allows now (the caller's permissions aside)"},
    )
    payments = ma.fields.List(ma.fields.Nested(StaffPaymentSchema))
    timeline = ma.fields.List(ma.fields.Nested(OrderEventSchema))
    invoice = ma.fields.Nested(InvoiceSummarySchema, allow_none=True)


# ---- bodies ------------------------------------------------------------------------------


class PhoneOrderLineSchema(ma.Schema):
    sku = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    quantity = ma.fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(MIN_QUANTITY, MAX_QUANTITY),
        metadata={"description": f"{MIN_QUANTITY} to {MAX_QUANTITY}"},
    )


class PhoneOrderCreateSchema(ma.Schema):
    class Meta:
        description = (
            "An order taken for a customer (by `customer_id`) or a guest (by `email`). Prices, "
            "tax and shipping are worked out as at checkout; `expected_total` (the total read "
            "out to the caller) turns a changed total into a 409 `price_changed`."
        )

    customer_id = ma.fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_DB_INT))
    email = text(254, metadata={"format": "email", "description": "Required without customer_id"})
    lines = ma.fields.List(
        ma.fields.Nested(PhoneOrderLineSchema), required=True, validate=validate.Length(min=1, max=MAX_LINES)
    )
    shipping_address = ma.fields.Nested(CartAddressSchema, required=True)
    billing_address = ma.fields.Nested(
        CartAddressSchema, allow_none=True, metadata={"description": "Defaults to the shipping address"}
    )
    shipping_method = ma.fields.String(
        required=True, validate=validate.Length(min=1, max=40), metadata={"description": "A method's code"}
    )
    payment_method = ma.fields.String(
        load_default="manual", validate=validate.Length(min=1, max=20), metadata={"description": "manual"}
    )
    note = text(MAX_NOTE, load_default="", metadata={"description": "From the customer (packing slip)"})
    expected_total = MoneyInput(validate=validate.Range(min=0, max=MAX_MONEY))

    @ma.post_load
    def to_phone_order(self, data, **_kwargs) -> PhoneOrder:
        lines = [(line["sku"], line["quantity"]) for line in data.pop("lines")]
        return PhoneOrder(lines=lines, **data)


class ActionNoteSchema(ma.Schema):
    note = text(MAX_NOTE, load_default="", metadata={"description": "On the timeline"})


class ActionReasonSchema(ma.Schema):
    reason = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_NOTE),
        metadata={"description": "Why (on the timeline and in the audit log)"},
    )


class MarkPaidSchema(ActionNoteSchema):
    amount = MoneyInput(
        validate=validate.Range(min=0, max=MAX_MONEY),
        metadata={"description": 'Received, e.g. "19.90" (default: all that is due)', "example": "19.90"},
    )


class CaptureSchema(ma.Schema):
    class Meta:
        description = "No fields: the whole authorized amount is captured."


class NoteCreateSchema(ma.Schema):
    text = ma.fields.String(required=True, validate=validate.Length(min=1, max=MAX_NOTE))
