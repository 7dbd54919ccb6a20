"""The one pricing pipeline: every amount a cart shows is the amount checkout charges.

`price_cart(cart)` reads, never writes, and runs these steps in order:

1. **Line prices.** Each line at its variant's current price (`Variant.price`, the price
   in force). A line whose variant or product is no longer for sale gets the problem
   `not_available` and counts in no total; a quantity above what can ship now plus what
   may be backordered gets `quantity_exceeds_available` (it still counts: the customer
   sees the real price and lowers the quantity).
2. **Discounts.** The registered `DiscountStep`s set each line's `discount` (order-wide
   discounts are spread over the lines with `allocate_discount`). None is registered
   until the promotions issue plugs in.
3. **Shipping.** The cart's method (it must still be offered for the shipping address)
   priced by `shipping.shipping_price` from the goods total after discounts, in the
   store's price terms, and the parcel weight (sum of variant weight x quantity). No
   address or no method: shipping is None and the cart is not ready for checkout.
4. **Tax.** Rates of the destination (the shipping address, else `STORE_COUNTRY`) by
   each product's tax class; shipping is taxed at its method's tax class. With
   `PRICES_INCLUDE_TAX` catalog and shipping prices contain the tax
   (tax = gross - gross / (1 + rate)); without, they are net and tax is added
   (tax = net x rate).
5. **Totals**, exact sums of the rounded amounts above.

Rounding (the only place amounts are rounded): prices, discounts and shipping are whole
cents. Tax is computed per line on the line's amount after its discount and rounded
ROUND_HALF_UP to the cent once per line (not per unit, not on the order total); shipping
tax is rounded the same way as one more line. Totals are sums of rounded amounts, so
lines, tax breakdown and totals always add up to the cent. Example, tax-exclusive at 10 %:
3 x 3.35 = 10.05 net, tax 1.005 -> 1.01 (per-unit rounding would say 1.02, banker's 1.00).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Protocol

from flask import current_app
from sqlalchemy import bindparam, select

from app.blueprints.catalog.models import Product, Variant
from app.blueprints.catalog.stock import stock_view
from app.blueprints.orders import shipping, taxes
from app.blueprints.orders.models import Cart, CartLine
from app.extensions import db

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# Line problems.
NOT_AVAILABLE = "not_available"
QUANTITY_EXCEEDS_AVAILABLE = "quantity_exceeds_available"
# Cart problems: what stands between this cart and a checkout.
CART_NOT_OPEN = "cart_not_open"
CART_EMPTY = "cart_empty"
LINE_PROBLEMS = "line_problems"
EMAIL_REQUIRED = "email_required"
SHIPPING_ADDRESS_REQUIRED = "shipping_address_required"
DESTINATION_NOT_SERVED = "destination_not_served"
SHIPPING_METHOD_REQUIRED = "shipping_method_required"
SHIPPING_METHOD_UNAVAILABLE = "shipping_method_unavailable"
SHIPPING_NOT_POSSIBLE = "shipping_not_possible"


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def tax_of(amount: Decimal, rate: Decimal, *, included: bool) -> Decimal:
    """The tax in (included) or on (not included) an amount, rounded half-up to cents."""
    if not rate:
        return ZERO
    if included:
        return cents(amount - amount / (1 + rate))
    return cents(amount * rate)


@dataclass(frozen=True)
class LineAvailability:
    state: str  # in_stock, backorder or out_of_stock (app/blueprints/catalog/stock.py)
    available: int
    backorderable: int | None  # more units that may be ordered; None: no limit
    expected_restock_date: date | None
    backordered_quantity: int  # units of this line that would ship later


@dataclass
class LineQuote:
    line_id: int
    variant_id: int
    product_id: int
    sku: str
    name: str  # the product's
    title: str  # the variant's, "Red / M" or "Default"
    product_slug: str
    tax_class: str
    weight_grams: int  # of the whole line
    quantity: int
    unit_price: Decimal
    line_subtotal: Decimal
    discount: Decimal = ZERO
    tax_rate: Decimal = ZERO
    tax: Decimal = ZERO
    line_total: Decimal = ZERO  # what the customer pays for the line, tax included
    availability: LineAvailability | None = None
    problems: list[str] = field(default_factory=list)
    # The variant record it was priced from. Holding it keeps it in the session, so the
    # checkout's reservation reads it there instead of loading it again.
    variant: Variant | None = field(default=None, repr=False, compare=False)

    @property
    def counts(self) -> bool:
        """Whether the line is part of the totals (a line not for sale is not)."""
        return NOT_AVAILABLE not in self.problems

    @property
    def amount_after_discount(self) -> Decimal:
        return self.line_subtotal - self.discount


@dataclass(frozen=True)
class AppliedDiscount:
    code: str  # e.g. the promo code or the promotion's id
    label: str  # shown to the customer
    amount: Decimal


@dataclass
class QuoteDraft:
    """What a DiscountStep sees and changes: the cart, its priced lines (set their
    `discount`), the discounts it applied (for display) and whether shipping is free."""

    cart: Cart
    currency: str
    prices_include_tax: bool
    lines: list[LineQuote]
    applied_discounts: list[AppliedDiscount] = field(default_factory=list)
    free_shipping: bool = False

    @property
    def counted_lines(self) -> list[LineQuote]:
        return [line for line in self.lines if line.counts]


class DiscountStep(Protocol):
    def apply(self, draft: QuoteDraft) -> None:
        """Set line discounts (whole cents, between 0 and the line subtotal) on `draft`."""


_discount_steps: list[DiscountStep] = []


def register_discount_step(step: DiscountStep) -> None:
    """Plug a discount step into the pipeline (the promotions domain, at start-up)."""
    if step not in _discount_steps:
        _discount_steps.append(step)


def unregister_discount_step(step: DiscountStep) -> None:
    if step in _discount_steps:
        _discount_steps.remove(step)


def discount_steps() -> tuple[DiscountStep, ...]:
    return tuple(_discount_steps)


def allocate_discount(lines: list[LineQuote], amount: Decimal) -> None:
    """Spread an order-wide discount over `lines` in proportion to what each still costs,
    in whole cents that add up to `amount` exactly (largest remainders get the odd cents),
    never more than a line's remaining amount."""
    remaining = [max(line.amount_after_discount, ZERO) for line in lines]
    base = sum(remaining, ZERO)
    amount = min(cents(amount), base)
    if amount <= 0:
        return
    shares = [amount * part / base for part in remaining]
    floors = [share.quantize(CENT, rounding=ROUND_DOWN) for share in shares]
    left = int((amount - sum(floors, ZERO)) / CENT)
    by_remainder = sorted(range(len(lines)), key=lambda i: shares[i] - floors[i], reverse=True)
    for index in by_remainder[:left]:
        floors[index] += CENT
    for line, share in zip(lines, floors, strict=True):
        line.discount += share


@dataclass(frozen=True)
class ShippingOption:
    method_id: int
    code: str
    name: str
    kind: str
    tax_class: str
    price: Decimal | None  # None: this method cannot ship the parcel (too heavy)


@dataclass(frozen=True)
class TaxLine:
    rate: Decimal
    name: str
    amount: Decimal


@dataclass
class CartQuote:
    currency: str
    prices_include_tax: bool
    lines: list[LineQuote]
    subtotal: Decimal  # line subtotals in the store's price terms (gross or net)
    discount_total: Decimal
    shipping: Decimal | None  # None while there is no address or method
    shipping_tax: Decimal
    tax_total: Decimal  # lines and shipping
    total: Decimal  # what checkout charges
    tax_breakdown: list[TaxLine]
    destination_country: str
    destination_region: str
    destination_is_estimate: bool  # no shipping address yet: taxes of the store's country
    weight_grams: int
    shipping_method: ShippingOption | None
    shipping_options: list[ShippingOption]
    applied_discounts: list[AppliedDiscount]
    problems: list[str]

    @property
    def ready_for_checkout(self) -> bool:
        return not self.problems

    @property
    def goods_total(self) -> Decimal:
        return self.subtotal - self.discount_total


def price_cart(
    cart: Cart,
    *,
    prices_include_tax: bool | None = None,
    store_country: str | None = None,
    with_availability: bool = True,
) -> CartQuote:
    """Price a cart (see the module docstring). Reads only: one query for the lines with
    their variants and products, one for availability (none `with_availability=False`: a
    checkout whose reservation checks the stock), one for the shipping methods of the
    destination (with their bands) and one for tax rates. The other keyword arguments
    override the app settings (PRICES_INCLUDE_TAX, STORE_COUNTRY)."""
    config = current_app.config
    if prices_include_tax is None:
        prices_include_tax = bool(config.get("PRICES_INCLUDE_TAX", True))
    address = cart.shipping_address or None
    if address:
        country, region = address["country"], address.get("region") or ""
    else:
        country, region = (store_country or config.get("STORE_COUNTRY", "NL")).upper(), ""

    lines = _priced_lines(cart, with_availability)
    draft = QuoteDraft(cart, cart.currency, prices_include_tax, lines)
    for step in discount_steps():
        step.apply(draft)
    for line in lines:
        line.discount = min(max(cents(line.discount), ZERO), line.line_subtotal) if line.counts else ZERO

    counted = draft.counted_lines
    goods_total = sum((line.amount_after_discount for line in counted), ZERO)
    weight = sum(line.weight_grams for line in counted)
    problems: list[str] = []
    options: list[ShippingOption] = []
    chosen: ShippingOption | None = None
    if address:
        methods = shipping.methods_for(country, region)
        options = [_option(method, goods_total, weight, draft.free_shipping) for method in methods]
        chosen = next((o for o in options if o.method_id == cart.shipping_method_id), None)
        if not methods:
            problems.append(DESTINATION_NOT_SERVED)
        elif cart.shipping_method_id is None:
            problems.append(SHIPPING_METHOD_REQUIRED)
        elif chosen is None:
            problems.append(SHIPPING_METHOD_UNAVAILABLE)
        elif chosen.price is None:
            problems.append(SHIPPING_NOT_POSSIBLE)
    else:
        problems.append(SHIPPING_ADDRESS_REQUIRED)
    # Nothing to ship, nothing to pay for shipping (an emptied cart keeps its method).
    shipping_price = chosen.price if chosen is not None and counted else None

    tax_classes = {line.tax_class for line in counted}
    if shipping_price is not None:
        tax_classes.add(chosen.tax_class)
    rates = taxes.named_rates_for(country, region, tax_classes) if tax_classes else {}
    breakdown: dict[tuple[Decimal, str], Decimal] = {}

    def add_tax(tax_class: str, amount: Decimal) -> tuple[Decimal, Decimal]:
        named = rates.get(tax_class)
        rate = Decimal(named.rate) if named is not None else ZERO
        tax = tax_of(amount, rate, included=prices_include_tax)
        if rate:
            key = (rate, named.name or _rate_label(rate))
            breakdown[key] = breakdown.get(key, ZERO) + tax
        return rate, tax

    for line in counted:
        line.tax_rate, line.tax = add_tax(line.tax_class, line.amount_after_discount)
        line.line_total = line.amount_after_discount + (ZERO if prices_include_tax else line.tax)
    shipping_tax = ZERO
    if shipping_price is not None:
        shipping_tax = add_tax(chosen.tax_class, shipping_price)[1]

    subtotal = sum((line.line_subtotal for line in counted), ZERO)
    discount_total = sum((line.discount for line in counted), ZERO)
    tax_total = sum((line.tax for line in counted), ZERO) + shipping_tax
    total = goods_total + (shipping_price or ZERO) + (ZERO if prices_include_tax else tax_total)

    problems = _cart_problems(cart, lines) + problems
    return CartQuote(
        currency=cart.currency,
        prices_include_tax=prices_include_tax,
        lines=lines,
        subtotal=subtotal,
        discount_total=discount_total,
        shipping=shipping_price,
        shipping_tax=shipping_tax,
        tax_total=tax_total,
        total=total,
        tax_breakdown=[TaxLine(rate, name, amount) for (rate, name), amount in sorted(breakdown.items())],
        destination_country=country,
        destination_region=region,
        destination_is_estimate=not address,
        weight_grams=weight,
        shipping_method=chosen,
        shipping_options=options,
        applied_discounts=draft.applied_discounts,
        problems=problems,
    )


# The variant as a record (the reservation reads it again, see LineQuote.variant); the
# line's and the product's few columns as values, which cost less to load. Built once:
# every cart read and checkout runs it.
PRICED_LINES = (
    select(
        CartLine.id,
        CartLine.quantity,
        Variant,
        Product.id,
        Product.name,
        Product.slug,
        Product.tax_class,
        Product.status,
    )
    .join(Variant, Variant.id == CartLine.variant_id)
    .join(Product, Product.id == Variant.product_id)
    .where(CartLine.cart_id == bindparam("cart_id"))
    .order_by(CartLine.id)
)


def _priced_lines(cart: Cart, with_availability: bool = True) -> list[LineQuote]:
    """Step 1: every line at its variant's current price, with availability and problems."""
    if cart.id is None:
        return []
    rows = db.session.execute(PRICED_LINES, {"cart_id": cart.id}).all()
    wanted = [row.Variant.id for row in rows] if with_availability else []
    availability = stock_view().availability(wanted) if wanted else {}
    lines = []
    for line_id, quantity, variant, product_id, name, slug, tax_class, product_status in rows:
        quote = LineQuote(
            line_id=line_id,
            variant_id=variant.id,
            product_id=product_id,
            sku=variant.sku,
            name=name,
            title=variant.title,
            product_slug=slug,
            tax_class=tax_class,
            weight_grams=(variant.weight_grams or 0) * quantity,
            quantity=quantity,
            unit_price=variant.price,
            line_subtotal=variant.price * quantity,
            variant=variant,
        )
        stock = availability.get(variant.id)
        if not variant.is_active or product_status != "active":
            quote.problems.append(NOT_AVAILABLE)
        if stock is not None:
            quote.availability = LineAvailability(
                state=stock.state,
                available=stock.available,
                backorderable=stock.backorderable,
                expected_restock_date=stock.expected_restock_date,
                # Units that would ship later: only where the variant takes backorders.
                backordered_quantity=max(quantity - stock.available, 0)
                if quote.counts and stock.backorderable != 0
                else 0,
            )
            can_order = None if stock.backorderable is None else stock.available + stock.backorderable
            if quote.counts and can_order is not None and quantity > can_order:
                quote.problems.append(QUANTITY_EXCEEDS_AVAILABLE)
        lines.append(quote)
    return lines


def _option(method: shipping.OfferedMethod, goods_total: Decimal, weight: int, free: bool) -> ShippingOption:
    price = shipping.shipping_price(method, goods_total=goods_total, weight_grams=weight)
    if free and price is not None:
        price = ZERO
    return ShippingOption(method.id, method.code, method.name, method.kind, method.tax_class, price)


def _cart_problems(cart: Cart, lines: list[LineQuote]) -> list[str]:
    problems = []
    if cart.status != "open":
        problems.append(CART_NOT_OPEN)
    if not lines:
        problems.append(CART_EMPTY)
    if any(line.problems for line in lines):
        problems.append(LINE_PROBLEMS)
    if cart.customer_id is None and not cart.email:
        problems.append(EMAIL_REQUIRED)
    return problems


def _rate_label(rate: Decimal) -> str:
    """0.21 -> "21%", 0.055 -> "5.5%": the name of a rate that was given none."""
    return f"{(rate * 100).normalize():f}%"
