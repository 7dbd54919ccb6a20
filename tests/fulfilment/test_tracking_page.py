"""The public tracking page (`/track/<number>?token=...`) and the staff order page's live
tracking section: who may open them, what they show (and never show), and how an open
page asks for news (HTMX polling with the shown ETag: 304 while nothing changed, the
section anew when something did, no more polling once delivered)."""

from __future__ import annotations

import re

import pytest

from app.blueprints.auth.models import Role, RolePermission
from app.blueprints.orders import checkout, lifecycle
from app.blueprints.orders.order_models import Order
from app.core.transaction import transaction
from app.extensions import db
from tests.conftest import Portal
from tests.factories.auth import PASSWORD, UserFactory
from tests.fulfilment.test_tracking_api import CARRIER_URL, paid_order, ship, shop, staff, track  # noqa: F401

POLL = {"HX-Request": "true", "HX-Target": "tracking"}
STAFF_POLL = {"HX-Request": "true", "HX-Target": "order-tracking"}


def page_url(order: Order, token: str | None = None) -> str:
    token = checkout.tracking_token(order) if token is None else token
    return f"/track/{order.number}?token={token}"


def poll_attributes(html: str) -> dict[str, str]:
    section = re.search(r"<section id=\"(?:order-)?tracking\"[^>]*>", html)
    assert section, "no tracking section"
    return dict(re.findall(r'(hx-[a-z]+)="([^"]*)"', section.group(0)))


@pytest.fixture
def shipped(shop, staff):  # noqa: F811
    order = paid_order(shop, staff)
    return order, ship(order, shop, staff)


# ---- the public page ---------------------------------------------------------------------------


def test_the_tracking_page_opens_with_the_link_without_signing_in(client, shipped):
    order, _ = shipped

    response = client.get(page_url(order))

    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.text
    assert f"Order {order.number}" in html and "Shipped" in html
    assert "PostNL" in html and "3SABC123" in html and f'href="{CARRIER_URL}"' in html
    assert "1 × Teapot" in html and "2 × Cup" in html
    assert "Shipping to Amsterdam, Netherlands" in html
    assert 'name="viewport"' in html  # readable on a phone
    assert response.headers["X-Robots-Tag"].startswith("noindex")


def test_a_wrong_or_missing_token_is_a_plain_404_like_an_unknown_order(client, shipped):
    order, _ = shipped
    unknown = client.get("/track/999999999?token=x")

    for response in (client.get(page_url(order, "wrong")), client.get(f"/track/{order.number}")):
        assert response.status_code == 404 and response.mimetype == "text/html"
        assert order.number not in response.text
        assert response.text == unknown.text


def test_the_page_shows_no_staff_notes_names_or_full_address(client, shipped, staff):  # noqa: F811
    order, shipment = shipped
    with transaction():
        lifecycle.add_note(db.session.get(Order, order.id), actor=staff, text="Suspected fraud, call first")
    track(shipment, "in_transit", description="Sorted at the hub")

    html = client.get(page_url(order)).text

    assert "Sorted at the hub" in html
    assert "fraud" not in html.lower() and "Sam Support" not in html and staff.email not in html
    assert "Damrak" not in html and "Ada Lovelace" not in html and "1012 LG" not in html
    assert "ada@example.org" not in html and "entered by staff" not in html


def test_the_page_runs_no_inline_script_or_style(client, shipped):
    order, _ = shipped
    html = client.get(page_url(order)).text

    assert 'style="' not in html
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))
    assert "/static/vendor/htmx/htmx.min.js" in html


def test_the_open_page_polls_its_own_url_every_configured_seconds(app, client, shipped):
    order, _ = shipped
    app.config["TRACKING_POLL_SECONDS"] = 7
    try:
        attributes = poll_attributes(client.get(page_url(order)).text)
    finally:
        app.config["TRACKING_POLL_SECONDS"] = 15

    assert attributes["hx-get"] == page_url(order) and attributes["hx-trigger"] == "every 7s"
    assert attributes["hx-swap"] == "outerHTML"
    assert "If-None-Match" in attributes["hx-headers"].replace("&#34;", '"')


def test_a_poll_answers_the_section_alone_with_its_etag(client, shipped):
    order, _ = shipped

    response = client.get(page_url(order), headers=POLL)

    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="tracking"') and "<html" not in response.text
    assert response.headers["ETag"] and response.headers["Cache-Control"] == "private, no-cache"
    assert response.headers["ETag"].strip('"') in response.text.replace("&#34;", '"')


def test_a_poll_while_nothing_changed_is_a_304_that_htmx_leaves_alone(client, shipped):
    order, _ = shipped
    etag = client.get(page_url(order), headers=POLL).headers["ETag"]

    response = client.get(page_url(order), headers={**POLL, "If-None-Match": etag})

    assert response.status_code == 304 and response.data == b""
    assert response.headers["HX-Reswap"] == "none"


def test_a_poll_after_a_tracking_event_brings_the_news(client, shipped):
    order, shipment = shipped
    etag = client.get(page_url(order), headers=POLL).headers["ETag"]

    track(shipment, "out_for_delivery", description="With the courier today")
    response = client.get(page_url(order), headers={**POLL, "If-None-Match": etag})

    assert response.status_code == 200
    assert "Out for delivery" in response.text and "With the courier today" in response.text
    assert poll_attributes(response.text)["hx-trigger"].startswith("every ")


def test_polling_stops_once_the_order_is_delivered(client, shipped):
    order, shipment = shipped
    track(shipment, "delivered")

    page = client.get(page_url(order)).text
    fragment = client.get(page_url(order), headers=POLL).text

    for html in (page, fragment):
        assert poll_attributes(html) == {}
        assert "Your order has arrived" in html


def test_polling_stops_once_the_order_is_cancelled(client, shop, staff):  # noqa: F811
    order = paid_order(shop, staff)
    with transaction():
        lifecycle.cancel_order(db.session.get(Order, order.id), actor=staff, reason="Out of stock")

    html = client.get(page_url(order)).text
    assert poll_attributes(html) == {} and "Cancelled" in html and "Out of stock" not in html


def test_an_exception_says_we_are_on_it(client, shipped):
    order, shipment = shipped
    track(shipment, "exception", description="Address not found")

    html = client.get(page_url(order)).text
    assert "There is a problem with the delivery" in html and "We are on it" in html
    assert "Address not found" in html


# ---- the staff order page ----------------------------------------------------------------------


def test_the_order_page_shows_the_live_tracking_to_staff(admin_portal, shipped):
    order, shipment = shipped
    track(shipment, "in_transit", location="Utrecht hub")

    html = admin_portal.get(f"/orders/{order.number}").text

    assert 'id="order-tracking"' in html and "Utrecht hub" in html
    assert "from Own courier / entered by hand" in html  # staff see where each event came from
    attributes = poll_attributes(html)
    assert attributes["hx-get"] == f"/orders/{order.number}/tracking/live"
    assert attributes["hx-trigger"] == "every 15s"


def test_the_staff_poll_is_a_304_until_something_changes(admin_portal, shipped):
    order, shipment = shipped
    url = f"/orders/{order.number}/tracking/live"
    first = admin_portal.get(url, headers=STAFF_POLL)
    assert first.status_code == 200 and first.text.lstrip().startswith('<section id="order-tracking"')

    unchanged = admin_portal.get(url, headers={**STAFF_POLL, "If-None-Match": first.headers["ETag"]})
    assert unchanged.status_code == 304 and unchanged.headers["HX-Reswap"] == "none"

    track(shipment, "delivered")
    delivered = admin_portal.get(url, headers={**STAFF_POLL, "If-None-Match": first.headers["ETag"]})
    assert delivered.status_code == 200 and "Delivered" in delivered.text
    assert poll_attributes(delivered.text) == {}


def test_opening_the_staff_poll_url_by_hand_lands_on_the_order_page(admin_portal, shipped):
    order, _ = shipped
    response = admin_portal.get(f"/orders/{order.number}/tracking/live")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/orders/{order.number}#order-tracking")


@pytest.fixture
def order_reader(client, db):
    """A staff member who may read orders but not fulfilment."""
    role = Role(name="Order reader", permissions=[RolePermission(code="orders.read")])
    user = UserFactory(roles=[])
    user.roles = [role]
    db.session.flush()
    portal = Portal(client)
    portal.login(user.email, PASSWORD)
    return portal


def test_staff_without_fulfilment_read_neither_see_nor_poll_the_tracking(order_reader, shipped):
    order, _ = shipped

    page = order_reader.get(f"/orders/{order.number}")
    assert page.status_code == 200 and 'id="order-tracking"' not in page.text
    poll = order_reader.get(f"/orders/{order.number}/tracking/live", headers=STAFF_POLL)
    assert poll.status_code == 403


def test_the_staff_poll_needs_a_signed_in_user(client, shipped):
    order, _ = shipped
    response = client.get(f"/orders/{order.number}/tracking/live", headers=STAFF_POLL)
    assert response.status_code in (302, 401)
