"""The catalog portal in a real browser: a marketer creates a product with options, edits a
variant's price in place in the variant matrix (HTMX swaps the row and the price range),
and previews then applies a bulk price change. No console errors, no CSP violations."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.blueprints.catalog.models import PriceChange, Variant
from tests.factories.auth import PASSWORD, UserFactory
from tests.factories.catalog import BrandFactory, CategoryFactory

pytestmark = pytest.mark.e2e

EMAIL, NAME = "mia.marketing@example.com", "Mia Marketing"


@pytest.fixture
def marketer(committed_db):
    UserFactory(email=EMAIL, name=NAME, roles=["marketing"])
    clothes = CategoryFactory(name="Clothes", slug="clothes")
    CategoryFactory(name="Shirts", slug="shirts", parent=clothes)
    BrandFactory(name="Fjord", slug="fjord")
    committed_db.session.commit()


def sign_in(page) -> None:
    page.goto("/login")
    page.get_by_role("textbox", name="Email", exact=True).fill(EMAIL)
    page.get_by_role("textbox", name="Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label(f"Account menu for {NAME}")).to_be_visible()


def variant_path(db, sku: str = "LS-M-BLUE") -> str:
    """ "<product id>/variants/<variant id>" of the variant with `sku`."""
    variant = db.session.scalar(select(Variant).where(Variant.sku == sku))
    return f"{variant.product_id}/variants/{variant.id}"


def htmx_settled(page) -> None:
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )


def test_create_a_product_with_options_and_edit_a_price_in_place(
    marketer, committed_db, page, problems, foreign_requests, screenshot
):
    sign_in(page)
    page.get_by_role("link", name="Products", exact=True).click()
    expect(page.get_by_role("heading", name="Products", level=1)).to_be_visible()
    screenshot("catalog/01-empty-list.png")
    page.get_by_role("link", name="New product").click()

    page.get_by_role("textbox", name="Name", exact=True).fill("Linen shirt")
    page.get_by_label("Brand").select_option(label="Fjord")
    page.get_by_label("Categories").select_option(label="\u2003Shirts")
    page.get_by_label("Options such as size and colour").check()
    expect(page.get_by_label("SKU", exact=True)).to_be_hidden()  # the one-variant fields fold away
    page.get_by_label("Option 1", exact=True).fill("Size")
    page.get_by_label("Values of option 1").fill("S, M")
    page.get_by_label("Option 2", exact=True).fill("Colour")
    page.get_by_label("Values of option 2").fill("White, Blue")
    page.get_by_label("Price of each variant").fill("49.00")
    page.get_by_label("SKU prefix").fill("ls")
    screenshot("catalog/02-new-product.png")
    page.get_by_role("button", name="Create product").click()

    expect(page.get_by_role("heading", name="Linen shirt", level=1)).to_be_visible()
    expect(page.get_by_text("Linen shirt is created with 4 variants.")).to_be_visible()
    matrix = page.locator("table.variants")
    expect(matrix.locator("tbody tr")).to_have_count(4)
    screenshot("catalog/03-product-page.png")

    # Edit the price of M / Blue in place: the row becomes a form, saving swaps it back.
    row = matrix.locator("tr", has_text="LS-M-BLUE")
    row.get_by_role("link", name=re.compile(r"^Edit")).click()
    htmx_settled(page)
    price = page.get_by_label("Price of M / Blue", exact=True)
    expect(price).to_have_value("49.00")
    price.fill("55.50")
    screenshot("catalog/04-row-editing.png")
    page.get_by_role("button", name=re.compile(r"^Save\s*M \/ Blue")).click()
    htmx_settled(page)
    saved_row = matrix.locator("tr", has_text="LS-M-BLUE")
    expect(saved_row).to_contain_text("€55.50")
    expect(page.locator("#variant-status")).to_contain_text("Saved M / Blue (LS-M-BLUE).")
    expect(page.locator("#product-facts")).to_contain_text("€49.00 – €55.50")
    expect(matrix.locator("tbody tr")).to_have_count(4)
    screenshot("catalog/05-row-saved.png")

    # A wrong value stays in the row with its error.
    saved_row.get_by_role("link", name=re.compile(r"^Edit")).click()
    htmx_settled(page)
    page.get_by_label("Compare-at price of M / Blue", exact=True).fill("10")
    problems.expect_failed_load(f"/catalog/products/{variant_path(committed_db)}", 422)
    page.get_by_role("button", name=re.compile(r"^Save\s*M \/ Blue")).click()
    htmx_settled(page)
    expect(matrix.locator("tr.has-error")).to_contain_text("Must not be below the price.")

    variant = committed_db.session.scalar(select(Variant).where(Variant.sku == "LS-M-BLUE"))
    assert variant.price == Decimal("55.50") and variant.compare_at_price is None
    assert committed_db.session.scalar(
        select(PriceChange.new_amount).where(
            PriceChange.variant_id == variant.id, PriceChange.old_amount.is_not(None)
        )
    ) == Decimal("55.50")

    # The price history panel fills in beside the matrix.
    page.goto(page.url.split("#")[0])
    matrix.locator("tr", has_text="LS-M-BLUE").get_by_role("link", name=re.compile(r"^Prices")).click()
    htmx_settled(page)
    expect(page.locator("#price-history")).to_contain_text(NAME)
    screenshot("catalog/06-price-history.png")

    assert problems.all() == []
    assert foreign_requests == []


def test_bulk_price_change_preview_then_apply(marketer, committed_db, page, problems, screenshot):
    from tests.factories.catalog import ProductFactory

    for number in range(3):
        ProductFactory(name=f"Mug {number}", slug=f"mug-{number}", price=Decimal("10.00"))
    committed_db.session.commit()
    sign_in(page)
    page.goto("/catalog/prices?q=mug")
    page.get_by_label("Value").fill("10")
    page.get_by_role("button", name="Preview").click()
    htmx_settled(page)
    expect(page.locator("#price-preview")).to_contain_text("3 variants")
    screenshot("catalog/07-price-preview.png")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Apply to 3 variants").click()
    expect(page.get_by_text("Changed the price of 3 variants.")).to_be_visible()
    expect(page.get_by_role("cell", name="€11.00").first).to_be_visible()
    screenshot("catalog/08-after-apply.png")
    assert problems.all() == []


def test_category_arrows_and_brand_rename_swap_in_place(marketer, committed_db, page, problems, screenshot):
    sign_in(page)
    page.get_by_role("link", name="Categories", exact=True).click()
    page.get_by_role("textbox", name="Name", exact=True).fill("Accessories")
    page.get_by_role("button", name="Add category").click()
    expect(page.get_by_text("Added the category Accessories.")).to_be_visible()
    tree = page.locator("#category-tree")
    top_level = tree.locator("ul.category-tree > li > .tree-row .tree-name")
    expect(top_level).to_have_text(["Clothes", "Accessories"])
    tree.get_by_role("button", name="Move up: Accessories").click()
    htmx_settled(page)
    expect(top_level).to_have_text(["Accessories", "Clothes"])
    expect(tree).to_contain_text("Moved Accessories.")
    screenshot("catalog/09-category-tree.png")

    page.get_by_role("link", name="Brands", exact=True).click()
    page.locator("tr", has_text="Fjord").get_by_role("link", name=re.compile(r"^Rename")).click()
    htmx_settled(page)
    page.get_by_label("Name of Fjord").fill("Fjord & Co")
    page.get_by_role("button", name=re.compile(r"^Save\s*brand Fjord")).click()
    htmx_settled(page)
    expect(page.locator("table.brands")).to_contain_text("Fjord & Co")
    expect(page.locator("#brand-status")).to_contain_text("Saved the brand Fjord & Co.")
    screenshot("catalog/10-brands.png")
    assert problems.all() == []
