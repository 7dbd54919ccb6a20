"""Marshmallow schemas of the refunds API: what is refundable, refunds with their credit
notes, the body of a new refund, and credit notes as customers see them.

Bodies reject unknown fields. Money goes in and out as decimal strings beside `currency`;
a JSON number for money is a 422 (`MoneyInput`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

import marshmallow as ma
from marshmallow import ValidationError, validate, validates_schema

from app.blueprints.fulfilment.models import REFUND_METHODS, CreditNote
from app.blueprints.fulfilment.refunds import MAX_REASON
from app.core.money import MoneyField, MoneyInput

MAX_DB_INT = 2**31 - 1
MAX_LINES = 500
MAX_QUANTITY = 100_000


class AmountInput(MoneyInput):
    """MoneyInput that also answers a number too large to be money with a field error."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return super()._deserialize(value, attr, data, **kwargs)
        except InvalidOperation:
            raise self.make_error("invalid") from None


# ---- what is refundable ------------------------------------------------------------------------


class RefundableLineSchema(ma.Schema):
    order_line_id = ma.fields.Integer()
    sku = ma.fields.String()
    name = ma.fields.String()
    title = ma.fields.String()
    quantity = ma.fields.Integer(metadata={"description": "Units ordered"})
    line_total = MoneyField(metadata={"description": "What the customer paid for the line, tax included"})
    refunded_quantity = ma.fields.Integer(attribute="refunded_units")
    refundable_quantity = ma.fields.Integer(attribute="refundable_units")
    unit_amount = MoneyField(
        metadata={
            "description": "line_total / quantity rounded down to the cent; the last unit takes the "
            "remainder, so refunding every unit gives back exactly line_total"
        }
    )
    refundable_amount = MoneyField(
        metadata={"description": "What refunding every refundable unit gives back"}
    )


class RefundableShippingSchema(ma.Schema):
    paid = MoneyField(metadata={"description": "Shipping paid, tax included"})
    refunded = MoneyField()
    refundable = MoneyField(metadata={"description": "What include_shipping refunds"})


class RefundableSchema(ma.Schema):
    currency = ma.fields.String()
    captured = MoneyField(metadata={"description": "Money captured over the order's payments"})
    refunded = MoneyField(metadata={"description": "Money refunded already (by any means)"})
    refundable = MoneyField(
        metadata={"description": "captured - refunded: the most any refund may give back"}
    )
    shipping = ma.fields.Nested(RefundableShippingSchema)
    lines = ma.fields.List(ma.fields.Nested(RefundableLineSchema))
    methods = ma.fields.List(
        ma.fields.String(),
        metadata={
            "description": "The methods possible now: gateway (when the payment refunds online) and manual"
        },
    )


# ---- refunds and credit notes ----------------------------------------------------------------------


class CreditNoteSchema(ma.Schema):
    number = ma.fields.String(metadata={"example": "CN-2026-000001"})
    amount = MoneyField()
    currency = ma.fields.String()
    status = ma.fields.String(metadata={"description": "pending (PDF being rendered) or rendered"})
    issued_at = ma.fields.AwareDateTime()
    rendered_at = ma.fields.AwareDateTime(allow_none=True)


class RefundLineSchema(ma.Schema):
    order_line_id = ma.fields.Integer()
    quantity = ma.fields.Integer()
    amount = MoneyField()


class RefundSchema(ma.Schema):
    """Dumps a `credit_notes.RefundRecord`."""

    id = ma.fields.Integer()
    order_number = ma.fields.String()
    method = ma.fields.String(metadata={"description": "gateway or manual (paid back by hand)"})
    amount = MoneyField(metadata={"description": "The whole refund, shipping included"})
    shipping_amount = MoneyField()
    currency = ma.fields.String()
    reason = ma.fields.String()
    lines = ma.fields.List(ma.fields.Nested(RefundLineSchema))
    gateway_reference = ma.fields.String(metadata={"description": "The provider's refund id(s)"})
    return_number = ma.fields.String(allow_none=True)
    created_by = ma.fields.String(allow_none=True, metadata={"description": "The staff member's email"})
    created_at = ma.fields.AwareDateTime()
    credit_note = ma.fields.Nested(CreditNoteSchema, allow_none=True)


class RefundLineInputSchema(ma.Schema):
    order_line_id = ma.fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=MAX_DB_INT)
    )
    quantity = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_QUANTITY))


class RefundCreateSchema(ma.Schema):
    class Meta:
        description = (
            "Either `lines` (units per order line) or `amount` (a free amount), not both; "
            "`include_shipping` adds what is left of the shipping (alone, it refunds the shipping)."
        )

    lines = ma.fields.List(
        ma.fields.Nested(RefundLineInputSchema), validate=validate.Length(min=1, max=MAX_LINES)
    )
    amount = AmountInput(metadata={"description": 'A free amount, e.g. "12.40"', "example": "12.40"})
    include_shipping = ma.fields.Boolean(load_default=False)
    reason = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_REASON),
        metadata={"description": "Why (internal)"},
    )
    method = ma.fields.String(
        required=True,
        validate=validate.OneOf(REFUND_METHODS),
        metadata={"description": "gateway: through the payment's provider; manual: paid back by hand"},
    )
    return_number = ma.fields.String(
        validate=validate.Length(min=1, max=30),
        metadata={"description": "The return (RMA) this refund settles: it becomes refunded"},
    )

    @validates_schema
    def one_basis(self, data, **_kwargs):
        errors = {}
        if data.get("lines") and data.get("amount") is not None:
            errors["lines"] = errors["amount"] = ["Refund items or an amount, not both."]
        seen = [line["order_line_id"] for line in data.get("lines") or ()]
        if len(seen) != len(set(seen)):
            errors["lines"] = ["Each order line at most once."]
        if not data.get("reason", "x").strip():
            errors["reason"] = ["Required."]
        if errors:
            raise ValidationError(errors)

    @ma.post_load
    def units_by_line(self, data, **_kwargs):
        if data.get("lines"):
            data["lines"] = {line["order_line_id"]: line["quantity"] for line in data["lines"]}
        return data


# ---- customers' view ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerCreditNote:
    credit_note: CreditNote
    pdf_url: str

    @property
    def number(self) -> str:
        return self.credit_note.number

    @property
    def amount(self) -> Decimal:
        return self.credit_note.amount

    @property
    def currency(self) -> str:
        return self.credit_note.currency

    @property
    def issued_at(self) -> datetime:
        return self.credit_note.issued_at

    @property
    def ready(self) -> bool:
        return self.credit_note.status == "rendered"


class CustomerCreditNoteSchema(ma.Schema):
    number = ma.fields.String(metadata={"example": "CN-2026-000001"})
    amount = MoneyField(metadata={"description": "The amount refunded"})
    currency = ma.fields.String()
    issued_at = ma.fields.AwareDateTime()
    ready = ma.fields.Boolean(metadata={"description": "False while the PDF is being rendered"})
    pdf_url = ma.fields.String(metadata={"description": "Where to download the PDF"})
