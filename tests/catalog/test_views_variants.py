"""The variant matrix on the product page: rows edited in place with HTMX (and as plain
pages without it), prices editable only with catalog.prices and recorded in the price
history, generating, adding, deactivating and deleting variants."""

from decimal import Decimal

from sqlalchemy import func, select

from app.blueprints.catalog.models import PriceChange, Product, Variant
from app.blueprints.inventory.models import InventoryMovement
from tests.catalog.views_support import field_error, flashes, htmx, input_value, role_with, signed_in
from tests.factories.catalog import LocationFactory, ProductFactory, product_with_variants


def row_data(variant, **changes):
    prefix = f"v{variant.id}-"
    data = {
        "sku": variant.sku,
        "barcode": variant.barcode or "",
        "price": str(variant.price),
        "compare_at_price": "" if variant.compare_at_price is None else str(variant.compare_at_price),
        "cost_price": "" if variant.cost_price is None else str(variant.cost_price),
        "weight_grams": "" if variant.weight_grams is None else str(variant.weight_grams),
        "is_active": "y" if variant.is_active else "",
    }
    data.update(changes)
    # As a browser sends it: every input, an unticked checkbox left out.
    return {prefix + name: value for name, value in data.items() if not (name == "is_active" and not value)}


def editor_without_prices(portal):
    return signed_in(portal, role_with("catalog-editor", "catalog.read", "catalog.write"))


def tee():
    return product_with_variants(
        {"Size": ["S", "M"]},
        name="Tee",
        sku_prefix="TEE",
        prices={("S",): Decimal("10.00"), ("M",): Decimal("12.00")},
    )


# --- Editing a row in place --------------------------------------------------------------


def test_edit_returns_the_row_as_a_form_fragment(portal, db):
    signed_in(portal, "marketing")
    product = tee()
    variant = product.variants[0]
    response = portal.get(
        f"/catalog/products/{product.id}/variants/{variant.id}/edit", headers=htmx(f"variant-{variant.id}")
    )
    assert response.status_code == 200
    fragment = response.text.strip()
    assert fragment.startswith(f'<tr id="variant-{variant.id}" class="editing')
    assert "<html" not in fragment
    assert input_value(fragment, f"v{variant.id}-price") == "10.00"
    assert f'form="variant-form-{variant.id}"' in fragment and "Save" in fragment


def test_the_edit_url_is_a_full_page_without_htmx(portal, db):
    signed_in(portal, "marketing")
    product = tee()
    variant = product.variants[0]
    page = portal.get(f"/catalog/products/{product.id}/variants/{variant.id}/edit").text
    assert "<h1>Tee</h1>" in page
    assert input_value(page, f"v{variant.id}-sku") == "TEE-S"
    row = portal.get(f"/catalog/products/{product.id}/variants/{variant.id}").text
    assert "<h1>Tee</h1>" in row


def test_saving_a_row_with_htmx_changes_the_price_and_records_it(portal, db):
    user = signed_in(portal, "marketing")
    product = tee()
    variant = product.variants[0]
    response = portal.post(
        f"/catalog/products/{product.id}/variants/{variant.id}",
        data=row_data(variant, price="15.50", barcode="4006381333931"),
        headers=htmx(f"variant-{variant.id}"),
    )
    assert response.status_code == 200
    fragment = response.text.strip()
    assert fragment.startswith(f'<tr id="variant-{variant.id}"')
    assert "€15.50" in fragment and "4006381333931" in fragment
    # The facts (price range) and a status line are swapped in beside the row.
    assert 'id="product-facts"' in fragment and 'hx-swap-oob="true"' in fragment
    assert "€12.00 – €15.50" in fragment and "Saved S (TEE-S)." in fragment
    db.session.refresh(variant)
    assert variant.price == Decimal("15.50")
    change = db.session.scalar(
        select(PriceChange).where(PriceChange.variant_id == variant.id, PriceChange.old_amount.is_not(None))
    )
    assert (change.old_amount, change.new_amount, change.changed_by_id) == (
        Decimal("10.00"),
        Decimal("15.50"),
        user.id,
    )
    assert db.session.get(Product, product.id).max_price == Decimal("15.50")


def test_a_price_of_zero_is_a_price(portal, db):
    signed_in(portal, "marketing")
    product = tee()
    variant = product.variants[0]
    response = portal.post(
        f"/catalog/products/{product.id}/variants/{variant.id}",
        data=row_data(variant, price="0"),
        headers=htmx(f"variant-{variant.id}"),
    )
    assert response.status_code == 200
    db.session.refresh(variant)
    assert variant.price == Decimal("0.00")


def test_a_row_error_comes_back_in_the_row_and_nothing_changes(portal, db):
    signed_in(portal, "marketing")
    product = tee()
    variant = product.variants[0]
    response = portal.post(
        f"/catalog/products/{product.id}/variants/{variant.id}",
        data=row_data(variant, price="12.00", compare_at_price="9.00", sku="TEE-NEW"),
        headers=htmx(f"variant-{variant.id}"),
    )
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == f"#variant-{variant.id}"
    fragment = response.text.strip()
    assert fragment.startswith(f'<tr id="variant-{variant.id}" class="editing has-error')
    assert "below the price" in field_error(fragment, f"v{variant.id}-compare_at_price")
    assert input_value(fragment, f"v{variant.id}-sku") == "TEE-NEW"
    db.session.refresh(variant)
    assert (variant.sku, variant.price) == ("TEE-S", Decimal("10.00"))


def test_a_duplicate_sku_in_a_row_is_a_field_error(portal, db):
    signed_in(portal, "marketing")
    product = tee()
    small, medium = product.variants
    response = portal.post(
        f"/catalog/products/{product.id}/variants/{small.id}",
        data=row_data(small, sku=medium.sku),
        headers=htmx(f"variant-{small.id}"),
    )
    assert response.status_code == 422
    assert "Another variant has the SKU “TEE-M”." in field_error(response.text, f"v{small.id}-sku")


def test_saving_without_htmx_redirects_to_the_row_with_a_flash(portal, db):
    signed_in(portal, "marketing")
    product = tee()
    variant = product.variants[1]
    response = portal.post(
        f"/catalog/products/{product.id}/variants/{variant.id}", data=row_data(variant, weight_grams="250")
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/catalog/products/{product.id}#variant-{variant.id}")
    assert "Saved M (TEE-M)." in flashes(portal.get(f"/catalog/products/{product.id}").text)
    db.session.refresh(variant)
    assert variant.weight_grams == 250


def test_a_page_error_without_htmx_shows_the_whole_page_with_the_row_open(portal, db):
    signed_in(portal, "marketing")
    product = tee()
    variant = product.variants[0]
    response = portal.post(
        f"/catalog/products/{product.id}/variants/{variant.id}", data=row_data(variant, sku="")
    )
    assert response.status_code == 422
    assert "<h1>Tee</h1>" in response.text
    assert field_error(response.text, f"v{variant.id}-sku")


def test_without_catalog_prices_the_price_cells_are_read_only(portal, db):
    editor_without_prices(portal)
    product = tee()
    variant = product.variants[0]
    fragment = portal.get(
        f"/catalog/products/{product.id}/variants/{variant.id}/edit", headers=htmx(f"variant-{variant.id}")
    ).text
    assert input_value(fragment, f"v{variant.id}-sku") == "TEE-S"
    assert input_value(fragment, f"v{variant.id}-price") is None
    assert "€10.00" in fragment and "catalog.prices" in fragment

    saved = portal.post(
        f"/catalog/products/{product.id}/variants/{variant.id}",
        data={f"v{variant.id}-sku": "TEE-SMALL", f"v{variant.id}-is_active": "y"},
        headers=htmx(f"variant-{variant.id}"),
    )
    assert saved.status_code == 200
    db.session.refresh(variant)
    assert (variant.sku, variant.price) == ("TEE-SMALL", Decimal("10.00"))


def test_a_user_without_catalog_prices_cannot_change_a_price(portal, db):
    editor_without_prices(portal)
    product = tee()
    variant = product.variants[0]
    response = portal.post(
        f"/catalog/products/{product.id}/variants/{variant.id}",
        data=row_data(variant, price="1.00"),
        headers=htmx(f"variant-{variant.id}"),
    )
    assert response.status_code == 403
    db.session.refresh(variant)
    assert variant.price == Decimal("10.00")
    assert (
        db.session.scalar(
            select(func.count()).select_from(PriceChange).where(PriceChange.old_amount.is_not(None))
        )
        == 0
    )


def test_cancel_swaps_the_row_back_as_shown(portal, db):
    signed_in(portal, "marketing")
    product = tee()
    variant = product.variants[0]
    response = portal.get(
        f"/catalog/products/{product.id}/variants/{variant.id}", headers=htmx(f"variant-{variant.id}")
    )
    assert response.text.strip().startswith(f'<tr id="variant-{variant.id}">')
    assert "Edit" in response.text


def test_a_variant_of_another_product_is_not_found(portal, db):
    signed_in(portal, "marketing")
    product, other = tee(), ProductFactory()
    url = f"/catalog/products/{product.id}/variants/{other.variants[0].id}/edit"
    assert portal.get(url).status_code == 404


# --- Generating, adding, deactivating, deleting ---------------------------------------------


def test_generate_missing_variants_makes_the_new_combinations(portal, db):
    signed_in(portal, "marketing")
    product = tee()
    portal.post(
        f"/catalog/products/{product.id}/options",
        data={"options-0-name": "Size", "options-0-values": "S, M, L"},
    )
    response = portal.post(
        f"/catalog/products/{product.id}/variants/generate", data={"price": "11.00", "sku_prefix": "tee"}
    )
    assert response.status_code == 302
    assert "Generated 1 variant of Tee." in flashes(portal.get(f"/catalog/products/{product.id}").text)
    added = db.session.scalar(select(Variant).where(Variant.sku == "TEE-L"))
    assert added.price == Decimal("11.00")


def test_generate_needs_a_price(portal, db):
    signed_in(portal, "marketing")
    product = tee()
    response = portal.post(f"/catalog/products/{product.id}/variants/generate", data={"price": ""})
    assert response.status_code == 422
    assert field_error(response.text, "price")


def test_adding_a_variant_and_a_colliding_combination(portal, db):
    signed_in(portal, "marketing")
    product = tee()
    portal.post(
        f"/catalog/products/{product.id}/options",
        data={"options-0-name": "Size", "options-0-values": "S, M, XL"},
    )
    option_field = f"new-option_{product.options[0].id}"
    response = portal.post(
        f"/catalog/products/{product.id}/variants",
        data={option_field: "XL", "new-sku": "TEE-XL", "new-price": "14.00"},
    )
    assert response.status_code == 302
    assert db.session.scalar(select(Variant).where(Variant.sku == "TEE-XL")).price == Decimal("14.00")

    again = portal.post(
        f"/catalog/products/{product.id}/variants",
        data={option_field: "XL", "new-sku": "TEE-XL2", "new-price": "14.00"},
    )
    assert again.status_code == 422
    assert "exists already" in field_error(again.text, option_field)
    assert input_value(again.text, "new-sku") == "TEE-XL2"


def test_deactivating_a_variant_asks_first_and_takes_it_off_sale(portal, db):
    signed_in(portal, "marketing")
    product = tee()
    variant = product.variants[1]
    # Offered (with Delete) once the row is open for editing.
    page = portal.get(f"/catalog/products/{product.id}/variants/{variant.id}/edit").text
    assert (
        'data-confirm="Deactivate M (TEE-M)?' in page and 'data-confirm="Delete M (TEE-M) for good?' in page
    )
    response = portal.post(
        f"/catalog/products/{product.id}/variants/{variant.id}/deactivate", follow_redirects=True
    )
    assert any("is deactivated" in message for message in flashes(response.text))
    db.session.refresh(variant)
    assert variant.is_active is False
    assert db.session.get(Product, product.id).max_price == Decimal("10.00")


def test_deleting_a_variant_and_the_refusals_that_say_deactivate_instead(portal, db):
    signed_in(portal, "marketing")
    product = tee()
    small, medium = product.variants
    db.session.add(
        InventoryMovement(
            variant_id=small.id, location_id=LocationFactory().id, kind="receipt", on_hand_delta=1
        )
    )
    db.session.flush()
    refused = portal.post(f"/catalog/products/{product.id}/variants/{small.id}/delete", follow_redirects=True)
    assert any("deactivate it instead" in message for message in flashes(refused.text))

    deleted = portal.post(
        f"/catalog/products/{product.id}/variants/{medium.id}/delete", follow_redirects=True
    )
    assert any("Deleted M (TEE-M) from Tee." in message for message in flashes(deleted.text))
    assert db.session.scalars(select(Variant.sku).where(Variant.product_id == product.id)).all() == ["TEE-S"]

    last = portal.post(f"/catalog/products/{product.id}/variants/{small.id}/delete", follow_redirects=True)
    assert any("at least one variant" in message for message in flashes(last.text))


# --- Price history -------------------------------------------------------------------------


def test_price_history_lists_who_when_old_and_new(portal, db):
    user = signed_in(portal, "marketing", name="Pat Pricer")
    product = tee()
    variant = product.variants[0]
    portal.post(
        f"/catalog/products/{product.id}/variants/{variant.id}", data=row_data(variant, price="13.00")
    )
    url = f"/catalog/products/{product.id}/variants/{variant.id}/prices"
    page = portal.get(url).text
    assert "<title>Price history of TEE-S" in page
    assert "Pat Pricer" in page and "€10.00" in page and "€13.00" in page
    fragment = portal.get(url, headers=htmx("price-history")).text.strip()
    assert fragment.startswith('<section id="price-history"') and "Pat Pricer" in fragment
    assert user.id
