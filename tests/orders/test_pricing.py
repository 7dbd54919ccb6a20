"""The pricing pipeline: line prices, discounts, shipping, tax and rounding, with exact
Decimal expectations for tax-inclusive and tax-exclusive stores."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import event

from app.blueprints.orders import carts, pricing
from app.blueprints.orders.models import CartLine
from app.extensions import db as _db
from tests.factories.catalog import LocationFactory, ProductFactory, stock
from tests.factories.orders import tax_rates, weight_band_method, zone_with_methods

D = Decimal
NL_ADDRESS = {
    "recipient": "Ada",
    "line1": "Damrak 1",
    "postal_code": "1012 LG",
    "city": "Amsterdam",
    "country": "NL",
}


def variant_of(price, *, tax_class="standard", weight=None, on_hand=100, **product_fields):
    """The default variant of a new product, with `on_hand` units in a warehouse (None: never stocked)."""
    product = ProductFactory(price=D(price), tax_class=tax_class, **product_fields)
    variant = product.variants[0]
    variant.weight_grams = weight
    _db.session.flush()
    if on_hand is not None:
        stock(variant, LocationFactory(), on_hand=on_hand)
    return variant


def make_cart(*items, address=None, method=None, email="buyer@example.org"):
    """A cart with (variant, quantity) lines, written directly (the rules of adding lines
    are the cart services' tests)."""
    cart = carts.create_cart(email=email)
    for variant, quantity in items:
        cart.lines.append(CartLine(variant_id=variant.id, quantity=quantity))
    cart.shipping_address = address
    cart.shipping_method = method
    _db.session.flush()
    return cart


def method_of(zone, code="standard"):
    return next(method for method in zone.methods if method.code == code)


@pytest.fixture
def netherlands(db):
    """NL: VAT 21 / 9 / 0 %, one flat standard method at 4.95 taxed at the standard rate."""
    tax_rates("NL", {"standard": 21, "reduced": 9, "zero": 0})
    return zone_with_methods("Netherlands", ["NL"], [{"code": "standard", "flat_rate": D("4.95")}])


# --- tax-inclusive and tax-exclusive stores -----------------------------------------


def test_tax_inclusive_store_takes_the_tax_out_of_gross_prices(netherlands):
    cart = make_cart((variant_of("12.10"), 2), address=NL_ADDRESS, method=method_of(netherlands))

    quote = pricing.price_cart(cart, prices_include_tax=True)

    (line,) = quote.lines
    assert (line.unit_price, line.line_subtotal, line.tax_rate) == (D("12.10"), D("24.20"), D("0.2100"))
    assert (line.tax, line.line_total) == (D("4.20"), D("24.20"))  # 24.20 - 24.20 / 1.21
    assert quote.shipping == D("4.95")
    assert quote.shipping_tax == D("0.86")  # 4.95 - 4.95 / 1.21 = 0.8590...
    assert quote.subtotal == D("24.20")
    assert quote.tax_total == D("5.06")
    assert quote.total == D("29.15")  # tax is inside the prices: not added
    assert quote.tax_breakdown == [pricing.TaxLine(D("0.2100"), "VAT 21%", D("5.06"))]
    assert quote.prices_include_tax is True
    assert quote.ready_for_checkout and quote.problems == []


def test_tax_exclusive_store_adds_the_tax_to_net_prices(netherlands):
    cart = make_cart((variant_of("10.00"), 2), address=NL_ADDRESS, method=method_of(netherlands))

    quote = pricing.price_cart(cart, prices_include_tax=False)

    (line,) = quote.lines
    assert (line.line_subtotal, line.tax, line.line_total) == (D("20.00"), D("4.20"), D("24.20"))
    assert quote.shipping == D("4.95")
    assert quote.shipping_tax == D("1.04")  # 4.95 x 0.21 = 1.0395
    assert quote.tax_total == D("5.24")
    assert quote.total == D("30.19")  # 20.00 + 4.95 + 5.24


def test_the_store_setting_decides_when_not_overridden(app, netherlands):
    cart = make_cart((variant_of("10.00"), 1), address=NL_ADDRESS, method=method_of(netherlands))
    app.config["PRICES_INCLUDE_TAX"] = False
    try:
        assert pricing.price_cart(cart).total == D("18.09")  # 10.00 + 2.10 + 4.95 + 1.04
    finally:
        app.config["PRICES_INCLUDE_TAX"] = True
    assert pricing.price_cart(cart).total == D("14.95")


def test_region_rate_overrides_the_country_rate(db):
    tax_rates("ES", {"standard": 21})
    tax_rates("ES", {"standard": 7}, region="Canarias")
    zone = zone_with_methods("Spain", ["ES"], [{"code": "standard", "flat_rate": D("10.00")}])
    variant = variant_of("100.00")
    canarias = {**NL_ADDRESS, "city": "Las Palmas", "region": "Canarias", "country": "ES"}
    madrid = {**NL_ADDRESS, "city": "Madrid", "country": "ES"}

    island = pricing.price_cart(
        make_cart((variant, 1), address=canarias, method=method_of(zone)), prices_include_tax=False
    )
    mainland = pricing.price_cart(
        make_cart((variant, 1), address=madrid, method=method_of(zone)), prices_include_tax=False
    )

    assert (island.lines[0].tax_rate, island.lines[0].tax, island.shipping_tax) == (
        D("0.0700"),
        D("7.00"),
        D("0.70"),
    )
    assert island.total == D("117.70")
    assert (mainland.lines[0].tax, mainland.shipping_tax, mainland.total) == (
        D("21.00"),
        D("2.10"),
        D("133.10"),
    )
    assert (island.destination_country, island.destination_region) == ("ES", "Canarias")


def test_each_tax_class_is_taxed_at_its_own_rate(netherlands):
    cart = make_cart(
        (variant_of("12.10"), 1),
        (variant_of("1.09", tax_class="reduced"), 3),
        (variant_of("5.00", tax_class="zero"), 1),
        address=NL_ADDRESS,
        method=method_of(netherlands),
    )

    quote = pricing.price_cart(cart, prices_include_tax=True)

    assert [(line.tax_rate, line.tax) for line in quote.lines] == [
        (D("0.2100"), D("2.10")),
        (D("0.0900"), D("0.27")),  # 3.27 - 3.27 / 1.09
        (D("0.0000"), D("0.00")),
    ]
    assert quote.tax_breakdown == [
        pricing.TaxLine(D("0.0900"), "VAT 9%", D("0.27")),
        pricing.TaxLine(D("0.2100"), "VAT 21%", D("2.96")),  # 2.10 + 0.86 of shipping
    ]
    assert quote.tax_total == D("3.23")
    assert quote.total == D("25.32")  # 12.10 + 3.27 + 5.00 + 4.95


def test_shipping_is_taxed_at_its_methods_tax_class(db):
    tax_rates("NL", {"standard": 21, "reduced": 9})
    zone = zone_with_methods(
        "NL", ["NL"], [{"code": "standard", "flat_rate": D("10.00"), "tax_class": "reduced"}]
    )
    cart = make_cart((variant_of("10.00"), 1), address=NL_ADDRESS, method=method_of(zone))

    quote = pricing.price_cart(cart, prices_include_tax=False)

    assert (quote.shipping_tax, quote.tax_total, quote.total) == (D("0.90"), D("3.00"), D("23.00"))


def test_a_class_without_a_rate_is_not_taxed(db):
    zone = zone_with_methods("NL", ["NL"])
    cart = make_cart((variant_of("10.00"), 1), address=NL_ADDRESS, method=method_of(zone))

    quote = pricing.price_cart(cart, prices_include_tax=False)

    assert (quote.tax_total, quote.total, quote.tax_breakdown) == (D("0.00"), D("14.95"), [])


# --- rounding -----------------------------------------------------------------------


def test_tax_is_rounded_half_up_once_per_line_not_per_unit(netherlands):
    tax_rates("BE", {"standard": 10})
    zone = zone_with_methods("Belgium", ["BE"], [{"code": "standard", "flat_rate": D("0.00")}])
    cart = make_cart((variant_of("3.35"), 3), address={**NL_ADDRESS, "country": "BE"}, method=method_of(zone))

    quote = pricing.price_cart(cart, prices_include_tax=False)

    # 3 x 0.335 = 1.005 -> 1.01 (per unit it would be 3 x 0.34 = 1.02; half-even 1.00)
    assert quote.lines[0].tax == D("1.01")
    assert quote.total == D("11.06")


def test_half_a_cent_rounds_up_on_every_line_and_totals_add_the_rounded_lines(db):
    tax_rates("BE", {"standard": 10})
    zone = zone_with_methods("Belgium", ["BE"], [{"code": "standard", "flat_rate": D("0.00")}])
    cart = make_cart(
        (variant_of("1.25"), 1),
        (variant_of("1.25"), 1),
        address={**NL_ADDRESS, "country": "BE"},
        method=method_of(zone),
    )

    quote = pricing.price_cart(cart, prices_include_tax=False)

    assert [line.tax for line in quote.lines] == [D("0.13"), D("0.13")]  # 0.125 each
    assert quote.tax_total == D("0.26")  # not round(0.25)
    assert quote.total == D("2.76")
    assert quote.total == sum(line.line_total for line in quote.lines) + quote.shipping + quote.shipping_tax


def test_included_tax_is_rounded_half_up_per_line(netherlands):
    cart = make_cart((variant_of("0.99"), 1), address=NL_ADDRESS, method=method_of(netherlands))

    quote = pricing.price_cart(cart, prices_include_tax=True)

    assert quote.lines[0].tax == D("0.17")  # 0.99 - 0.99 / 1.21 = 0.1718...


# --- shipping -----------------------------------------------------------------------


def test_free_shipping_starts_at_exactly_the_threshold(db):
    zone = zone_with_methods(
        "NL", ["NL"], [{"code": "standard", "flat_rate": D("4.95"), "free_over": D("50.00")}]
    )
    at_threshold = make_cart((variant_of("25.00"), 2), address=NL_ADDRESS, method=method_of(zone))
    one_cent_short = make_cart((variant_of("49.99"), 1), address=NL_ADDRESS, method=method_of(zone))

    assert pricing.price_cart(at_threshold).shipping == D("0.00")
    assert pricing.price_cart(one_cent_short).shipping == D("4.95")


def test_weight_bands_price_by_the_first_band_that_covers_the_parcel(db):
    zone = zone_with_methods("NL", ["NL"], [])
    weight_band_method(zone, [(1000, "3.95"), (5000, "6.95")], code="parcel")
    light = variant_of("10.00", weight=250)

    def shipping_for(quantity):
        return pricing.price_cart(
            make_cart((light, quantity), address=NL_ADDRESS, method=method_of(zone, "parcel"))
        )

    assert shipping_for(4).shipping == D("3.95")  # 1000 g: the band's maximum itself
    assert shipping_for(4).weight_grams == 1000
    assert shipping_for(5).shipping == D("6.95")  # 1250 g
    too_heavy = shipping_for(21)  # 5250 g: heavier than every band
    assert too_heavy.shipping is None
    assert pricing.SHIPPING_NOT_POSSIBLE in too_heavy.problems and not too_heavy.ready_for_checkout


def test_shipping_options_list_every_method_for_the_address_with_its_price(db):
    zone = zone_with_methods(
        "NL",
        ["NL"],
        [
            {"code": "standard", "flat_rate": D("4.95")},
            {"code": "express", "bands": [(2000, "9.95")]},
        ],
    )
    cart = make_cart((variant_of("10.00", weight=3000), 1), address=NL_ADDRESS)

    quote = pricing.price_cart(cart)

    assert [(o.code, o.price) for o in quote.shipping_options] == [("standard", D("4.95")), ("express", None)]
    assert quote.shipping is None and pricing.SHIPPING_METHOD_REQUIRED in quote.problems
    assert method_of(zone, "express").kind == "weight_band"


def test_without_an_address_there_is_no_shipping_and_taxes_are_the_store_countrys(netherlands):
    cart = make_cart((variant_of("12.10"), 1))

    quote = pricing.price_cart(cart, prices_include_tax=False, store_country="NL")

    assert quote.shipping is None and quote.shipping_options == []
    assert (quote.destination_country, quote.destination_is_estimate) == ("NL", True)
    assert quote.tax_total == D("2.54")  # 12.10 x 0.21 = 2.541
    assert quote.total == D("14.64")
    assert pricing.SHIPPING_ADDRESS_REQUIRED in quote.problems and not quote.ready_for_checkout


def test_a_method_no_longer_offered_is_flagged_not_charged(db):
    zone = zone_with_methods(
        "NL", ["NL"], [{"code": "standard"}, {"code": "express", "flat_rate": D("9.95")}]
    )
    method = method_of(zone, "express")
    cart = make_cart((variant_of("10.00"), 1), address=NL_ADDRESS, method=method)
    method.is_active = False
    _db.session.flush()

    quote = pricing.price_cart(cart)

    assert quote.shipping is None and quote.shipping_method is None
    assert pricing.SHIPPING_METHOD_UNAVAILABLE in quote.problems
    assert [option.code for option in quote.shipping_options] == ["standard"]


# --- lines: availability and problems ---------------------------------------------


def test_inactive_variant_or_product_is_not_available_and_counts_in_no_total(netherlands):
    kept, dropped, archived = variant_of("10.00"), variant_of("99.00"), variant_of("50.00")
    cart = make_cart(
        (kept, 1), (dropped, 1), (archived, 1), address=NL_ADDRESS, method=method_of(netherlands)
    )
    dropped.is_active = False
    archived.product.status = "archived"
    _db.session.flush()

    quote = pricing.price_cart(cart)

    assert [line.problems for line in quote.lines] == [[], [pricing.NOT_AVAILABLE], [pricing.NOT_AVAILABLE]]
    assert quote.subtotal == D("10.00") and quote.total == D("14.95")
    assert pricing.LINE_PROBLEMS in quote.problems and not quote.ready_for_checkout


def test_quantity_above_what_can_be_ordered_is_flagged(netherlands):
    scarce = variant_of("10.00", on_hand=None)
    stock(scarce, LocationFactory(), on_hand=5, reserved=2)
    cart = make_cart((scarce, 4), address=NL_ADDRESS, method=method_of(netherlands))

    quote = pricing.price_cart(cart)

    (line,) = quote.lines
    assert line.problems == [pricing.QUANTITY_EXCEEDS_AVAILABLE]
    assert (line.availability.state, line.availability.available) == ("in_stock", 3)
    assert quote.total == D("44.95")  # still priced: the customer sees what lowering costs
    assert not quote.ready_for_checkout
    assert line.availability.backordered_quantity == 0  # it takes no backorders


def test_an_emptied_cart_charges_no_shipping_even_with_a_method_chosen(netherlands):
    cart = make_cart((variant_of("10.00"), 1), address=NL_ADDRESS, method=method_of(netherlands))
    cart.lines.clear()
    _db.session.flush()

    quote = pricing.price_cart(cart)

    assert (quote.shipping, quote.tax_total, quote.total) == (None, D("0.00"), D("0.00"))
    assert pricing.CART_EMPTY in quote.problems


def test_backorderable_units_are_not_a_problem_and_say_when_they_come(netherlands):
    variant = variant_of("10.00", on_hand=1)
    variant.backorder_policy, variant.backorder_limit = "allow", 2
    fits = pricing.price_cart(make_cart((variant, 3), address=NL_ADDRESS, method=method_of(netherlands)))
    too_many = pricing.price_cart(make_cart((variant, 4), address=NL_ADDRESS, method=method_of(netherlands)))

    assert fits.lines[0].problems == [] and fits.lines[0].availability.backordered_quantity == 2
    assert too_many.lines[0].problems == [pricing.QUANTITY_EXCEEDS_AVAILABLE]
    assert fits.lines[0].availability.state == "in_stock"  # one unit ships now


def test_backorder_line_carries_the_expected_restock_date(netherlands):
    variant = variant_of("10.00", on_hand=None)
    variant.backorder_policy = "allow"
    variant.expected_restock_date = date(2030, 1, 15)
    _db.session.flush()

    (line,) = pricing.price_cart(make_cart((variant, 7), address=NL_ADDRESS)).lines

    assert line.availability.state == "backorder"
    assert line.availability.expected_restock_date == date(2030, 1, 15)
    assert line.availability.backordered_quantity == 7 and line.problems == []


def test_cart_problems_say_what_stands_between_the_cart_and_checkout(netherlands):
    empty_guest = make_cart(email=None)

    quote = pricing.price_cart(empty_guest)

    assert quote.problems == [pricing.CART_EMPTY, pricing.EMAIL_REQUIRED, pricing.SHIPPING_ADDRESS_REQUIRED]
    assert quote.total == D("0.00") and quote.lines == []


# --- the discount step ------------------------------------------------------------


class TenPercentOff:
    def apply(self, draft):
        total = sum((line.line_subtotal for line in draft.counted_lines), D("0"))
        pricing.allocate_discount(draft.counted_lines, total / 10)
        draft.applied_discounts.append(pricing.AppliedDiscount("TEN", "10 % off", total / 10))


@pytest.fixture
def ten_percent_off():
    step = TenPercentOff()
    pricing.register_discount_step(step)
    yield step
    pricing.unregister_discount_step(step)


def test_no_discount_step_is_registered_until_promotions_plug_in():
    assert pricing.discount_steps() == ()


def test_discounts_apply_before_shipping_and_tax(netherlands, ten_percent_off):
    netherlands.methods[0].free_over = D("50.00")
    cart = make_cart(
        (variant_of("30.00"), 1), (variant_of("25.00"), 1), address=NL_ADDRESS, method=method_of(netherlands)
    )

    quote = pricing.price_cart(cart, prices_include_tax=False)

    assert [line.discount for line in quote.lines] == [D("3.00"), D("2.50")]
    assert quote.discount_total == D("5.50")
    assert quote.shipping == D("4.95")  # 49.50 after the discount: below the free-over amount
    assert [line.tax for line in quote.lines] == [D("5.67"), D("4.73")]  # 27.00 and 22.50 at 21 %
    assert quote.total == D("49.50") + D("4.95") + D("10.40") + D("1.04")
    assert quote.applied_discounts[0].code == "TEN"


def test_an_order_discount_is_spread_over_lines_in_whole_cents_that_add_up():
    lines = [
        pricing.LineQuote(i, i, i, f"S{i}", "n", "t", "s", "standard", 0, 1, D("1.00"), D("1.00"))
        for i in range(3)
    ]

    pricing.allocate_discount(lines, D("1.00"))

    assert sorted(line.discount for line in lines) == [D("0.33"), D("0.33"), D("0.34")]
    assert sum(line.discount for line in lines) == D("1.00")


# --- cost ---------------------------------------------------------------------------


def test_pricing_a_five_line_cart_takes_a_handful_of_queries(netherlands):
    cart = make_cart(
        *[(variant_of("10.00"), 1) for _ in range(5)], address=NL_ADDRESS, method=method_of(netherlands)
    )
    _db.session.expire_all()
    cart = carts.load_cart(cart.token)
    statements = []
    engine_connection = _db.session.connection()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine_connection, "before_cursor_execute", listener)
    try:
        quote = pricing.price_cart(cart)
    finally:
        event.remove(engine_connection, "before_cursor_execute", listener)

    assert quote.ready_for_checkout
    # lines+variants+products, availability, zone, methods, bands, tax rates
    assert len(statements) <= 6, statements
