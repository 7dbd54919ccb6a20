"""Shipping with a carrier rate in a real browser: a support agent opens the ship page of a
paid order, chooses ParcelHub, compares its carriers' rates (HTMX, cheapest first), picks
PostNL, confirms, and lands on the order page with the shipment made for that rate.
ParcelHub is a local server that answers like it (pytest-httpserver)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.blueprints.fulfilment.models import Shipment
from app.blueprints.orders import order_queries, payments
from app.core.transaction import transaction
from app.extensions import db
from tests.factories.auth import PASSWORD, UserFactory
from tests.fulfilment.test_parcelhub import TWO_RATES, configure_parcelhub, label_answer
from tests.orders.checkout_helpers import make_shop, place_order_directly

pytestmark = pytest.mark.e2e

AGENT_EMAIL = "sia.support@example.com"
AGENT_NAME = "Sia Support"


@pytest.fixture
def parcelhub(app, httpserver):
    saved = configure_parcelhub(app, httpserver.url_for(""))
    httpserver.expect_request("/v1/rates", method="POST").respond_with_json(TWO_RATES)
    httpserver.expect_request("/v1/shipments", method="POST").respond_with_json(
        label_answer(carrier="PostNL", service="standard", tracking_number="3SPOSTNL1")
    )
    yield httpserver
    app.config.update(saved)


@pytest.fixture
def paid_order_number(committed_db):
    with transaction():
        shop = make_shop()
        UserFactory(email=AGENT_EMAIL, name=AGENT_NAME, roles=["support"])
        staff = UserFactory(roles=["admin"])
    order = place_order_directly([(shop.teapot, 1)])
    with transaction():
        payments.mark_paid(order_queries.order_by_number(order.number, for_update=True), actor=staff)
    return order.number


def test_a_support_agent_ships_with_the_rate_they_picked(
    page, problems, parcelhub, paid_order_number, screenshot
):
    number = paid_order_number
    page.goto("/login")
    page.get_by_role("textbox", name="Email", exact=True).fill(AGENT_EMAIL)
    page.get_by_role("textbox", name="Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label(f"Account menu for {AGENT_NAME}")).to_be_visible()

    page.goto(f"/orders/{number}/ship")
    page.get_by_label("Shipping provider").select_option(label="ParcelHub")
    page.get_by_role("button", name="Compare carrier rates").click()
    rates = page.locator("#ship-rates")
    expect(rates.get_by_role("group", name="Carrier rates from ParcelHub, cheapest first")).to_be_visible()
    rows = rates.locator("tbody tr")
    expect(rows.first).to_contain_text("PostNL")  # 6.95 before 12.50
    expect(rows.nth(1)).to_contain_text("DHL")
    rates.get_by_label("PostNL").check()
    screenshot("e2e-ship-rates.png")

    messages = []
    page.once("dialog", lambda dialog: (messages.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Create shipment").click()

    expect(page.locator(".flashes")).to_contain_text(f"Shipment {number}-1 is created")
    assert messages and f"Create this shipment of order {number}?" in messages[0]
    labels = [request for request, _answer in parcelhub.log if request.path == "/v1/shipments"]
    assert len(labels) == 1 and labels[0].get_json()["rate_id"] == "rate_1"
    db.session.expire_all()
    shipment = db.session.scalar(select(Shipment))
    assert (shipment.carrier, shipment.tracking_number) == ("PostNL", "3SPOSTNL1")
    assert problems.all() == []
