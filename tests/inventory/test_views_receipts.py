"""Receiving stock in the portal: typed lines (rows added and removed with HTMX, what was
typed kept), unknown SKUs and bad quantities as errors on their line with nothing saved,
a CSV file, the list of receipts with its filters and a receipt's page."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.blueprints.inventory.models import PurchaseReceipt
from app.core.timeutil import utcnow
from app.extensions import db
from tests.factories.catalog import LocationFactory
from tests.inventory.helpers import level, make_variant, receive
from tests.inventory.views_support import field_error, flashes, htmx, input_value, movements_of, signed_in


@pytest.fixture
def clerk(portal, db):
    return signed_in(portal, "support")


@pytest.fixture
def tees(db):
    return make_variant(sku="TEE-S"), make_variant(sku="TEE-M")


def receipt_count() -> int:
    return db.session.scalar(select(func.count()).select_from(PurchaseReceipt))


def lines_data(*lines, **header) -> dict:
    data = {"supplier": "Acme Textiles", "supplier_reference": "DN-1042", "note": "", **header}
    for index, (sku, quantity, cost) in enumerate(lines):
        data.update(
            {f"lines-{index}-sku": sku, f"lines-{index}-quantity": quantity, f"lines-{index}-unit_cost": cost}
        )
    return data


def test_the_receipt_form_offers_active_locations_and_one_line(portal, clerk, warehouse):
    LocationFactory(code="OLD", name="Closed shop", is_active=False)
    page = portal.get("/inventory/receipts/new").text
    assert "<title>Receive stock" in page
    assert "WH1 · Main warehouse" in page and "OLD" not in page
    assert input_value(page, "lines-0-sku") == ""
    assert input_value(page, "lines-1-sku") is None
    assert ">Receive 1 line</button>" in page
    assert 'for="lines-0-quantity"' in page  # every input has its label


def test_receiving_typed_lines_puts_stock_on_hand_and_opens_the_receipt(portal, clerk, warehouse, tees):
    small, medium = tees
    response = portal.post(
        "/inventory/receipts/new",
        data=lines_data(("TEE-S", "12", "4.50"), ("TEE-M", "8", ""), location=warehouse.id, action="receive"),
    )
    assert response.status_code == 302
    receipt = db.session.scalar(select(PurchaseReceipt))
    assert response.headers["Location"].endswith(f"/inventory/receipts/{receipt.id}")
    assert (receipt.supplier, receipt.supplier_reference, receipt.received_by_id) == (
        "Acme Textiles",
        "DN-1042",
        clerk.id,
    )
    assert level(small, warehouse) == (12, 0) and level(medium, warehouse) == (8, 0)
    assert movements_of(small, "receipt")[0].reference == f"receipt:{receipt.id}"
    page = portal.get(response.headers["Location"]).text
    assert flashes(page) == ["Received 20 units in 2 lines at WH1."]
    assert "TEE-S" in page
    assert "€54.00" in page  # the line's cost: 12 × 4.50


def test_an_unknown_sku_is_an_error_on_its_line_keeping_everything_typed(portal, clerk, warehouse, tees):
    response = portal.post(
        "/inventory/receipts/new",
        data=lines_data(("TEE-S", "5", "3.00"), ("NOPE-1", "2", ""), location=warehouse.id),
    )
    assert response.status_code == 422
    page = response.text
    assert field_error(page, "lines-1-sku") == "No variant has the SKU 'NOPE-1'."
    assert field_error(page, "lines-0-sku") == ""
    assert (input_value(page, "lines-0-sku"), input_value(page, "lines-0-quantity")) == ("TEE-S", "5")
    assert input_value(page, "lines-1-sku") == "NOPE-1"
    assert input_value(page, "supplier_reference") == "DN-1042"
    assert "Please correct the" in page
    assert receipt_count() == 0
    assert level(tees[0], warehouse) == (0, 0)  # nothing half-saved


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        (("TEE-S", "0", ""), "quantity", "From 1 to 1000000."),
        (("TEE-S", "", ""), "quantity", "Give the quantity received."),
        (("TEE-S", "two", ""), "quantity", "Not a valid integer value."),
        (("TEE-S", "1", "-2"), "unit_cost", "An amount from 0"),
        (("", "3", ""), "sku", "Give the SKU."),
    ],
)
def test_a_bad_line_is_an_error_next_to_its_field(portal, clerk, warehouse, tees, line, field, message):
    response = portal.post("/inventory/receipts/new", data=lines_data(line, location=warehouse.id))
    assert response.status_code == 422
    assert message in field_error(response.text, f"lines-0-{field}")
    assert receipt_count() == 0


def test_a_receipt_without_lines_says_so_on_the_first_line(portal, clerk, warehouse):
    response = portal.post("/inventory/receipts/new", data=lines_data(("", "", ""), location=warehouse.id))
    assert response.status_code == 422
    assert field_error(response.text, "lines-0-sku") == "Give at least one SKU and quantity."


def test_empty_lines_are_skipped(portal, clerk, warehouse, tees):
    response = portal.post(
        "/inventory/receipts/new",
        data=lines_data(("", "", ""), ("TEE-M", "4", ""), location=warehouse.id),
    )
    assert response.status_code == 302
    assert level(tees[1], warehouse) == (4, 0)


def test_add_line_with_htmx_returns_the_lines_with_one_more_keeping_what_was_typed(
    portal, clerk, warehouse, tees
):
    response = portal.post(
        "/inventory/receipts/new",
        data=lines_data(("TEE-S", "7", "1.25"), location=warehouse.id, action="add_line"),
        headers=htmx("receipt-lines"),
    )
    assert response.status_code == 200
    body = response.text
    assert '<section id="receipt-lines"' in body and "<html" not in body
    assert '<div id="receipt-problems" hx-swap-oob="true"></div>' in body  # clears the old complaint
    assert (input_value(body, "lines-0-sku"), input_value(body, "lines-0-unit_cost")) == ("TEE-S", "1.25")
    assert input_value(body, "lines-1-sku") == ""
    new_sku = re.search(r'<input[^>]*id="lines-1-sku"[^>]*>', body).group(0)
    assert " autofocus " in new_sku  # typing goes on in the new line
    assert ">Receive 2 lines</button>" in body
    assert receipt_count() == 0


def test_add_line_without_javascript_returns_the_whole_form(portal, clerk, warehouse):
    response = portal.post(
        "/inventory/receipts/new",
        data=lines_data(("TEE-S", "7", ""), location=warehouse.id, action="add_line"),
    )
    assert response.status_code == 200
    assert "<html" in response.text
    assert input_value(response.text, "supplier") == "Acme Textiles"
    assert input_value(response.text, "lines-1-quantity") == ""


def test_remove_line_drops_that_row_only(portal, clerk, warehouse):
    response = portal.post(
        "/inventory/receipts/new",
        data=lines_data(("A-1", "1", ""), ("B-2", "2", ""), ("C-3", "3", ""), location=warehouse.id)
        | {"action": "remove_line:1"},
        headers=htmx("receipt-lines"),
    )
    skus = re.findall(r'id="lines-\d+-sku"[^>]*value="([^"]*)"', response.text)
    assert skus == ["A-1", "C-3"]
    assert ">Receive 2 lines</button>" in response.text


def test_an_inactive_or_unknown_location_is_refused(portal, clerk, warehouse, tees):
    closed = LocationFactory(code="OLD", name="Closed", is_active=False)
    response = portal.post("/inventory/receipts/new", data=lines_data(("TEE-S", "1", ""), location=closed.id))
    assert response.status_code == 422
    assert field_error(response.text, "location") == "Not a valid choice."
    assert receipt_count() == 0


def upload(portal, content: bytes, location, **header):
    data = lines_data(location=location.id, action="file", **header)
    data["file"] = (io.BytesIO(content), "delivery.csv")
    return portal.post("/inventory/receipts/new", data=data, content_type="multipart/form-data")


def test_receiving_a_csv_file(portal, clerk, warehouse, tees):
    response = upload(portal, b"sku,quantity,unit_cost\nTEE-S,3,2.00\nTEE-M,9,\n", warehouse)
    assert response.status_code == 302
    assert level(tees[0], warehouse) == (3, 0) and level(tees[1], warehouse) == (9, 0)
    receipt = db.session.scalar(select(PurchaseReceipt))
    assert receipt.supplier_reference == "DN-1042"
    assert [line.quantity for line in receipt.lines] == [3, 9]


def test_a_csv_with_bad_lines_is_refused_whole_naming_the_lines(portal, clerk, warehouse, tees):
    response = upload(portal, b"sku,quantity\nTEE-S,3\nGHOST,2\nTEE-M,-1\n", warehouse)
    assert response.status_code == 422
    error = field_error(response.text, "file")
    assert "Line 3, sku: No variant has the SKU 'GHOST'." in error
    assert "Line 4, quantity:" in error
    assert receipt_count() == 0
    assert level(tees[0], warehouse) == (0, 0)


def test_receiving_without_a_file_asks_for_one(portal, clerk, warehouse):
    response = portal.post("/inventory/receipts/new", data=lines_data(location=warehouse.id, action="file"))
    assert response.status_code == 422
    assert field_error(response.text, "file") == "Choose the CSV file to receive."


# --- The list and a receipt's page -----------------------------------------------------------


@pytest.fixture
def deliveries(db, warehouse, second_warehouse, staff, tees):
    old = receive(tees[0], warehouse, 5, actor=staff, supplier="Acme Textiles", supplier_reference="DN-1")
    old.received_at = utcnow() - timedelta(days=10)
    newer = receive(
        tees[1], second_warehouse, 7, actor=staff, supplier="Bolt & Co", supplier_reference="INV-77"
    )
    db.session.flush()
    return old, newer


def receipt_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r">Receipt #(\d+)</a>", page)]


def test_the_receipt_list_shows_newest_first_and_filters(portal, deliveries, second_warehouse):
    old, newer = deliveries
    signed_in(portal, "sales")
    assert receipt_ids(portal.get("/inventory/receipts").text) == [newer.id, old.id]
    assert receipt_ids(portal.get("/inventory/receipts?supplier=acme").text) == [old.id]
    assert receipt_ids(portal.get("/inventory/receipts?supplier=inv-7").text) == [newer.id]
    assert receipt_ids(portal.get(f"/inventory/receipts?location={second_warehouse.id}").text) == [newer.id]
    since = (utcnow() - timedelta(days=2)).date().isoformat()
    assert receipt_ids(portal.get(f"/inventory/receipts?received_from={since}").text) == [newer.id]
    assert receipt_ids(portal.get(f"/inventory/receipts?received_to={since}").text) == [old.id]
    assert "No receipts match" in portal.get("/inventory/receipts?supplier=zzz").text


def test_a_bad_date_range_is_a_filter_error(portal, deliveries):
    signed_in(portal, "sales")
    response = portal.get("/inventory/receipts?received_from=2026-05-02&received_to=2026-05-01")
    assert response.status_code == 422
    assert "Comes before" in response.text


def test_the_receipt_page_lists_its_lines_with_links_to_the_variants(portal, deliveries, tees):
    old, _ = deliveries
    signed_in(portal, "sales")
    page = portal.get(f"/inventory/receipts/{old.id}").text
    assert f"<title>Receipt #{old.id}" in page
    assert "Acme Textiles" in page and "DN-1" in page
    assert f'href="/inventory/variants/{tees[0].id}"' in page
    assert portal.get("/inventory/receipts/99999").status_code == 404
