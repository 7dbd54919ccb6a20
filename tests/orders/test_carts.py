"""Cart services: ownership, lines, details, claiming a guest cart at sign-in, expiry."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from app.blueprints.orders import carts, jobs, promo_codes
from app.blueprints.orders.models import Cart
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.timeutil import utcnow
from app.extensions import db as _db
from tests.factories.catalog import ProductFactory, product_with_variants
from tests.factories.customers import CustomerFactory
from tests.factories.orders import zone_with_methods

ADDRESS = {
    "recipient": "Ada",
    "line1": "Damrak 1",
    "postal_code": "1012 LG",
    "city": "Amsterdam",
    "country": "nl",
}


def sku_of(price="10.00", **fields):
    return ProductFactory(price=Decimal(price), **fields).variants[0].sku


@pytest.fixture
def netherlands(db):
    return zone_with_methods(
        "Netherlands",
        ["NL"],
        [
            {"code": "standard", "flat_rate": Decimal("4.95")},
            {"code": "express", "flat_rate": Decimal("9.95")},
        ],
    )


def errors_of(excinfo) -> dict:
    return excinfo.value.errors or {}


# --- creating and finding ---------------------------------------------------------


def test_a_new_cart_has_a_long_random_token_and_the_store_currency(db):
    cart = carts.create_cart(email="  Ada@Example.ORG ")

    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", cart.token)
    assert (cart.currency, cart.status, cart.email, cart.customer_id) == (
        "EUR",
        "open",
        "ada@example.org",
        None,
    )
    assert carts.create_cart().token != cart.token


def test_a_guest_email_must_be_an_email(db):
    with pytest.raises(InvalidInput) as excinfo:
        carts.create_cart(email="not an address")
    assert "email" in errors_of(excinfo)


def test_a_customer_has_one_open_cart(db):
    customer = CustomerFactory()
    first, created = carts.cart_for_customer(customer)
    again, created_again = carts.cart_for_customer(customer)

    assert created and not created_again and again is first
    assert first.customer_id == customer.id


def test_a_guest_cart_is_found_by_its_token_alone(db):
    cart = carts.create_cart()

    assert carts.load_cart(cart.token) is cart
    assert carts.load_cart(cart.token, customer=CustomerFactory()) is cart


def test_another_customers_cart_is_not_found_never_forbidden(db):
    owner, stranger = CustomerFactory(), CustomerFactory()
    cart = carts.create_cart(customer=owner)

    assert carts.load_cart(cart.token, customer=owner) is cart
    for who in (stranger, None):
        with pytest.raises(NotFound) as excinfo:
            carts.load_cart(cart.token, customer=who)
        assert excinfo.value.code == "cart_not_found"


@pytest.mark.parametrize("token", ["", "nope", "x" * 500])
def test_unknown_tokens_are_not_found(db, token):
    with pytest.raises(NotFound):
        carts.load_cart(token)


# --- lines --------------------------------------------------------------------------


def test_adding_an_item_already_in_the_cart_adds_up_the_quantities(db):
    cart = carts.create_cart()
    sku = sku_of()

    first = carts.add_line(cart, sku=sku, quantity=2)
    again = carts.add_line(cart, variant_id=first.variant_id, quantity=3)

    assert again is first and first.quantity == 5 and len(cart.lines) == 1


@pytest.mark.parametrize("quantity", [0, -1, 1000, 1_000_000])
def test_quantities_outside_1_to_999_are_refused(db, quantity):
    cart = carts.create_cart()
    with pytest.raises(InvalidInput) as excinfo:
        carts.add_line(cart, sku=sku_of(), quantity=quantity)
    assert "quantity" in errors_of(excinfo)
    assert cart.lines == []


def test_merging_cannot_go_past_999(db):
    cart = carts.create_cart()
    sku = sku_of()
    carts.add_line(cart, sku=sku, quantity=900)

    with pytest.raises(InvalidInput) as excinfo:
        carts.add_line(cart, sku=sku, quantity=100)
    assert "quantity" in errors_of(excinfo)


def test_an_unknown_sku_is_a_field_error_on_sku(db):
    with pytest.raises(InvalidInput) as excinfo:
        carts.add_line(carts.create_cart(), sku="NO-SUCH-SKU")
    assert list(errors_of(excinfo)) == ["sku"]


def test_an_unknown_variant_id_is_a_field_error_on_variant_id(db):
    with pytest.raises(InvalidInput) as excinfo:
        carts.add_line(carts.create_cart(), variant_id=987654)
    assert list(errors_of(excinfo)) == ["variant_id"]


def test_items_not_for_sale_cannot_be_added(db):
    product = product_with_variants({"Size": ["S", "M"]}, inactive=(("M",),), sku_prefix="TEE")
    draft = ProductFactory(status="draft")
    cart = carts.create_cart()

    for sku in ("TEE-M", draft.variants[0].sku):
        with pytest.raises(InvalidInput) as excinfo:
            carts.add_line(cart, sku=sku)
        assert "not for sale" in errors_of(excinfo)["sku"][0]
    assert carts.add_line(cart, sku="TEE-S").variant_id == product.variants[0].id


def test_an_item_is_named_by_sku_or_variant_id_not_both(db):
    with pytest.raises(InvalidInput):
        carts.add_line(carts.create_cart(), sku="A", variant_id=1)
    with pytest.raises(InvalidInput):
        carts.add_line(carts.create_cart())


def test_a_cart_holds_a_limited_number_of_different_items(db, monkeypatch):
    monkeypatch.setattr(carts, "MAX_LINES", 2)
    cart = carts.create_cart()
    carts.add_line(cart, sku=sku_of())
    carts.add_line(cart, sku=sku_of())

    with pytest.raises(Conflict) as excinfo:
        carts.add_line(cart, sku=sku_of())
    assert excinfo.value.code == "cart_full"


def test_changing_and_removing_lines(db):
    cart = carts.create_cart()
    line = carts.add_line(cart, sku=sku_of(), quantity=1)
    before = cart.updated_at

    carts.update_line(cart, line.id, 7)
    assert line.quantity == 7 and cart.updated_at >= before

    with pytest.raises(InvalidInput):
        carts.update_line(cart, line.id, 0)
    carts.remove_line(cart, line.id)
    _db.session.expire_all()
    assert carts.load_cart(cart.token).lines == []


def test_a_line_of_another_cart_is_not_found(db):
    mine, theirs = carts.create_cart(), carts.create_cart()
    their_line = carts.add_line(theirs, sku=sku_of())

    with pytest.raises(NotFound) as excinfo:
        carts.update_line(mine, their_line.id, 2)
    assert excinfo.value.code == "cart_line_not_found"
    with pytest.raises(NotFound):
        carts.remove_line(mine, their_line.id)
    assert their_line.quantity == 1


@pytest.mark.parametrize("status", ["checked_out", "expired"])
def test_only_open_carts_change(db, netherlands, status):
    cart = carts.create_cart()
    line = carts.add_line(cart, sku=sku_of())
    cart.status = status
    changes = [
        lambda: carts.add_line(cart, sku=sku_of()),
        lambda: carts.update_line(cart, line.id, 2),
        lambda: carts.remove_line(cart, line.id),
        lambda: carts.set_email(cart, "a@example.org"),
        lambda: carts.set_addresses(cart, shipping_address=ADDRESS),
        lambda: carts.set_shipping_method(cart, "standard"),
    ]
    for change in changes:
        with pytest.raises(Conflict) as excinfo:
            change()
        assert excinfo.value.code == "cart_not_open"


# --- details ------------------------------------------------------------------------


def test_addresses_are_validated_and_stored_cleaned(db, netherlands):
    cart = carts.create_cart()

    carts.set_addresses(
        cart, shipping_address=ADDRESS, billing_address={**ADDRESS, "country": "US", "region": "NY"}
    )

    assert cart.shipping_address == {
        "recipient": "Ada",
        "line1": "Damrak 1",
        "line2": "",
        "postal_code": "1012 LG",
        "city": "Amsterdam",
        "region": "",
        "country": "NL",
    }
    assert cart.billing_address["country"] == "US"  # billed anywhere, shipped where a zone serves


def test_missing_address_fields_are_named(db, netherlands):
    with pytest.raises(InvalidInput) as excinfo:
        carts.set_addresses(carts.create_cart(), shipping_address={"line1": " ", "country": "XX"})
    assert set(errors_of(excinfo)) == {
        "shipping_address.line1",
        "shipping_address.city",
        "shipping_address.country",
    }


def test_a_country_no_zone_serves_is_an_error_on_the_shipping_country(db, netherlands):
    cart = carts.create_cart()
    with pytest.raises(InvalidInput) as excinfo:
        carts.set_addresses(cart, shipping_address={**ADDRESS, "country": "JP"})
    assert list(errors_of(excinfo)) == ["shipping_address.country"]
    assert cart.shipping_address is None


def test_the_shipping_method_must_be_offered_for_the_address(db, netherlands):
    cart = carts.create_cart()
    with pytest.raises(InvalidInput) as excinfo:
        carts.set_shipping_method(cart, "standard")
    assert "address first" in errors_of(excinfo)["shipping_method"][0]

    carts.set_addresses(cart, shipping_address=ADDRESS)
    with pytest.raises(InvalidInput) as excinfo:
        carts.set_shipping_method(cart, "teleport")
    assert list(errors_of(excinfo)) == ["shipping_method"]

    carts.set_shipping_method(cart, "express")
    assert cart.shipping_method.code == "express"


def test_moving_to_an_address_the_method_does_not_serve_drops_the_method(db, netherlands):
    zone_with_methods("Belgium", ["BE"], [{"code": "standard"}])
    cart = carts.create_cart()
    carts.set_addresses(cart, shipping_address=ADDRESS)
    carts.set_shipping_method(cart, "express")

    carts.set_addresses(cart, shipping_address={**ADDRESS, "city": "Utrecht"})
    assert cart.shipping_method.code == "express"  # still offered
    carts.set_addresses(cart, shipping_address={**ADDRESS, "city": "Gent", "country": "BE"})
    assert cart.shipping_method is None


def test_update_details_reports_every_field_error_at_once(db, netherlands):
    cart = carts.create_cart()
    with pytest.raises(InvalidInput) as excinfo:
        carts.update_details(cart, email="nope", shipping_address={**ADDRESS, "country": "JP"})
    assert set(errors_of(excinfo)) == {"email", "shipping_address.country"}


def test_update_details_checks_the_method_against_the_new_address(db, netherlands):
    cart = carts.create_cart()

    carts.update_details(cart, email="ada@example.org", shipping_address=ADDRESS, shipping_method="standard")

    assert (cart.email, cart.shipping_address["country"], cart.shipping_method.code) == (
        "ada@example.org",
        "NL",
        "standard",
    )


# --- claiming at sign-in ------------------------------------------------------------


def test_a_guest_cart_becomes_the_customers_when_they_have_none(db):
    customer = CustomerFactory()
    guest = carts.create_cart()

    claimed = carts.claim_guest_cart(guest, customer)

    assert claimed is guest and guest.customer_id == customer.id and guest.status == "open"


def test_claiming_merges_the_guest_lines_into_the_customers_open_cart(db, netherlands):
    customer = CustomerFactory()
    shared, only_guest, only_mine = sku_of(), sku_of(), sku_of()
    mine = carts.create_cart(customer=customer)
    carts.add_line(mine, sku=shared, quantity=2)
    carts.add_line(mine, sku=only_mine, quantity=1)
    guest = carts.create_cart(email="ada@example.org")
    carts.add_line(guest, sku=shared, quantity=3)
    carts.add_line(guest, sku=only_guest, quantity=4)
    carts.set_addresses(guest, shipping_address=ADDRESS)
    carts.set_shipping_method(guest, "express")

    result = carts.claim_guest_cart(guest, customer)

    assert result is mine
    _db.session.expire_all()
    mine = carts.load_cart(mine.token, customer=customer)
    quantities = {line.variant_id: line.quantity for line in mine.lines}
    variant_of = {sku: variant_id for variant_id, sku in _variant_skus()}
    assert quantities == {variant_of[shared]: 5, variant_of[only_mine]: 1, variant_of[only_guest]: 4}
    assert (mine.email, mine.shipping_address["city"], mine.shipping_method.code) == (
        "ada@example.org",
        "Amsterdam",
        "express",
    )
    guest = _db.session.get(Cart, guest.id)
    assert (guest.status, guest.customer_id, guest.lines) == ("expired", customer.id, [])
    with pytest.raises(NotFound):
        carts.load_cart(guest.token)  # the old guest token shows nothing any more


def _variant_skus():
    from app.blueprints.catalog.models import Variant

    return _db.session.execute(select(Variant.id, Variant.sku)).all()


def test_merged_quantities_stop_at_999(db):
    customer = CustomerFactory()
    sku = sku_of()
    mine = carts.create_cart(customer=customer)
    carts.add_line(mine, sku=sku, quantity=900)
    guest = carts.create_cart()
    carts.add_line(guest, sku=sku, quantity=500)

    assert carts.claim_guest_cart(guest, customer).lines[0].quantity == 999


def test_claiming_is_idempotent_and_never_reaches_another_customers_cart(db):
    owner, thief = CustomerFactory(), CustomerFactory()
    cart = carts.create_cart(customer=owner)

    assert carts.claim_guest_cart(cart, owner) is cart
    with pytest.raises(NotFound):
        carts.claim_guest_cart(cart, thief)
    assert cart.customer_id == owner.id


def test_a_checked_out_guest_cart_cannot_be_claimed(db):
    guest = carts.create_cart()
    guest.status = "checked_out"
    with pytest.raises(Conflict):
        carts.claim_guest_cart(guest, CustomerFactory())


# --- expiry -------------------------------------------------------------------------


def test_stale_open_carts_expire_in_one_update(db):
    now = utcnow()
    stale, fresh, done = carts.create_cart(), carts.create_cart(), carts.create_cart()
    stale.updated_at = now - timedelta(days=30, seconds=1)
    fresh.updated_at = now - timedelta(days=29)
    done.updated_at, done.status = now - timedelta(days=90), "checked_out"
    _db.session.flush()
    statements = []
    connection = _db.session.connection()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(connection, "before_cursor_execute", listener)
    try:
        expired = carts.expire_stale_carts(now)
    finally:
        event.remove(connection, "before_cursor_execute", listener)

    assert expired == 1
    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("UPDATE")
    _db.session.expire_all()
    assert [_db.session.get(Cart, c.id).status for c in (stale, fresh, done)] == [
        "expired",
        "open",
        "checked_out",
    ]
    assert carts.expire_stale_carts(now) == 0


def test_the_expiry_job_uses_the_configured_number_of_days(app, db):
    cart = carts.create_cart()
    cart.updated_at = utcnow() - timedelta(days=3)
    _db.session.flush()
    app.config["CART_EXPIRY_DAYS"] = 2
    try:
        assert jobs.expire_stale_carts() == 1
    finally:
        app.config["CART_EXPIRY_DAYS"] = 30
    _db.session.expire_all()
    assert _db.session.get(Cart, cart.id).status == "expired"


# --- promo codes --------------------------------------------------------------------


def test_promo_codes_are_refused_until_promotions_plug_in(db):
    cart = carts.create_cart()
    for attempt in (
        lambda: promo_codes.apply_promo_code(cart, "SUMMER"),
        lambda: promo_codes.remove_promo_code(cart),
    ):
        with pytest.raises(Conflict) as excinfo:
            attempt()
        assert excinfo.value.code == "promotions_unavailable"


def test_a_registered_promo_code_handler_takes_the_codes(db):
    class Recorder:
        def apply(self, cart, code):
            cart.promo_code = code

        def remove(self, cart):
            cart.promo_code = None

    promo_codes.register_promo_code_handler(Recorder())
    try:
        cart = promo_codes.apply_promo_code(carts.create_cart(), "SUMMER")
        assert cart.promo_code == "SUMMER"
        assert promo_codes.remove_promo_code(cart).promo_code is None
    finally:
        promo_codes.register_promo_code_handler(None)


def test_claiming_refuses_a_merge_beyond_the_cart_item_limit(db, netherlands, monkeypatch):
    monkeypatch.setattr(carts, "MAX_LINES", 2)
    customer = CustomerFactory()
    mine = carts.create_cart(customer=customer)
    carts.add_line(mine, sku=sku_of(), quantity=1)
    guest = carts.create_cart(email="ada@example.org")
    carts.add_line(guest, sku=sku_of(), quantity=1)
    carts.add_line(guest, sku=sku_of(), quantity=1)

    with pytest.raises(Conflict) as refused:
        carts.claim_guest_cart(guest, customer)

    assert refused.value.code == "cart_full"
    assert guest.customer_id is None and len(mine.lines) == 1
