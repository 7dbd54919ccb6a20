"""A phone order in a real browser: a sales agent finds the customer (their default
address fills the shipping fields), adds two SKUs (each looked up as typed, the second on
a line added with HTMX), picks express shipping, reviews the totals, places the order,
lands on the order page, marks the bank transfer as paid and sees the order become paid
with the placement, the status change and the payment on its timeline."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from app.blueprints.customers.models import CustomerAddress
from tests.factories.auth import PASSWORD, UserFactory
from tests.factories.customers import CustomerFactory
from tests.orders.checkout_helpers import make_shop

pytestmark = pytest.mark.e2e

AGENT_EMAIL = "sam.sales@example.com"
AGENT_NAME = "Sam Sales"
MARKER = "set before the HTMX swaps"


@pytest.fixture
def shop_and_customer(committed_db):
    """A shop (teapot 12.10, cup 3.50, NL standard 4.95 / express 9.95), a sales agent and
    a customer with a default shipping address."""
    UserFactory(email=AGENT_EMAIL, name=AGENT_NAME, roles=["sales"])
    shop = make_shop()
    customer = CustomerFactory(first_name="Marta", last_name="Kowalczyk", email="marta@example.org")
    customer.addresses.append(
        CustomerAddress(
            recipient="Marta Kowalczyk",
            line1="Herengracht 12",
            postal_code="1015 BS",
            city="Amsterdam",
            country="NL",
            is_default_shipping=True,
        )
    )
    committed_db.session.commit()  # the server thread must see them
    return {"teapot": shop.teapot.sku, "cup": shop.cup.sku}


def sign_in(page) -> None:
    page.goto("/login")
    page.get_by_role("textbox", name="Email", exact=True).fill(AGENT_EMAIL)
    page.get_by_role("textbox", name="Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label(f"Account menu for {AGENT_NAME}")).to_be_visible()


def htmx_settled(page) -> None:
    """Wait until HTMX has no request in flight and has wired up what it swapped in."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )


def test_a_sales_agent_takes_a_phone_order_and_marks_it_paid(
    page, problems, live_server, shop_and_customer, screenshot
):
    skus = shop_and_customer
    sign_in(page)

    # --- From the order list to the phone order form.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Orders", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Orders")
    page.get_by_role("link", name="New order").click()
    expect(page).to_have_url(f"{live_server.url}/orders/new")
    page.wait_for_load_state("networkidle")
    page.evaluate("marker => { window.__e2eMarker = marker; }", MARKER)

    # --- The customer, found by name; their default address fills the shipping fields.
    page.get_by_role("searchbox", name="Find a customer").fill("kowal")
    choose = page.get_by_role("button", name="Choose Marta Kowalczyk")
    expect(choose).to_be_visible()
    htmx_settled(page)
    choose.click()
    expect(page.get_by_text("marta@example.org")).to_be_visible()
    expect(page.get_by_role("button", name="Change customer")).to_be_visible()
    expect(page.get_by_role("textbox", name="Street and number")).to_have_value("Herengracht 12")
    htmx_settled(page)

    # --- Two items: each SKU shows its item and price once typed.
    sku_1 = page.get_by_role("textbox", name="SKU of line 1")
    sku_1.fill(skus["teapot"])
    sku_1.press("Tab")
    expect(page.locator("#line-0-item")).to_contain_text("€12.10 each")
    htmx_settled(page)
    page.get_by_role("button", name="Add line").click()
    sku_2 = page.get_by_role("textbox", name="SKU of line 2")
    expect(sku_2).to_be_focused()
    expect(page.get_by_role("textbox", name="SKU of line 1")).to_have_value(skus["teapot"])
    htmx_settled(page)
    sku_2.fill(skus["cup"])
    page.get_by_role("spinbutton", name="Quantity of line 2").fill("2")
    expect(page.locator("#line-1-item")).to_contain_text("€3.50 each")
    htmx_settled(page)

    # --- Express shipping, then the totals before placing: 12.10 + 2 x 3.50 + 9.95.
    page.get_by_role("combobox", name="Shipping method").select_option("express")
    page.get_by_role("button", name="Review totals").click()
    expect(page.locator("#review-total")).to_have_text("€29.05")
    assert page.evaluate("window.__e2eMarker") == MARKER  # all of it without a page load
    htmx_settled(page)
    screenshot("e2e-phone-order-form.png")

    # --- Placed: the order page, pending payment.
    page.get_by_role("button", name="Place order").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(live_server.url)}/orders/\d{{6}}$"))
    number = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {number}")
    expect(page.locator(".flashes")).to_contain_text(f"Order {number} is placed for marta@example.org.")
    expect(page.locator("#order-status")).to_have_text("Pending payment")
    lines = page.locator("table.order-lines tbody")
    expect(lines.get_by_role("row")).to_have_count(2)
    expect(lines).to_contain_text(skus["teapot"])
    expect(page.locator("#order-timeline")).to_contain_text("Order placed by phone")

    # --- The bank transfer is in: the amount defaults to the balance.
    amount = page.get_by_role("spinbutton", name="Amount received (EUR)")
    expect(amount).to_have_value("29.05")
    page.get_by_role("textbox", name="Payment note").fill("Transfer received")
    page.get_by_role("button", name="Mark paid").click()
    expect(page.locator(".flashes")).to_contain_text(f"Order {number} is marked paid.")
    expect(page.locator("#order-status")).to_have_text("Paid")
    expect(page.locator("#payment-status")).to_have_text("Paid")
    timeline = page.locator("#order-timeline ol.timeline > li")
    expect(timeline.filter(has_text="Pending payment → Paid")).to_have_count(1)
    expect(page.locator("#order-timeline li.kind-payment")).to_contain_text("Payment received · €29.05")
    entries = timeline.all_text_contents()
    changed = next(i for i, text in enumerate(entries) if "Pending payment → Paid" in text)
    placed = next(i for i, text in enumerate(entries) if "Order placed by phone" in text)
    assert changed < placed  # newest first
    expect(page.get_by_role("button", name="Mark paid")).to_have_count(0)
    expect(page.get_by_role("button", name="Start processing")).to_be_visible()
    screenshot("e2e-phone-order-paid.png")
    assert problems.all() == []
