"""The public tracking page in a real browser, on a phone-sized screen: a customer opens
the link of a shipped order; the carrier reports "out for delivery", then "delivered";
the open page shows each without a reload (HTMX polling every second here), and stops
asking once the order is delivered. No console errors, no CSP violations."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import expect

from app.blueprints.fulfilment import shipments, tracking
from app.blueprints.fulfilment.models import Shipment
from app.blueprints.orders import checkout, order_queries, payments
from app.core.transaction import transaction
from app.extensions import db
from tests.factories.auth import UserFactory
from tests.orders.checkout_helpers import make_shop, place_order_directly

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
MARKER = "set before any news arrived"


@pytest.fixture
def fast_polling(app):
    before = app.config["TRACKING_POLL_SECONDS"]
    app.config["TRACKING_POLL_SECONDS"] = 1
    try:
        yield
    finally:
        app.config["TRACKING_POLL_SECONDS"] = before


@pytest.fixture
def shipped_order(committed_db):
    """A paid order of a teapot, shipped with PostNL; committed, so the server sees it."""
    with transaction():
        shop = make_shop()
        staff = UserFactory(roles=["admin"])
    order = place_order_directly([(shop.teapot, 1)])
    with transaction():
        payments.mark_paid(order_queries.order_by_number(order.number, for_update=True), actor=staff)
    with transaction():
        shipment = shipments.create_shipment(
            order_queries.order_by_number(order.number, for_update=True),
            location_id=shop.location.id,
            provider="manual",
            carrier="PostNL",
            service="Standard",
            tracking_number="3SABC123",
            tracking_url="https://carrier.example/track/3SABC123",
            actor=staff,
        )
        shipment.estimated_delivery = date(2026, 12, 4)
    return order.number, checkout.tracking_token(order), shipment.id


def carrier_reports(shipment_id: int, status: str, **details) -> None:
    """A tracking event committed as a carrier's webhook would record it."""
    with transaction():
        tracking.record_tracking_event(
            db.session.get(Shipment, shipment_id), status, source="manual", **details
        )


def test_the_open_tracking_page_shows_news_without_a_reload(
    page, problems, shipped_order, fast_polling, screenshot
):
    number, token, shipment_id = shipped_order
    page.set_viewport_size(PHONE)
    stage = page.locator(f"#tracking-stage-{number}")

    page.goto(f"/track/{number}?token={token}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {number}")
    expect(stage).to_have_text("Shipped")
    expect(page.get_by_text("Estimated delivery: Friday 4 December 2026")).to_be_visible()
    expect(page.get_by_role("link", name="Follow it on the PostNL website")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "wider than a phone"
    page.evaluate("marker => { window.__e2eMarker = marker; }", MARKER)
    screenshot("tracking/1-shipped.png")

    carrier_reports(
        shipment_id, "out_for_delivery", description="With the courier today", location="Amsterdam"
    )
    expect(stage).to_have_text("Out for delivery")
    expect(page.get_by_text("With the courier today")).to_be_visible()
    expect(page.locator("li.tracking-step.current")).to_contain_text("Out for delivery")
    screenshot("tracking/2-out-for-delivery.png")

    carrier_reports(shipment_id, "delivered", location="Amsterdam")
    expect(stage).to_have_text("Delivered")
    expect(page.get_by_text("Your order has arrived")).to_be_visible()
    expect(page.locator("section#tracking")).not_to_have_attribute("hx-trigger", "every 1s")
    screenshot("tracking/3-delivered.png")

    assert page.evaluate("() => window.__e2eMarker") == MARKER, "the page was reloaded"
    assert problems.all() == []
