"""Marshmallow schemas of the storefront cart API.

Input schemas reject unknown fields (marshmallow's default, RAISE): a body naming a field
the cart does not take is a 422 naming it. Money is a decimal string beside the cart's
`currency`; rates are fractions as decimal strings ("0.2100" is 21 %).
"""

import marshmallow as ma
from marshmallow import ValidationError, validate, validates_schema

from app.blueprints.catalog.store_product_page import AVAILABLE_CAP
from app.blueprints.orders.carts import MAX_QUANTITY, MIN_QUANTITY
from app.core.money import MoneyField

QUANTITY = {"description": f"{MIN_QUANTITY} to {MAX_QUANTITY}"}


def text(max_length: int, **kwargs) -> ma.fields.String:
    return ma.fields.String(validate=validate.Length(max=max_length), **kwargs)


def optional_money(**kwargs) -> MoneyField:
    return MoneyField(allow_none=True, **kwargs)


# --- input ------------------------------------------------------------------------------


class CartAddressSchema(ma.Schema):
    class Meta:
        description = (
            "An address as a cart keeps it. line1, city and an ISO 3166-1 alpha-2 country are "
            "required; a shipping address must be in a country we ship to."
        )

    recipient = text(200, load_default="")
    line1 = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    line2 = text(200, load_default="")
    postal_code = text(20, load_default="")
    city = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    region = text(100, load_default="", metadata={"description": "State, province or island group"})
    country = ma.fields.String(
        required=True, validate=validate.Length(min=1, max=64), metadata={"description": "ISO 3166-1 alpha-2"}
    )


class CartCreateSchema(ma.Schema):
    email = text(254, allow_none=True, metadata={"format": "email", "description": "For a guest checkout"})


class CartUpdateSchema(ma.Schema):
    class Meta:
        description = (
            "The cart's details; only the fields sent change, null clears one. The shipping "
            "method (a `code` from `shipping_options`) is checked against the shipping address "
            "sent with it, or the cart's; changing the address drops a method it is not offered."
        )

    email = text(254, allow_none=True, metadata={"format": "email"})
    shipping_address = ma.fields.Nested(CartAddressSchema, allow_none=True)
    billing_address = ma.fields.Nested(
        CartAddressSchema, allow_none=True, metadata={"description": "Defaults to the shipping address"}
    )
    shipping_method = text(40, allow_none=True, metadata={"description": "A shipping option's code"})


class CartLineAddSchema(ma.Schema):
    class Meta:
        description = (
            "An item by `sku` or by `variant_id` (one of them). Adding an item already in the "
            "cart adds up the quantities."
        )

    sku = ma.fields.String(validate=validate.Length(min=1, max=64))
    variant_id = ma.fields.Integer(strict=True, validate=validate.Range(min=1, max=2**31 - 1))
    quantity = ma.fields.Integer(
        strict=True, load_default=1, validate=validate.Range(MIN_QUANTITY, MAX_QUANTITY), metadata=QUANTITY
    )

    @validates_schema
    def one_way_to_name_the_item(self, data, **_kwargs):
        if ("sku" in data) == ("variant_id" in data):
            raise ValidationError("Give either sku or variant_id.", field_name="sku")


class CartLineUpdateSchema(ma.Schema):
    quantity = ma.fields.Integer(
        strict=True, required=True, validate=validate.Range(MIN_QUANTITY, MAX_QUANTITY), metadata=QUANTITY
    )


class CartPromoCodeSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))


# --- output -----------------------------------------------------------------------------


class CartLineAvailabilitySchema(ma.Schema):
    state = ma.fields.String(metadata={"description": "in_stock, backorder or out_of_stock"})
    # Capped as on the product page: a cart must not tell anyone how much stock we hold.
    available = ma.fields.Function(
        lambda a: min(a.available, AVAILABLE_CAP),
        metadata={"description": f"Units that can ship now ({AVAILABLE_CAP} means {AVAILABLE_CAP} or more)"},
    )
    backorderable = ma.fields.Function(
        lambda a: None if a.backorderable is None else min(a.backorderable, AVAILABLE_CAP),
        allow_none=True,
        metadata={"description": f"More units that may be ordered; null: no limit ({AVAILABLE_CAP} or more)"},
    )
    expected_restock_date = ma.fields.Date(allow_none=True)
    backordered_quantity = ma.fields.Integer(
        metadata={"description": "Units of this line that would ship later"}
    )


class CartLineSchema(ma.Schema):
    id = ma.fields.Integer(
        attribute="line_id", metadata={"description": "For PATCH/DELETE .../lines/{line_id}"}
    )
    variant_id = ma.fields.Integer()
    sku = ma.fields.String()
    product_name = ma.fields.String(attribute="name")
    product_slug = ma.fields.String()
    variant_title = ma.fields.String(attribute="title")
    quantity = ma.fields.Integer()
    unit_price = MoneyField()
    line_subtotal = MoneyField(metadata={"description": "unit_price x quantity"})
    discount = MoneyField()
    tax_rate = ma.fields.Decimal(as_string=True, places=4)
    tax = MoneyField(metadata={"description": "Rounded half-up to the cent per line"})
    line_total = MoneyField(metadata={"description": "What the customer pays for the line, tax included"})
    availability = ma.fields.Nested(CartLineAvailabilitySchema, allow_none=True)
    problems = ma.fields.List(
        ma.fields.String(), metadata={"description": "not_available, quantity_exceeds_available"}
    )


class CartShippingOptionSchema(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String(metadata={"description": "flat or weight_band"})
    price = optional_money(metadata={"description": "null: this method cannot carry the parcel"})


class CartTaxLineSchema(ma.Schema):
    rate = ma.fields.Decimal(as_string=True, places=4)
    name = ma.fields.String()
    amount = MoneyField()


class CartDiscountSchema(ma.Schema):
    code = ma.fields.String()
    label = ma.fields.String()
    amount = MoneyField()


class CartTotalsSchema(ma.Schema):
    prices_include_tax = ma.fields.Boolean(
        metadata={"description": "true: prices, subtotal and shipping include tax; false: tax is added"}
    )
    subtotal = MoneyField()
    discount_total = MoneyField()
    shipping = optional_money(metadata={"description": "null until an address and a method are chosen"})
    shipping_tax = MoneyField()
    tax_total = MoneyField(metadata={"description": "Of the lines and the shipping"})
    total = MoneyField(metadata={"description": "What checkout charges"})
    tax_breakdown = ma.fields.List(ma.fields.Nested(CartTaxLineSchema))
    weight_grams = ma.fields.Integer()


class CartTaxDestinationSchema(ma.Schema):
    country = ma.fields.String(attribute="destination_country")
    region = ma.fields.String(attribute="destination_region")
    is_estimate = ma.fields.Boolean(
        attribute="destination_is_estimate",
        metadata={"description": "No shipping address yet: taxes are those of the store's country"},
    )


class CartSchema(ma.Schema):
    class Meta:
        description = (
            "A cart with its quote: every line at today's price with its availability, the "
            "shipping options for the address, the exact totals checkout will charge, and the "
            "problems that stand between the cart and a checkout."
        )

    id = ma.fields.String(attribute="cart.token", metadata={"description": "The cart's id (keep it secret)"})
    status = ma.fields.String(
        attribute="cart.status", metadata={"description": "open, checked_out or expired"}
    )
    currency = ma.fields.String(attribute="quote.currency", metadata={"description": "ISO 4217"})
    owned = ma.fields.Function(
        lambda view: view.cart.customer_id is not None,
        metadata={"description": "Belongs to a customer account (readable only with its token)"},
    )
    email = ma.fields.String(attribute="cart.email", allow_none=True)
    shipping_address = ma.fields.Nested(CartAddressSchema, attribute="cart.shipping_address", allow_none=True)
    billing_address = ma.fields.Nested(CartAddressSchema, attribute="cart.billing_address", allow_none=True)
    shipping_method = ma.fields.Nested(
        CartShippingOptionSchema, attribute="quote.shipping_method", allow_none=True
    )
    promo_code = ma.fields.String(attribute="cart.promo_code", allow_none=True)
    lines = ma.fields.List(ma.fields.Nested(CartLineSchema), attribute="quote.lines")
    totals = ma.fields.Nested(CartTotalsSchema)
    tax_destination = ma.fields.Nested(CartTaxDestinationSchema)
    shipping_options = ma.fields.List(
        ma.fields.Nested(CartShippingOptionSchema), attribute="quote.shipping_options"
    )
    applied_discounts = ma.fields.List(
        ma.fields.Nested(CartDiscountSchema), attribute="quote.applied_discounts"
    )
    problems = ma.fields.List(ma.fields.String(), attribute="quote.problems")
    ready_for_checkout = ma.fields.Boolean(attribute="quote.ready_for_checkout")
    created_at = ma.fields.AwareDateTime(attribute="cart.created_at")
    updated_at = ma.fields.AwareDateTime(attribute="cart.updated_at")
