"""The phone order form: staff pick a customer (their default address fills the shipping
fields) or type a guest email, add lines by SKU (name and price looked up as typed),
choose a method offered for the country, review the totals without saving anything, and
place the order through the one checkout; mistakes come back next to their fields with
everything typed kept, and a double click places one order."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.blueprints.customers.models import CustomerAddress
from app.blueprints.orders.models import Cart
from app.blueprints.orders.order_models import Order
from app.blueprints.orders.payment_models import PaymentTransaction
from app.extensions import db
from tests.catalog.views_support import field_error, flashes, htmx, input_value, role_with, signed_in
from tests.factories.customers import CustomerFactory
from tests.orders.checkout_helpers import make_shop

NEW = "/orders/new"


@pytest.fixture
def shop(db):
    return make_shop(teapot_stock=3)


@pytest.fixture
def sales(portal, db):
    signed_in(portal, "sales")
    return portal


@pytest.fixture
def ada(db):
    customer = CustomerFactory(email="ada@example.org", first_name="Ada", last_name="Lovelace")
    customer.addresses.append(
        CustomerAddress(
            recipient="Ada Lovelace",
            line1="Herengracht 12",
            postal_code="1015 BS",
            city="Amsterdam",
            country="NL",
            is_default_shipping=True,
        )
    )
    db.session.flush()
    return customer


def order_form(shop, **changes) -> dict:
    """A complete form for a guest: a teapot and two cups to Amsterdam, standard shipping."""
    data = {
        "submission_key": "key-1",
        "customer_id": "",
        "email": "guest@example.org",
        "lines-0-sku": shop.teapot.sku,
        "lines-0-quantity": "1",
        "lines-1-sku": shop.cup.sku,
        "lines-1-quantity": "2",
        "shipping_address-recipient": "Grace Hopper",
        "shipping_address-line1": "Damrak 1",
        "shipping_address-postal_code": "1012 LG",
        "shipping_address-city": "Amsterdam",
        "shipping_address-region": "",
        "shipping_address-country": "NL",
        "shipping_method": "standard",
        "payment_method": "manual",
        "note": "Leave at the door",
        "action": "place",
    }
    data.update(changes)
    return data


def order_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Order))


def test_taking_phone_orders_needs_orders_manage(portal, db):
    signed_in(portal, role_with("Reader", "orders.read"))
    assert portal.get(NEW).status_code == 403
    assert portal.post(NEW, data={"action": "place"}).status_code == 403
    assert 'href="/orders/new"' not in portal.get("/orders").text


def test_the_form_starts_with_the_store_country_and_its_methods(sales, shop):
    page = sales.get(NEW)
    assert page.status_code == 200
    assert "<title>New order" in page.text
    assert re.search(r'<option selected value="NL">', page.text)
    assert "Standard · €4.95" in page.text and "Express · €9.95" in page.text
    assert '<label class="visually-hidden" for="lines-0-sku">SKU of line 1</label>' in page.text
    assert input_value(page.text, "submission_key")


def test_searching_customers_offers_them_to_choose(sales, shop, ada):
    fragment = sales.get(f"{NEW}?customer_q=lovel", headers=htmx("customer-results"))
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "Ada Lovelace" in fragment.text and f'value="pick_customer:{ada.id}"' in fragment.text
    # The same URL is a whole page without HTMX.
    page = sales.get(f"{NEW}?customer_q=lovel")
    assert "<html" in page.text and "Ada Lovelace" in page.text
    assert "No customer matches" in sales.get(f"{NEW}?customer_q=zzzz", headers=htmx("customer-results")).text


def test_choosing_a_customer_fills_the_shipping_address(sales, shop, ada):
    data = order_form(shop, action=f"pick_customer:{ada.id}", email="", customer_q="lovel")
    data["shipping_address-line1"] = ""
    response = sales.post(NEW, data=data, headers=htmx("phone-order-form"))
    assert response.status_code == 200 and "<html" not in response.text
    assert "Ada Lovelace" in response.text and "Change customer" in response.text
    assert input_value(response.text, "shipping_address-line1") == "Herengracht 12"
    assert input_value(response.text, "shipping_address-recipient") == "Ada Lovelace"
    assert input_value(response.text, "customer_id") == str(ada.id)
    assert input_value(response.text, "lines-1-sku") == shop.cup.sku  # the lines stay


def test_a_customer_page_link_starts_the_form_for_that_customer(sales, shop, ada):
    page = sales.get(f"{NEW}?customer={ada.id}").text
    assert input_value(page, "customer_id") == str(ada.id)
    assert input_value(page, "shipping_address-city") == "Amsterdam"


def test_add_line_swaps_the_lines_with_one_more_and_keeps_what_was_typed(sales, shop):
    response = sales.post(NEW, data=order_form(shop, action="add_line"), headers=htmx("order-lines"))
    assert response.status_code == 200 and "<html" not in response.text
    assert input_value(response.text, "lines-0-sku") == shop.teapot.sku
    assert input_value(response.text, "lines-1-quantity") == "2"
    assert 'id="lines-2-sku"' in response.text and "autofocus" in response.text
    assert "Teapot" in response.text and "€12.10 each" in response.text
    removed = sales.post(NEW, data=order_form(shop, action="remove_line:0"), headers=htmx("order-lines"))
    assert f'value="{shop.cup.sku}"' in removed.text and f'value="{shop.teapot.sku}"' not in removed.text
    assert "SKU of line 2" not in removed.text


def test_a_typed_sku_is_looked_up_in_place(sales, shop):
    found = sales.post(NEW, data=order_form(shop, action="lookup:1"), headers=htmx("line-1-item"))
    assert found.status_code == 200
    assert found.text.strip().startswith('<td id="line-1-item"')
    assert "Cup" in found.text and "€3.50 each" in found.text
    unknown = sales.post(
        NEW, data=order_form(shop, action="lookup:0", **{"lines-0-sku": "NOPE"}), headers=htmx("line-0-item")
    )
    assert "No item has this SKU." in unknown.text


def test_the_methods_follow_the_country(sales, shop):
    response = sales.post(
        NEW,
        data=order_form(shop, action="methods", **{"shipping_address-country": "DE"}),
        headers=htmx("shipping-methods"),
    )
    assert response.status_code == 200 and "<html" not in response.text
    assert "We do not ship to this country." in response.text and "Standard" not in response.text


def test_reviewing_prices_the_order_and_saves_nothing(sales, shop):
    carts_before = db.session.scalar(select(func.count()).select_from(Cart))
    response = sales.post(NEW, data=order_form(shop, action="review"), headers=htmx("phone-order-form"))
    assert response.status_code == 200, response.text
    assert re.search(r'id="review-total">€24.05<', response.text)  # 12.10 + 2 x 3.50 + 4.95
    assert "VAT 21%" in response.text
    assert order_count() == 0
    assert db.session.scalar(select(func.count()).select_from(Cart)) == carts_before


def test_a_review_with_mistakes_shows_them_and_no_totals(sales, shop):
    data = order_form(shop, action="review", **{"lines-0-sku": "NOPE", "shipping_address-country": "DE"})
    response = sales.post(NEW, data=data, headers=htmx("phone-order-form"))
    assert response.status_code == 422
    assert field_error(response.text, "lines-0-sku") == "No item has this SKU."
    assert field_error(response.text, "shipping_address-country") == "We do not ship to this country."
    assert 'id="review-total"' not in response.text


def test_placing_an_order_for_a_customer_lands_on_its_page(sales, shop, ada):
    data = order_form(shop, customer_id=str(ada.id), email="")
    data["shipping_address-line1"] = "Herengracht 12"
    response = sales.post(NEW, data=data)
    assert response.status_code == 302, response.text
    order = db.session.scalar(select(Order))
    assert response.headers["Location"] == f"/orders/{order.number}"
    assert (order.channel, order.customer_id, order.email) == ("phone", ada.id, "ada@example.org")
    assert order.placed_by_id is not None and order.customer_note == "Leave at the door"
    assert [(line.sku, line.quantity) for line in order.lines] == [(shop.teapot.sku, 1), (shop.cup.sku, 2)]
    assert order.shipping_address["line1"] == "Herengracht 12"
    # The payment was started as at checkout: the manual gateway waits for the money.
    assert db.session.scalar(select(PaymentTransaction.kind)) == "authorize"
    page = sales.get(response.headers["Location"]).text
    assert f"Order {order.number} is placed for ada@example.org." in flashes(page)
    assert "Order placed by phone" in page


def test_a_bad_sku_comes_back_next_to_its_line_with_everything_typed_kept(sales, shop):
    response = sales.post(NEW, data=order_form(shop, **{"lines-1-sku": "CUP-TYPO"}))
    assert response.status_code == 422
    assert field_error(response.text, "lines-1-sku") == "No item has this SKU."
    assert input_value(response.text, "lines-1-sku") == "CUP-TYPO"
    assert input_value(response.text, "lines-0-sku") == shop.teapot.sku
    assert input_value(response.text, "shipping_address-line1") == "Damrak 1"
    assert input_value(response.text, "email") == "guest@example.org"
    assert "Leave at the door" in response.text
    assert "Please correct the field marked below." in response.text
    assert order_count() == 0


def test_a_guest_order_needs_an_email_and_an_address(sales, shop):
    data = order_form(shop, email="", **{"shipping_address-city": ""})
    response = sales.post(NEW, data=data)
    assert response.status_code == 422
    assert field_error(response.text, "email") == "Required without a customer."
    response = sales.post(NEW, data=order_form(shop, **{"shipping_address-city": ""}))
    assert field_error(response.text, "shipping_address-city") == "Required."


def test_out_of_stock_is_said_at_the_top_and_on_the_line(sales, shop):
    response = sales.post(NEW, data=order_form(shop, **{"lines-0-quantity": "5"}))  # 3 teapots in stock
    assert response.status_code == 422
    top = re.search(r'<div class="alert error" role="alert">(.*?)</div>', response.text, re.S).group(1)
    assert "Some items are not available" in top
    assert (
        field_error(response.text, "lines-0-quantity")
        == "Not that many in stock (and no backorders allowed)."
    )
    assert input_value(response.text, "lines-0-quantity") == "5"
    assert order_count() == 0


def test_a_second_click_places_no_second_order(sales, shop):
    first = sales.post(NEW, data=order_form(shop))
    second = sales.post(NEW, data=order_form(shop))
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert order_count() == 1
    # A new form is a new order.
    assert sales.post(NEW, data=order_form(shop, submission_key="key-2")).status_code == 302
    assert order_count() == 2
