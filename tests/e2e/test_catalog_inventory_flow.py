"""Catalog and inventory in a real browser: an admin creates a product with a Size option
(S, M, L) whose variants are generated with it, changes one variant's price in the
variant table (HTMX, in place), then receives stock for two of the variants on the
receipt form (a mistyped SKU refused on its line, a line added with HTMX, what was typed
kept) and finds the available figures on the stock page and the variant's stock page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.factories.auth import PASSWORD, UserFactory
from tests.factories.catalog import LocationFactory

pytestmark = pytest.mark.e2e

ADMIN_EMAIL = "ada.admin@example.com"
ADMIN_NAME = "Ada Admin"
PRODUCT = "Linen shirt"
MARKER = "set before the HTMX swaps"


@pytest.fixture
def admin_and_warehouse(committed_db):
    UserFactory(email=ADMIN_EMAIL, name=ADMIN_NAME, roles=["admin"])
    LocationFactory(code="WH1", name="Main warehouse", position=1)
    committed_db.session.commit()  # the server thread must see them


def sign_in(page) -> None:
    page.goto("/login")
    page.get_by_role("textbox", name="Email", exact=True).fill(ADMIN_EMAIL)
    page.get_by_role("textbox", name="Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label(f"Account menu for {ADMIN_NAME}")).to_be_visible()


def htmx_settled(page) -> None:
    """Wait until HTMX has no request in flight and has wired up what it swapped in."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )


def is_post_to(path: str):
    return lambda response: response.request.method == "POST" and response.url.split("?")[0].endswith(path)


def stock_row(page, sku: str):
    return page.locator("#stock-results tbody tr").filter(has=page.get_by_text(sku, exact=True))


def test_admin_creates_a_product_with_sizes_and_receives_stock_for_two_of_them(
    page, problems, live_server, admin_and_warehouse, screenshot
):
    sign_in(page)

    # --- A product with a Size option: its three variants are generated with it.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Products", exact=True).click()
    page.get_by_role("link", name="New product").click()
    expect(page).to_have_url(f"{live_server.url}/catalog/products/new")
    page.get_by_role("textbox", name="Name", exact=True).fill(PRODUCT)
    page.get_by_role("combobox", name="Status").select_option("active")
    page.get_by_role("radio", name="Options such as size and colour").check()
    page.get_by_role("textbox", name="Option 1", exact=True).fill("Size")
    page.get_by_role("textbox", name="Values of option 1", exact=True).fill("S, M, L")
    page.get_by_label("Price of each variant").fill("25.00")
    page.get_by_role("textbox", name="SKU prefix").fill("LINEN")
    page.get_by_role("button", name="Create product").click()

    expect(page).to_have_url(re.compile(rf"{re.escape(live_server.url)}/catalog/products/\d+$"))
    product_id = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_role("heading", level=1)).to_have_text(PRODUCT)
    expect(page.locator(".flashes")).to_contain_text("3 variants")
    variants = page.locator("table.variants tbody")
    for size in ("S", "M", "L"):
        expect(variants.get_by_role("row", name=re.compile(rf"^{size}\b"))).to_contain_text(f"LINEN-{size}")
    page.wait_for_load_state("networkidle")
    page.evaluate("marker => { window.__e2eMarker = marker; }", MARKER)

    # --- M costs more: its row turns into a form in place, and back into a row when saved.
    medium = variants.get_by_role("row", name=re.compile(r"^M\b"))
    medium.get_by_role("link", name="Edit M").click()
    price = page.get_by_label("Price of M", exact=True)
    expect(price).to_have_value("25.00")
    htmx_settled(page)
    price.fill("27.50")
    page.get_by_role("button", name="Save M").click()
    expect(price).to_have_count(0)
    expect(variants.get_by_role("row", name=re.compile(r"^M\b"))).to_contain_text("€27.50")
    expect(variants.get_by_role("row", name=re.compile(r"^S\b"))).to_contain_text("€25.00")
    assert page.evaluate("window.__e2eMarker") == MARKER  # no page load on the way
    screenshot("e2e-catalog-variants.png")

    # --- Goods in for S and M. A mistyped SKU is refused on its line, the rest stays.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Receive stock", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/inventory/receipts/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("Receive stock")
    expect(page.get_by_role("combobox", name="Location")).to_have_value(re.compile(r"\d+"))
    page.get_by_role("textbox", name="Supplier", exact=True).fill("Acme Textiles")
    page.get_by_role("textbox", name="Supplier reference").fill("DN-1042")
    page.get_by_role("textbox", name="SKU of line 1").fill("LINEN-XS")
    page.get_by_role("spinbutton", name="Quantity of line 1").fill("12")
    page.get_by_role("spinbutton", name="Unit cost of line 1").fill("9.50")
    path = "/inventory/receipts/new"
    problems.expect_failed_load(path, 422)
    with page.expect_response(is_post_to(path)) as refused:
        page.get_by_role("button", name="Receive 1 line").click()
    assert refused.value.status == 422
    sku_1 = page.get_by_role("textbox", name="SKU of line 1")
    expect(sku_1).to_have_attribute("aria-invalid", "true")
    expect(sku_1).to_have_accessible_description("No variant has the SKU 'LINEN-XS'.")
    expect(page.get_by_role("alert")).to_contain_text("Please correct the field marked below.")
    expect(sku_1).to_have_value("LINEN-XS")
    expect(page.get_by_role("spinbutton", name="Quantity of line 1")).to_have_value("12")
    expect(page.get_by_role("textbox", name="Supplier reference")).to_have_value("DN-1042")
    sku_1.fill("LINEN-S")

    # "Add line" swaps in the lines with one more (HTMX), the new SKU field ready to type in.
    page.wait_for_load_state("networkidle")
    page.evaluate("marker => { window.__e2eMarker = marker; }", MARKER)
    page.get_by_role("button", name="Add line").click()
    sku_2 = page.get_by_role("textbox", name="SKU of line 2")
    expect(sku_2).to_be_focused()
    expect(page.get_by_role("textbox", name="SKU of line 1")).to_have_value("LINEN-S")
    expect(page.get_by_role("spinbutton", name="Unit cost of line 1")).to_have_value("9.50")
    assert page.evaluate("window.__e2eMarker") == MARKER
    expect(page.get_by_role("alert")).to_have_count(0)  # the old complaint went with the swap
    htmx_settled(page)
    sku_2.fill("LINEN-M")
    page.get_by_role("spinbutton", name="Quantity of line 2").fill("5")
    screenshot("e2e-receive-stock.png")
    page.get_by_role("button", name="Receive 2 lines").click()

    expect(page).to_have_url(re.compile(rf"{re.escape(live_server.url)}/inventory/receipts/\d+$"))
    expect(page.locator(".flashes")).to_contain_text("Received 17 units in 2 lines at WH1.")
    lines = page.get_by_role("table")
    expect(lines.get_by_role("row")).to_have_count(3)  # the header and two lines
    expect(lines).to_contain_text("LINEN-S")
    expect(lines).to_contain_text("€114.00")  # 12 × 9.50

    # --- The stock page: S and M available at WH1, L never received.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Stock", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Stock")
    page.get_by_role("searchbox", name="Search SKU or product").fill("linen")
    expect(page.locator("#stock-results")).to_contain_text("2 stock levels match these filters.")
    for sku, available in (("LINEN-S", "12"), ("LINEN-M", "5")):
        row = stock_row(page, sku)
        expect(row).to_have_count(1)
        expect(row.locator("td").nth(5)).to_have_text(available)  # the Available column
        expect(row).to_contain_text("WH1")
    expect(stock_row(page, "LINEN-L")).to_have_count(0)
    screenshot("e2e-stock-list.png")

    # --- M's own stock page, reached from its row, tells the same and shows the receipt.
    stock_row(page, "LINEN-M").get_by_role("link", name=PRODUCT).click()
    expect(page).to_have_url(re.compile(rf"{re.escape(live_server.url)}/inventory/variants/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{PRODUCT} · M")
    levels = page.locator("#stock-levels")
    expect(levels.get_by_role("row", name=re.compile(r"^WH1\b"))).to_contain_text("5")
    expect(page.locator("#ledger")).to_contain_text("Receipt #")
    expect(page.get_by_role("link", name="Open the product in the catalog")).to_have_attribute(
        "href", f"/catalog/products/{product_id}"
    )
    screenshot("e2e-variant-stock.png")
    assert problems.all() == []


# --- Changing stock on a variant's page ----------------------------------------------------


@pytest.fixture
def stocked_variant(committed_db):
    """An admin, two warehouses and a variant with 10 units received at WH1."""
    from tests.inventory.helpers import make_variant, receive

    admin = UserFactory(email=ADMIN_EMAIL, name=ADMIN_NAME, roles=["admin"])
    main = LocationFactory(code="WH1", name="Main warehouse", position=1)
    LocationFactory(code="WH2", name="Overflow", position=2)
    variant = make_variant(sku="MUG-BLUE")
    receive(variant, main, 10, actor=admin)
    committed_db.session.commit()
    return variant


def test_adjusting_and_transferring_stock_refreshes_the_figures_in_place(
    page, problems, live_server, stocked_variant, screenshot
):
    sign_in(page)
    page.goto(f"/inventory/variants/{stocked_variant.id}")
    page.wait_for_load_state("networkidle")
    page.evaluate("marker => { window.__e2eMarker = marker; }", MARKER)
    figures = page.locator("#stock-figures")
    ledger = page.locator("#ledger tbody")
    expect(ledger.get_by_role("row")).to_have_count(1)

    # No reason: refused next to the field, the number typed kept, the stock untouched.
    adjust = page.locator("#adjust-stock")
    adjust.get_by_role("spinbutton", name="Change in units").fill("-3")
    path = f"/inventory/variants/{stocked_variant.id}/adjust"
    problems.expect_failed_load(path, 422)
    with page.expect_response(is_post_to(path)) as refused:
        adjust.get_by_role("button", name="Adjust stock").click()
    assert refused.value.status == 422
    reason = adjust.get_by_role("textbox", name="Reason")
    expect(reason).to_have_accessible_description(re.compile(r"Say why"))
    expect(adjust.get_by_role("spinbutton", name="Change in units")).to_have_value("-3")
    htmx_settled(page)

    reason.fill("Chipped in transit")
    adjust.get_by_role("button", name="Adjust stock").click()
    expect(figures.get_by_role("status")).to_have_text("MUG-BLUE at WH1: -3 (Chipped in transit).")
    expect(page.locator("#stock-levels").get_by_role("row", name=re.compile(r"^WH1\b"))).to_contain_text("7")
    expect(ledger.get_by_role("row")).to_have_count(2)
    expect(ledger.get_by_role("row").first).to_contain_text("Chipped in transit")
    expect(page.locator("#adjust-stock").get_by_role("textbox", name="Reason")).to_have_value("")
    htmx_settled(page)

    # Four of the seven move to the overflow warehouse.
    page.get_by_text("Transfer between locations").click()
    transfer = page.locator("#transfer-stock")
    transfer.get_by_role("combobox", name="To").select_option(label="WH2 · Overflow")
    transfer.get_by_role("spinbutton", name="Units to move").fill("4")
    transfer.get_by_role("button", name="Transfer stock").click()
    expect(figures.get_by_role("status")).to_have_text("Moved 4 × MUG-BLUE from WH1 to WH2.")
    levels = page.locator("#stock-levels")
    expect(levels.get_by_role("row", name=re.compile(r"^WH1\b"))).to_contain_text("3")
    expect(levels.get_by_role("row", name=re.compile(r"^WH2\b"))).to_contain_text("4")
    expect(ledger.get_by_role("row")).to_have_count(4)  # transfer out and in
    assert page.evaluate("window.__e2eMarker") == MARKER  # all of it without a page load
    screenshot("e2e-variant-actions.png")
    assert problems.all() == []
