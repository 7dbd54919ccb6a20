"""What needs attention in stock, in the portal: open low-stock alerts and their resolved
history, the signed-in person's email subscription, backorders waiting in the order they
will be served, the dashboard's "Low stock" panel, and stock locations (which need
`inventory.locations`)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.blueprints.inventory import alerts, reservations, services
from app.blueprints.inventory.models import StockAlertSubscription, StockLocation
from app.core.models import AuditEntry
from app.extensions import db
from tests.factories.customers import CustomerFactory
from tests.inventory.helpers import make_variant, receive
from tests.inventory.views_support import field_error, flashes, htmx, input_value, role_with, signed_in

# --- Alerts ----------------------------------------------------------------------------------


@pytest.fixture
def alerted(db, warehouse, staff):
    """Two variants fallen to or below the default threshold (5) at WH1, and one restocked."""
    low = make_variant(sku="LOW-3")
    empty = make_variant(sku="EMPTY-0")
    back = make_variant(sku="BACK-20")
    for variant, take in ((low, 7), (empty, 10), (back, 8)):
        receive(variant, warehouse, 10, actor=staff)
        services.adjust_stock(variant, warehouse, -take, reason="Sold at a fair", actor=staff)
    receive(back, warehouse, 18, actor=staff)  # resolves its alert
    db.session.flush()
    return low, empty, back


def alert_skus(page: str) -> list[str]:
    body = page.split('id="alert-results"', 1)[1]
    return re.findall(r"<td><code>([^<]+)</code></td>", body)


def test_open_alerts_are_listed_least_stock_first(portal, alerted):
    signed_in(portal, "sales")
    page = portal.get("/inventory/alerts").text
    assert "<title>Stock alerts" in page
    assert alert_skus(page) == ["EMPTY-0", "LOW-3"]
    assert f'href="/inventory/variants/{alerted[1].id}"' in page
    assert "Out</span>" in page


def test_the_resolved_history_is_a_toggle_in_the_url(portal, alerted):
    signed_in(portal, "sales")
    page = portal.get("/inventory/alerts?status=resolved").text
    assert alert_skus(page) == ["BACK-20"]
    assert 'id="status-resolved" name="status" value="resolved" checked' in page
    fragment = portal.get("/inventory/alerts?status=resolved", headers=htmx("alert-results")).text
    assert fragment.lstrip().startswith('<div id="alert-results"')


def test_alerts_filter_by_location(portal, alerted, second_warehouse):
    signed_in(portal, "sales")
    page = portal.get(f"/inventory/alerts?location={second_warehouse.id}").text
    assert alert_skus(page) == []
    assert "No open alerts" in page


def test_subscribing_and_unsubscribing_toggles_the_email_for_the_signed_in_person(portal, db):
    user = signed_in(portal, "sales")
    page = portal.get("/inventory/alerts").text
    assert ">Email me low-stock alerts</button>" in page
    response = portal.post("/inventory/alerts/subscription/subscribe", follow_redirects=True)
    assert flashes(response.text) == [f"Each new low-stock alert will be emailed to {user.email}."]
    assert db.session.get(StockAlertSubscription, user.id) is not None
    assert ">Stop emailing me low-stock alerts</button>" in response.text
    response = portal.post("/inventory/alerts/subscription/unsubscribe", follow_redirects=True)
    assert flashes(response.text) == ["You no longer get low-stock alerts by email."]
    assert db.session.get(StockAlertSubscription, user.id) is None
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.action.startswith("inventory.alerts_"))
    ).all()
    assert sorted(actions) == ["inventory.alerts_subscribed", "inventory.alerts_unsubscribed"]


def test_subscribing_twice_keeps_one_subscription(portal, db):
    user = signed_in(portal, "sales")
    portal.post("/inventory/alerts/subscription/subscribe")
    assert portal.post("/inventory/alerts/subscription/subscribe").status_code == 302
    assert len(db.session.scalars(select(StockAlertSubscription).filter_by(user_id=user.id)).all()) == 1


# --- The dashboard panel ---------------------------------------------------------------------


def test_the_dashboard_shows_open_alerts_to_who_may_read_stock(portal, alerted):
    signed_in(portal, "sales")
    page = portal.get("/").text
    panel = page.split('aria-labelledby="low-stock-heading"', 1)[1].split("</section>", 1)[0]
    assert "2 open alerts" in panel
    assert "EMPTY-0" in panel and "LOW-3" in panel
    assert "BACK-20" not in panel  # resolved
    assert panel.index("EMPTY-0") < panel.index("LOW-3")  # the most urgent first
    assert f'href="/inventory/variants/{alerted[0].id}"' in panel


def test_the_dashboard_hides_the_panel_from_who_may_not_read_stock(portal, alerted):
    signed_in(portal, role_with("bookkeeping", "customers.read"))
    page = portal.get("/").text
    assert "Low stock" not in page
    assert "EMPTY-0" not in page


def test_the_panel_without_alerts_says_nothing_is_low(portal, db):
    signed_in(portal, "sales")
    assert "Nothing is low on stock." in portal.get("/").text


def test_the_panel_lists_ten_alerts_and_links_to_the_rest(portal, db, warehouse, staff):
    for number in range(12):
        variant = make_variant(sku=f"LOW-{number:02d}")
        receive(variant, warehouse, 2, actor=staff)  # at or below 5 from the start
    alerts.check_low_stock()
    signed_in(portal, "sales")
    panel = portal.get("/").text.split('aria-labelledby="low-stock-heading"', 1)[1].split("</section>", 1)[0]
    assert panel.count("<li>") == 10
    assert "See all 12 open alerts" in panel


# --- Backorders ------------------------------------------------------------------------------


@pytest.fixture
def backordered(db, warehouse, staff):
    """Waiting backorders of a sold-out hoodie (oldest first: 2, then 3) and a cap, and one
    allocated by a receipt."""
    hoodie = make_variant(sku="HOODIE-L", backorder_policy="allow")
    cap = make_variant(sku="CAP-1", backorder_policy="allow")
    anna = CustomerFactory(email="anna@example.org")
    reservations.reserve([(hoodie.id, 2)], reference="order:1", customer_id=anna.id)
    reservations.reserve([(hoodie.id, 3)], reference="order:2")
    reservations.reserve([(cap.id, 1)], reference="order:3")
    reservations.reserve([(cap.id, 4)], reference="order:4")
    receive(cap, warehouse, 1, actor=staff)  # serves order:3
    db.session.flush()
    return hoodie, cap, anna


def backorder_references(page: str) -> list[str]:
    body = page.split('id="backorder-results"', 1)[1]
    return re.findall(r"<td><code>(order:\d+)</code></td>", body)


def test_waiting_backorders_are_listed_oldest_first(portal, backordered):
    hoodie, _, anna = backordered
    signed_in(portal, "sales")
    page = portal.get("/inventory/backorders").text
    assert backorder_references(page) == ["order:1", "order:2", "order:4"]
    assert "Waiting (3)" in page and "Allocated (1)" in page
    assert f'href="/customers/{anna.id}">anna@example.org</a>' in page
    assert f'href="/inventory/variants/{hoodie.id}"' in page


def test_allocated_backorders_and_the_sku_filter(portal, backordered):
    signed_in(portal, "sales")
    assert backorder_references(portal.get("/inventory/backorders?status=allocated").text) == ["order:3"]
    assert backorder_references(portal.get("/inventory/backorders?sku=hood").text) == ["order:1", "order:2"]
    fragment = portal.get("/inventory/backorders?sku=cap", headers=htmx("backorder-results")).text
    assert fragment.lstrip().startswith('<div id="backorder-results"')
    assert backorder_references(fragment) == ["order:4"]
    assert "No waiting backorders for SKUs like" in portal.get("/inventory/backorders?sku=zzz").text


def test_no_backorders_says_how_they_arise(portal, db):
    signed_in(portal, "sales")
    assert "Nothing is waiting for stock." in portal.get("/inventory/backorders").text


# --- Locations -------------------------------------------------------------------------------


@pytest.fixture
def manager(portal, db):
    return signed_in(portal, role_with("stock-manager", "inventory.read", "inventory.locations"))


def test_the_location_list_shows_each_location_with_its_units(portal, manager, warehouse, staff):
    receive(make_variant(sku="ANY-1"), warehouse, 6, actor=staff)
    page = portal.get("/inventory/locations").text
    assert "<title>Stock locations" in page
    row = page.split("<code>WH1</code>", 1)[1].split("</tr>", 1)[0]
    assert "Main warehouse" in row and '<td class="num">6</td>' in row
    assert "5 (default)" in row


def test_creating_a_location(portal, manager):
    page = portal.get("/inventory/locations/new").text
    assert re.search(r'<input[^>]* checked id="is_active"', page)  # new locations start active
    response = portal.post(
        "/inventory/locations/new",
        data={
            "code": "shop-ams",
            "name": "Amsterdam shop",
            "kind": "store",
            "is_active": "y",
            "low_stock_threshold": "2",
        },
        follow_redirects=True,
    )
    assert flashes(response.text) == ["Stock location SHOP-AMS is created."]
    location = db.session.scalar(select(StockLocation).filter_by(code="SHOP-AMS"))
    assert (location.kind, location.is_active, location.fulfils_orders, location.low_stock_threshold) == (
        "store",
        True,
        False,  # unchecked
        2,
    )
    assert db.session.scalar(select(AuditEntry).filter_by(action="inventory.location_created")) is not None


def test_a_duplicate_or_malformed_code_is_a_field_error_keeping_the_input(portal, manager, warehouse):
    response = portal.post(
        "/inventory/locations/new", data={"code": "wh1", "name": "Again", "kind": "warehouse"}
    )
    assert response.status_code == 422
    assert field_error(response.text, "code") == "Another location has this code."
    assert input_value(response.text, "name") == "Again"
    response = portal.post(
        "/inventory/locations/new", data={"code": "no spaces", "name": "X", "kind": "warehouse"}
    )
    assert "1 to 32 letters" in field_error(response.text, "code")
    assert db.session.scalar(select(StockLocation).filter_by(name="Again")) is None


def test_editing_a_location(portal, manager, warehouse):
    page = portal.get(f"/inventory/locations/{warehouse.id}/edit").text
    assert input_value(page, "code") == "WH1"
    response = portal.post(
        f"/inventory/locations/{warehouse.id}/edit",
        data={
            "code": "WH1",
            "name": "Main warehouse",
            "kind": "warehouse",
            "position": "4",
            "low_stock_threshold": "",
        },
        follow_redirects=True,
    )
    assert flashes(response.text) == ["Saved stock location WH1."]
    db.session.refresh(warehouse)
    assert (warehouse.is_active, warehouse.position, warehouse.low_stock_threshold) == (False, 4, None)
    assert db.session.scalar(select(AuditEntry).filter_by(action="inventory.location_updated")) is not None


def test_a_negative_threshold_is_refused(portal, manager, warehouse):
    response = portal.post(
        f"/inventory/locations/{warehouse.id}/edit",
        data={"code": "WH1", "name": "Main", "kind": "warehouse", "low_stock_threshold": "-1"},
    )
    assert response.status_code == 422
    assert field_error(response.text, "low_stock_threshold") == "A whole number, 0 or more."


def test_an_unknown_location_is_a_404(portal, manager):
    assert portal.get("/inventory/locations/4242/edit").status_code == 404


def test_locations_need_their_own_permission(portal, db, warehouse):
    signed_in(portal, "support")  # inventory.read and inventory.write
    assert portal.get("/inventory/locations").status_code == 403
    response = portal.post("/inventory/locations/new", data={"code": "X1", "name": "X", "kind": "warehouse"})
    assert response.status_code == 403
    assert db.session.scalar(select(StockLocation).filter_by(code="X1")) is None


def test_an_empty_location_list_says_what_to_do_next(portal, manager):
    assert "Add the first warehouse or store" in portal.get("/inventory/locations").text
