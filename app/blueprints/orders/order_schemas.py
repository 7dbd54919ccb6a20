"""Marshmallow schemas of orders, shared by the storefront and the staff API.

The customer-facing `OrderSchema` shows what a customer may see; `StaffOrderSchema` adds
the timeline with internal notes, payments with their attempts, and who placed it.
"""

import marshmallow as ma
from marshmallow import validate

from app.blueprints.orders.store_schemas import CartAddressSchema, CartTaxLineSchema
from app.core.money import MoneyField, MoneyInput


class CheckoutSchema(ma.Schema):
    class Meta:
        description = (
            "Optional checkout details. `expected_total` is the total the shopper was shown: "
            "if the cart's total differs now (a price changed), checkout answers 409 "
            "`price_changed` instead of charging a surprise."
        )

    payment_method = ma.fields.String(
        validate=validate.Length(min=1, max=20),
        metadata={"description": "A gateway code: manual or stripe (default: the first offered)"},
    )
    expected_total = MoneyInput(validate=validate.Range(min=0))
    note = ma.fields.String(
        validate=validate.Length(max=2000),
        load_default="",
        metadata={"description": "From the customer, printed on the packing slip"},
    )


class OrderLineSchema(ma.Schema):
    id = ma.fields.Integer()
    position = ma.fields.Integer()
    variant_id = ma.fields.Integer(allow_none=True)
    sku = ma.fields.String()
    product_name = ma.fields.String(attribute="name")
    variant_title = ma.fields.String(attribute="title")
    quantity = ma.fields.Integer()
    unit_price = MoneyField()
    line_subtotal = MoneyField()
    discount = MoneyField()
    tax_rate = ma.fields.Decimal(as_string=True, places=4)
    tax = MoneyField()
    line_total = MoneyField()
    backordered_quantity = ma.fields.Integer(metadata={"description": "Units waiting for stock"})
    shipped_quantity = ma.fields.Integer()


class OrderTotalsSchema(ma.Schema):
    prices_include_tax = ma.fields.Boolean()
    subtotal = MoneyField()
    discount_total = MoneyField()
    shipping = MoneyField(attribute="shipping_total")
    shipping_tax = MoneyField()
    tax_total = MoneyField()
    total = MoneyField()
    amount_paid = MoneyField()
    amount_refunded = MoneyField()
    tax_breakdown = ma.fields.List(ma.fields.Nested(CartTaxLineSchema))


class OrderPaymentSummarySchema(ma.Schema):
    method = ma.fields.String(attribute="payment_method", metadata={"description": "manual or stripe"})
    status = ma.fields.String(
        attribute="payment_status",
        metadata={"description": "pending, authorized, paid, partially_refunded, refunded, failed, voided"},
    )


# One instance each for every order answered: a schema copies its fields when it is made.
ORDER_TOTALS = OrderTotalsSchema()
ORDER_PAYMENT_SUMMARY = OrderPaymentSummarySchema()


class CustomerOrderEventSchema(ma.Schema):
    kind = ma.fields.String()
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String(allow_none=True)
    created_at = ma.fields.AwareDateTime()


class OrderSchema(ma.Schema):
    class Meta:
        description = "An order as its customer sees it."

    number = ma.fields.String(metadata={"description": "The order number (public, human)"})
    status = ma.fields.String(
        metadata={
            "description": "pending_payment, paid, processing, partially_shipped, shipped, delivered, "
            "completed, on_hold, cancelled"
        }
    )
    payment_status = ma.fields.String()
    fulfilment_status = ma.fields.String(
        metadata={"description": "unfulfilled, partially_fulfilled, fulfilled"}
    )
    currency = ma.fields.String()
    email = ma.fields.String()
    lines = ma.fields.List(ma.fields.Nested(OrderLineSchema))
    totals = ma.fields.Function(lambda order: ORDER_TOTALS.dump(order))
    payment = ma.fields.Function(lambda order: ORDER_PAYMENT_SUMMARY.dump(order))
    shipping_address = ma.fields.Nested(CartAddressSchema)
    billing_address = ma.fields.Nested(CartAddressSchema)
    shipping_method = ma.fields.Function(
        lambda order: {"code": order.shipping_method_code, "name": order.shipping_method_name}
    )
    customer_note = ma.fields.String()
    placed_at = ma.fields.AwareDateTime()
    paid_at = ma.fields.AwareDateTime(allow_none=True)
    cancelled_at = ma.fields.AwareDateTime(allow_none=True)


class CheckoutPaymentSchema(ma.Schema):
    gateway = ma.fields.String()
    status = ma.fields.String()
    client_secret = ma.fields.String(
        allow_none=True,
        metadata={"description": "Stripe: confirm the PaymentIntent with it (Stripe.js); shown once"},
    )
    publishable_key = ma.fields.String(allow_none=True)
    instructions = ma.fields.String(metadata={"description": "For manual payments: how to pay"})


class CheckoutResultSchema(OrderSchema):
    class Meta:
        description = (
            "The order checkout created, with its tracking token (for the tracking link) and "
            "what the storefront needs to collect the payment."
        )

    tracking_token = ma.fields.String(metadata={"description": "Secret of the order's tracking link"})
    payment_action = ma.fields.Nested(CheckoutPaymentSchema)


class CustomerOrderSchema(OrderSchema):
    class Meta:
        description = "One of the customer's orders with its status history (no internal notes)."

    timeline = ma.fields.List(
        ma.fields.Nested(CustomerOrderEventSchema),
        metadata={"description": "Placed, then every status change, oldest first"},
    )
