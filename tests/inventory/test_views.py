"""The stock pages of the portal: who may open them, the stock list with its search,
filters, sort and CSV export, and a variant's stock page where adjusting, transferring and
counting change stock through the ledger (figures refreshed with HTMX, field errors next
to the fields with what was typed kept, nothing changed on bad input)."""

from __future__ import annotations

import csv
import io
import re

import pytest

from app.blueprints.inventory import (
    alert_views,
    dashboard,
    location_views,
    receipt_views,
    reservations,
    services,
    variant_views,
    views,
)
from app.blueprints.inventory.models import InventoryMovement, StockLevel
from app.core.models import AuditEntry
from app.extensions import db
from tests.conftest import Portal
from tests.factories.catalog import LocationFactory, product_with_variants
from tests.inventory.helpers import level, make_variant, receive
from tests.inventory.views_support import (
    field_error,
    flashes,
    htmx,
    input_value,
    movements_of,
    role_with,
    signed_in,
)

# --- Access ----------------------------------------------------------------------------------

EXPECTED_PERMISSIONS = {
    "inventory.stock": "inventory.read",
    "inventory.stock_export": "inventory.read",
    "inventory.variant": "inventory.read",
    "inventory.adjust": "inventory.write",
    "inventory.transfer": "inventory.write",
    "inventory.count": "inventory.write",
    "inventory.stock_settings": "inventory.write",
    "inventory.new_receipt": "inventory.write",
    "inventory.receipts": "inventory.read",
    "inventory.receipt": "inventory.read",
    "inventory.alerts": "inventory.read",
    "inventory.alert_subscription": "inventory.read",
    "inventory.backorders": "inventory.read",
    "inventory.locations": "inventory.locations",
    "inventory.new_location": "inventory.locations",
    "inventory.edit_location": "inventory.locations",
}
PAGE_MODULES = {
    module.__name__ for module in (views, variant_views, receipt_views, alert_views, location_views)
}


def test_every_inventory_page_declares_its_permission(app):
    endpoints = {
        rule.endpoint: app.view_functions[rule.endpoint].required_permission
        for rule in app.url_map.iter_rules()
        if app.view_functions[rule.endpoint].__module__ in PAGE_MODULES
    }
    assert endpoints == EXPECTED_PERMISSIONS


@pytest.fixture
def stocked(db, warehouse, staff):
    """A variant with 10 units received at WH1."""
    variant = make_variant(sku="TEE-RED-M")
    receipt = receive(variant, warehouse, 10, actor=staff, supplier="Acme")
    return variant, receipt


READ_PAGES = [
    "/inventory/stock",
    "/inventory/stock/export.csv",
    "/inventory/variants/{variant}",
    "/inventory/receipts",
    "/inventory/receipts/{receipt}",
    "/inventory/alerts",
    "/inventory/backorders",
]
WRITE_REQUESTS = [
    ("get", "/inventory/receipts/new"),
    ("post", "/inventory/receipts/new"),
    ("post", "/inventory/variants/{variant}/adjust"),
    ("post", "/inventory/variants/{variant}/transfer"),
    ("post", "/inventory/variants/{variant}/count"),
    ("post", "/inventory/variants/{variant}/settings"),
]
LOCATION_REQUESTS = [
    ("get", "/inventory/locations"),
    ("get", "/inventory/locations/new"),
    ("post", "/inventory/locations/new"),
    ("get", "/inventory/locations/{location}/edit"),
    ("post", "/inventory/locations/{location}/edit"),
]


def target(url, stocked, warehouse):
    variant, receipt = stocked
    return url.format(variant=variant.id, receipt=receipt.id, location=warehouse.id)


@pytest.mark.parametrize("url", READ_PAGES)
def test_every_read_page_renders_for_a_role_holding_only_inventory_read(portal, stocked, warehouse, url):
    signed_in(portal, role_with("stock-watcher", "inventory.read"))
    response = portal.get(target(url, stocked, warehouse), buffered=True)
    assert response.status_code == 200
    assert response.mimetype in ("text/html", "text/csv")


@pytest.mark.parametrize(
    ("method", "url"),
    [("get", url) for url in READ_PAGES]
    + WRITE_REQUESTS
    + LOCATION_REQUESTS
    + [("post", "/inventory/alerts/subscription/subscribe")],
)
def test_a_role_without_inventory_permissions_gets_403_everywhere(portal, stocked, warehouse, method, url):
    signed_in(portal, role_with("bookkeeping", "customers.read"))
    response = getattr(portal, method)(target(url, stocked, warehouse), buffered=True)
    assert response.status_code == 403
    assert response.mimetype == "text/html"


@pytest.mark.parametrize(("method", "url"), WRITE_REQUESTS + LOCATION_REQUESTS)
def test_reading_stock_does_not_allow_changing_it_or_locations(portal, stocked, warehouse, method, url):
    signed_in(portal, "sales")  # inventory.read only
    assert getattr(portal, method)(target(url, stocked, warehouse)).status_code == 403
    assert level(stocked[0], warehouse) == (10, 0)


def test_the_sidebar_shows_the_stock_pages_the_role_may_use(portal, db):
    signed_in(portal, "support")  # inventory.read and inventory.write, not locations
    page = portal.get("/inventory/stock").text
    for label in ("Stock", "Receive stock", "Stock alerts", "Backorders"):
        assert f">{label}</a>" in page
    assert ">Locations</a>" not in page


# --- The stock list --------------------------------------------------------------------------


@pytest.fixture
def shelf(db, warehouse, second_warehouse, staff):
    """Shirts in S (40 at WH1), M (3 at WH1: low) and L (none left at WH2); a mug (8 at WH2)."""
    shirt = product_with_variants({"Size": ["S", "M", "L"]}, name="Linen shirt", sku_prefix="SHIRT")
    small, medium, large = shirt.variants
    mug = make_variant(sku="MUG-BLUE")
    mug.product.name = "Blue mug"
    receive(small, warehouse, 40, actor=staff)
    receive(medium, warehouse, 3, actor=staff)
    receive(large, second_warehouse, 2, actor=staff)
    services.adjust_stock(large, second_warehouse, -2, reason="Damaged", actor=staff)
    receive(mug, second_warehouse, 8, actor=staff)
    db.session.flush()
    return {"S": small, "M": medium, "L": large, "mug": mug}


def skus_listed(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return re.findall(r"<td><code>([^<]+)</code></td>", body)


def test_the_stock_list_shows_on_hand_reserved_and_available_per_location(portal, shelf, warehouse):
    reservations.reserve([(shelf["S"].id, 5)], reference="order:1")
    signed_in(portal, "sales")
    page = portal.get("/inventory/stock").text
    assert skus_listed(page) == ["MUG-BLUE", "SHIRT-S", "SHIRT-M", "SHIRT-L"]  # product name order
    row = page.split("SHIRT-S</code>", 1)[1].split("</tr>", 1)[0]
    assert re.findall(r'<td class="num">(?:<strong>)?(\d+)', row)[:3] == ["40", "5", "35"]
    assert f'href="/inventory/variants/{shelf["S"].id}"' in page


def test_the_stock_list_searches_skus_and_product_names(portal, shelf):
    signed_in(portal, "sales")
    assert skus_listed(portal.get("/inventory/stock?q=linen").text) == ["SHIRT-S", "SHIRT-M", "SHIRT-L"]
    assert skus_listed(portal.get("/inventory/stock?q=mug-b").text) == ["MUG-BLUE"]
    empty = portal.get("/inventory/stock?q=nothing-like-it").text
    assert skus_listed(empty) == []
    assert "No stock matches these filters" in empty


def test_the_stock_list_filters_by_location_low_and_out_of_stock(portal, shelf, warehouse, second_warehouse):
    signed_in(portal, "sales")
    assert skus_listed(portal.get(f"/inventory/stock?location={second_warehouse.id}").text) == [
        "MUG-BLUE",
        "SHIRT-L",
    ]
    # Threshold is the default 5: M (3) and L (0) are low, L is out.
    assert skus_listed(portal.get("/inventory/stock?low=y").text) == ["SHIRT-M", "SHIRT-L"]
    assert skus_listed(portal.get("/inventory/stock?out=y").text) == ["SHIRT-L"]
    assert skus_listed(portal.get(f"/inventory/stock?low=y&location={warehouse.id}").text) == ["SHIRT-M"]


def test_the_stock_list_sorts_by_its_column_headers(portal, shelf):
    signed_in(portal, "sales")
    assert skus_listed(portal.get("/inventory/stock?sort=-available").text) == [
        "SHIRT-S",
        "MUG-BLUE",
        "SHIRT-M",
        "SHIRT-L",
    ]
    assert skus_listed(portal.get("/inventory/stock?sort=available").text)[0] == "SHIRT-L"
    assert skus_listed(portal.get("/inventory/stock?sort=-sku").text)[0] == "SHIRT-S"
    page = portal.get("/inventory/stock?sort=available").text
    assert 'aria-sort="ascending"' in page
    assert "sort=-available" in page  # the next click on the header sorts descending


def test_the_stock_list_paginates_and_keeps_its_filters_in_the_page_links(portal, db, warehouse, staff):
    for number in range(27):
        receive(make_variant(sku=f"BULK-{number:02d}"), warehouse, 1, actor=staff)
    signed_in(portal, "sales")
    first = portal.get("/inventory/stock?q=bulk&sort=sku").text
    assert len(skus_listed(first)) == 25
    assert "27 stock levels match these filters" in first
    assert 'href="/inventory/stock?q=bulk&amp;sort=sku&amp;page=2"' in first
    second = portal.get("/inventory/stock?q=bulk&sort=sku&page=2").text
    assert skus_listed(second) == ["BULK-25", "BULK-26"]
    assert len(skus_listed(portal.get("/inventory/stock?q=bulk&per_page=50").text)) == 27


def test_an_unknown_location_filter_is_a_field_error_not_a_500(portal, shelf):
    signed_in(portal, "sales")
    response = portal.get("/inventory/stock?location=999999")
    assert response.status_code == 422
    assert "Choose a location from the list." in response.text


def test_the_stock_list_answers_htmx_with_just_its_results(portal, shelf):
    signed_in(portal, "sales")
    response = portal.get("/inventory/stock?q=mug", headers=htmx("stock-results"))
    assert response.text.lstrip().startswith('<div id="stock-results"')
    assert "<html" not in response.text
    assert "HX-Request" in response.headers["Vary"]


def test_an_empty_stock_list_says_what_to_do_next(portal, db):
    signed_in(portal, "support")
    page = portal.get("/inventory/stock").text
    assert "No stock yet" in page
    assert 'href="/inventory/receipts/new"' in page


def test_the_stock_export_is_the_current_filter_as_csv(portal, shelf, warehouse):
    signed_in(portal, "sales")
    response = portal.get(f"/inventory/stock/export.csv?location={warehouse.id}&sort=sku", buffered=True)
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(row["sku"], row["location"], row["available"]) for row in rows] == [
        ("SHIRT-M", "WH1", "3"),
        ("SHIRT-S", "WH1", "40"),
    ]
    assert rows[0]["variant"] == "M"


# --- A variant's page ------------------------------------------------------------------------


def test_the_variant_page_shows_levels_per_location_and_the_ledger(
    portal, shelf, warehouse, second_warehouse
):
    reservations.reserve([(shelf["M"].id, 1)], reference="order:77")
    signed_in(portal, "sales")
    page = portal.get(f"/inventory/variants/{shelf['M'].id}").text
    assert "<title>Stock of SHIRT-M" in page
    assert "<h1>Linen shirt · M</h1>" in page
    levels = page.split('id="stock-levels"', 1)[1].split("</table>", 1)[0]
    assert "WH1" in levels and "WH2" in levels  # every active location, zero where never stocked
    assert "Reserved for an order" in page and "order:77" in page
    assert "Receipt #" in page
    # Sales may read stock but not change it: no action forms.
    assert 'id="adjust-stock"' not in page


def test_the_variant_page_links_to_the_product_for_who_may_see_the_catalog(app, portal, shelf):
    signed_in(portal, "sales")
    page = portal.get(f"/inventory/variants/{shelf['S'].id}").text
    if "catalog.product" in app.view_functions:
        assert f'href="/catalog/products/{shelf["S"].product_id}"' in page
    other = Portal(app.test_client())
    signed_in(other, role_with("stock-only", "inventory.read"))
    assert "/catalog/products/" not in other.get(f"/inventory/variants/{shelf['S'].id}").text


def test_an_unknown_variant_is_a_404_page(portal, db):
    signed_in(portal, "sales")
    response = portal.get("/inventory/variants/987654")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_the_ledger_filters_by_kind_and_pages_back_with_a_cursor(portal, db, warehouse, staff):
    variant = make_variant(sku="LEDGER-1")
    for _ in range(30):
        receive(variant, warehouse, 1, actor=staff)
    services.adjust_stock(variant, warehouse, -1, reason="Dropped it", actor=staff)
    signed_in(portal, "sales")
    url = f"/inventory/variants/{variant.id}"
    adjustments = portal.get(f"{url}?kind=adjustment").text
    assert "Dropped it" in adjustments and "Receipt #" not in adjustments
    head = portal.get(url).text
    assert head.count("Receipt #") == 24  # 25 newest: the adjustment and 24 receipts
    cursor = re.search(r'before=(\d+)#ledger" hx-get', head).group(1)
    more = portal.get(f"{url}?before={cursor}", headers=htmx("ledger-more")).text
    assert more.lstrip().startswith("<tr>")
    assert more.count("Receipt #") == 6
    assert 'id="ledger-more"' not in more  # nothing older left
    assert "Back to the newest movements" in portal.get(f"{url}?before={cursor}").text


# --- Adjust, transfer, count -----------------------------------------------------------------


@pytest.fixture
def clerk(portal, db):
    return signed_in(portal, "support")  # inventory.read and inventory.write


def test_adjusting_stock_writes_an_adjustment_to_the_ledger_and_flashes(portal, clerk, stocked, warehouse):
    variant, _ = stocked
    response = portal.post(
        f"/inventory/variants/{variant.id}/adjust",
        data={"adjust-location": warehouse.id, "adjust-delta": "-3", "adjust-reason": "Water damage"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert flashes(response.text) == ["TEE-RED-M at WH1: -3 (Water damage)."]
    assert level(variant, warehouse) == (7, 0)
    movement = movements_of(variant, "adjustment")[-1]
    assert (movement.on_hand_delta, movement.reason, movement.actor_id) == (-3, "Water damage", clerk.id)
    assert db.session.query(AuditEntry).filter_by(action="inventory.stock_adjusted").count() == 1


def test_an_htmx_adjustment_swaps_the_figures_and_refreshes_ledger_and_form_out_of_band(
    portal, clerk, stocked, warehouse
):
    variant, _ = stocked
    response = portal.post(
        f"/inventory/variants/{variant.id}/adjust",
        data={"adjust-location": warehouse.id, "adjust-delta": "5", "adjust-reason": "Found in returns"},
        headers=htmx("stock-figures"),
    )
    assert response.status_code == 200
    body = response.text
    assert body.lstrip().startswith('<section id="stock-figures"')
    assert "TEE-RED-M at WH1: +5 (Found in returns)." in body
    figures = body.split('id="stock-levels"', 1)[1].split("</table>", 1)[0]
    assert "<strong>15</strong>" in figures
    assert '<section id="ledger" class="panel" aria-labelledby="ledger-heading" hx-swap-oob="true">' in body
    assert "Found in returns" in body.split('id="ledger"', 1)[1]
    assert 'id="adjust-stock" class="panel" aria-labelledby="adjust-heading" hx-swap-oob="true"' in body
    assert input_value(body, "adjust-reason") == ""  # a fresh form


def test_an_adjustment_without_a_reason_is_refused_next_to_the_field_keeping_the_input(
    portal, clerk, stocked, warehouse
):
    variant, _ = stocked
    response = portal.post(
        f"/inventory/variants/{variant.id}/adjust",
        data={"adjust-location": warehouse.id, "adjust-delta": "-2", "adjust-reason": "  "},
    )
    assert response.status_code == 422
    assert field_error(response.text, "adjust-reason").startswith("Say why")
    assert input_value(response.text, "adjust-delta") == "-2"
    assert level(variant, warehouse) == (10, 0)
    assert movements_of(variant, "adjustment") == []


def test_taking_away_more_than_is_there_is_an_error_on_the_quantity(portal, clerk, stocked, warehouse):
    variant, _ = stocked
    response = portal.post(
        f"/inventory/variants/{variant.id}/adjust",
        data={"adjust-location": warehouse.id, "adjust-delta": "-11", "adjust-reason": "Lost"},
        headers=htmx("stock-figures"),
    )
    assert response.status_code == 422
    # HTMX puts the form back in place of itself, not in the figures.
    assert response.headers["HX-Retarget"] == "#adjust-stock"
    assert response.text.lstrip().startswith('<section id="adjust-stock"')
    assert "Not enough stock at WH1: 10 on hand" in field_error(response.text, "adjust-delta")
    assert input_value(response.text, "adjust-reason") == "Lost"
    assert level(variant, warehouse) == (10, 0)


@pytest.mark.parametrize(
    ("delta", "message"),
    [("0", "A whole number other than 0."), ("abc", "Not a valid integer value."), ("2000000", "From -")],
)
def test_a_bad_adjustment_quantity_is_a_field_error(portal, clerk, stocked, warehouse, delta, message):
    variant, _ = stocked
    response = portal.post(
        f"/inventory/variants/{variant.id}/adjust",
        data={"adjust-location": warehouse.id, "adjust-delta": delta, "adjust-reason": "Typo"},
    )
    assert response.status_code == 422
    assert message in field_error(response.text, "adjust-delta")
    assert level(variant, warehouse) == (10, 0)


def test_an_unknown_location_in_an_action_is_a_field_error(portal, clerk, stocked):
    variant, _ = stocked
    response = portal.post(
        f"/inventory/variants/{variant.id}/adjust",
        data={"adjust-location": "424242", "adjust-delta": "1", "adjust-reason": "Found"},
    )
    assert response.status_code == 422
    assert field_error(response.text, "adjust-location") == "Not a valid choice."


def test_transferring_moves_free_stock_between_locations_under_one_reference(
    portal, clerk, stocked, warehouse, second_warehouse
):
    variant, _ = stocked
    response = portal.post(
        f"/inventory/variants/{variant.id}/transfer",
        data={
            "transfer-from_location": warehouse.id,
            "transfer-to_location": second_warehouse.id,
            "transfer-quantity": "4",
            "transfer-reason": "Shop window",
        },
        follow_redirects=True,
    )
    assert flashes(response.text) == ["Moved 4 × TEE-RED-M from WH1 to WH2."]
    assert level(variant, warehouse) == (6, 0)
    assert level(variant, second_warehouse) == (4, 0)
    out, into = movements_of(variant, "transfer_out"), movements_of(variant, "transfer_in")
    assert out[0].reference == into[0].reference and out[0].reference.startswith("transfer:")


def test_a_transfer_to_the_same_location_or_beyond_free_stock_changes_nothing(
    portal, clerk, stocked, warehouse, second_warehouse
):
    variant, _ = stocked
    reservations.reserve([(variant.id, 8)], reference="order:5")
    url = f"/inventory/variants/{variant.id}/transfer"
    same = portal.post(
        url,
        data={
            "transfer-from_location": warehouse.id,
            "transfer-to_location": warehouse.id,
            "transfer-quantity": "1",
        },
    )
    assert same.status_code == 422
    assert "other than the one stock leaves" in field_error(same.text, "transfer-to_location")
    too_many = portal.post(
        url,
        data={
            "transfer-from_location": warehouse.id,
            "transfer-to_location": second_warehouse.id,
            "transfer-quantity": "3",
        },
    )
    assert too_many.status_code == 422
    assert "2 free" in field_error(too_many.text, "transfer-quantity")
    assert input_value(too_many.text, "transfer-quantity") == "3"
    assert level(variant, warehouse) == (10, 8)
    assert level(variant, second_warehouse) == (0, 0)


def test_a_count_sets_on_hand_to_what_was_counted_with_a_correction(portal, clerk, stocked, warehouse):
    variant, _ = stocked
    response = portal.post(
        f"/inventory/variants/{variant.id}/count",
        data={"count-location": warehouse.id, "count-counted": "12", "count-reason": "Yearly count"},
        follow_redirects=True,
    )
    assert flashes(response.text) == ["Counted 12 × TEE-RED-M at WH1: +2 corrected."]
    assert level(variant, warehouse) == (12, 0)
    correction = movements_of(variant, "count_correction")[-1]
    assert (correction.on_hand_delta, correction.reason) == (2, "Yearly count")


def test_a_count_below_what_orders_hold_is_refused_next_to_the_count(portal, clerk, stocked, warehouse):
    variant, _ = stocked
    reservations.reserve([(variant.id, 6)], reference="order:9")
    response = portal.post(
        f"/inventory/variants/{variant.id}/count",
        data={"count-location": warehouse.id, "count-counted": "4"},
        headers=htmx("stock-figures"),
    )
    assert response.status_code == 422
    assert field_error(response.text, "count-counted") == "At least 6 (reserved for orders)."
    assert input_value(response.text, "count-counted") == "4"
    assert level(variant, warehouse) == (10, 6)


def test_a_missing_count_is_a_field_error_and_no_movement(portal, clerk, stocked, warehouse):
    variant, _ = stocked
    before = db.session.query(InventoryMovement).count()
    response = portal.post(f"/inventory/variants/{variant.id}/count", data={"count-location": warehouse.id})
    assert response.status_code == 422
    assert field_error(response.text, "count-counted") == "Give the number of units counted."
    assert db.session.query(InventoryMovement).count() == before


def test_every_action_keeps_levels_equal_to_the_ledger(portal, clerk, stocked, warehouse, second_warehouse):
    variant, _ = stocked
    url = f"/inventory/variants/{variant.id}"
    portal.post(
        f"{url}/adjust", data={"adjust-location": warehouse.id, "adjust-delta": "3", "adjust-reason": "x"}
    )
    portal.post(
        f"{url}/transfer",
        data={
            "transfer-from_location": warehouse.id,
            "transfer-to_location": second_warehouse.id,
            "transfer-quantity": "5",
        },
    )
    portal.post(f"{url}/count", data={"count-location": second_warehouse.id, "count-counted": "2"})
    for location in (warehouse, second_warehouse):
        on_hand = sum(m.on_hand_delta for m in movements_of(variant) if m.location_id == location.id)
        stored = db.session.get(StockLevel, (variant.id, location.id))
        assert stored.on_hand == on_hand
    assert level(variant, warehouse) == (8, 0)
    assert level(variant, second_warehouse) == (2, 0)


def test_the_action_forms_offer_every_location_and_mark_inactive_ones(portal, clerk, stocked, db):
    LocationFactory(code="OLD", name="Closed shop", is_active=False, position=9)
    page = portal.get(f"/inventory/variants/{stocked[0].id}").text
    adjust = page.split('id="adjust-stock"', 1)[1].split("</section>", 1)[0]
    assert "OLD · Closed shop (inactive)" in adjust
    assert 'for="adjust-delta"' in adjust and 'for="adjust-reason"' in adjust


def test_the_dashboard_module_registers_its_panel():
    from app.core.dashboard import PANELS

    assert PANELS["low-stock"].context is dashboard.low_stock_panel


def test_stock_actions_need_the_csrf_token(portal, clerk, stocked, warehouse):
    variant, _ = stocked
    response = portal.post(
        f"/inventory/variants/{variant.id}/adjust",
        data={"csrf_token": "", "adjust-location": warehouse.id, "adjust-delta": "1", "adjust-reason": "x"},
    )
    assert response.status_code == 400
    assert level(variant, warehouse) == (10, 0)
