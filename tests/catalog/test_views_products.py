"""The product pages of the portal: who may open them, the list with its search, filters,
sorting and HTMX results, the new-product form (one variant or generated variants), and
the product page's details, options and status actions."""

from decimal import Decimal

from sqlalchemy import func, select

from app.blueprints.catalog.models import PriceChange, Product, ProductAttribute, ProductImage, Variant
from app.core.models import AuditEntry
from tests.catalog.views_support import field_error, flashes, htmx, input_value, signed_in
from tests.factories.catalog import BrandFactory, CategoryFactory, ProductFactory, product_with_variants

READ, WRITE, PRICES = "catalog.read", "catalog.write", "catalog.prices"


def new_product_data(**changes):
    data = {
        "name": "Linen shirt",
        "slug": "",
        "status": "draft",
        "brand": "",
        "tax_class": "standard",
        "description": "Made of **linen**.",
        "seo_title": "",
        "seo_description": "",
        "kind": "simple",
        "sku": "SHIRT-1",
        "price": "49.90",
        "compare_at_price": "59.90",
        "cost_price": "20.00",
        "base_price": "",
        "sku_prefix": "",
    }
    data.update(changes)
    return data


# --- The list ------------------------------------------------------------------------------


def test_the_list_shows_price_range_in_store_currency_variant_count_and_status(portal, db):
    signed_in(portal, "sales")
    product_with_variants(
        {"Size": ["S", "M"]}, name="Tee", prices={("S",): Decimal("10.00"), ("M",): Decimal("24.00")}
    )
    ProductFactory(name="Draft mug", status="draft", price=Decimal("8.50"))
    page = portal.get("/catalog/products").text
    assert "€10.00 – €24.00" in page
    assert "€8.50" in page
    assert '<td class="num">2</td>' in page  # the tee's two variants
    assert '<span class="badge ">Draft</span>' in page


def test_search_finds_products_by_name_and_by_sku(portal, db):
    signed_in(portal, "sales")
    ProductFactory(name="Blue kettle", slug="kettle")
    ProductFactory(name="Teapot", slug="teapot")
    by_name = portal.get("/catalog/products?q=kettle").text
    assert "Blue kettle" in by_name and "Teapot" not in by_name
    by_sku = portal.get("/catalog/products?q=SKU-TEAPOT").text
    assert "Teapot" in by_sku and "Blue kettle" not in by_sku


def test_filters_by_status_brand_category_with_sub_categories_and_price(portal, db):
    signed_in(portal, "sales")
    shoes = CategoryFactory(name="Shoes")
    boots = CategoryFactory(name="Boots", parent=shoes)
    brand = BrandFactory(name="Acme")
    ProductFactory(name="Hiking boot", categories=[boots], brand=brand, price=Decimal("120.00"))
    ProductFactory(name="Sandal", categories=[shoes], price=Decimal("30.00"))
    ProductFactory(name="Old boot", categories=[boots], status="archived", price=Decimal("50.00"))

    def names(query):
        page = portal.get(f"/catalog/products?{query}").text
        return {name for name in ("Hiking boot", "Sandal", "Old boot") if f">{name}</a>" in page}

    assert names(f"category={shoes.id}") == {"Hiking boot", "Sandal", "Old boot"}
    assert names(f"category={boots.id}") == {"Hiking boot", "Old boot"}
    assert names("status=archived") == {"Old boot"}
    assert names(f"brand={brand.id}") == {"Hiking boot"}
    assert names("min_price=40&max_price=100") == {"Old boot"}


def test_a_wrong_filter_is_shown_next_to_it_with_422(portal, db):
    signed_in(portal, "sales")
    response = portal.get("/catalog/products?min_price=50&max_price=10&category=999999")
    assert response.status_code == 422
    assert "Is less than" in field_error(response.text, "max_price")
    assert field_error(response.text, "category")
    assert input_value(response.text, "min_price") == "50"


def test_nonsense_in_the_url_is_a_field_error_never_a_500(portal, db):
    signed_in(portal, "sales")
    response = portal.get("/catalog/products?brand=abc&category=1e9&min_price=lots&sort=bogus&page=x")
    assert response.status_code == 422
    assert field_error(response.text, "brand") and field_error(response.text, "min_price")
    assert portal.get("/catalog/products?sort=bogus&page=x&per_page=1000").status_code == 200
    assert portal.get("/catalog/products/99999999999").status_code == 404


def test_sorting_by_price_descending_and_pagination_keep_the_filters(portal, db):
    signed_in(portal, "sales")
    for number in range(30):
        ProductFactory(name=f"Candle {number:02}", price=Decimal(10 + number))
    page = portal.get("/catalog/products?q=candle&sort=-price").text
    assert page.index("Candle 29") < page.index("Candle 28")
    assert 'aria-sort="descending"' in page
    assert "/catalog/products?q=candle&amp;sort=-price&amp;page=2" in page
    second = portal.get("/catalog/products?q=candle&sort=-price&page=2").text
    assert "Candle 04" in second and "Candle 29" not in second


def test_htmx_filtering_returns_only_the_results_and_varies_on_hx_request(portal, db):
    signed_in(portal, "sales")
    ProductFactory(name="Kettle")
    response = portal.get("/catalog/products?q=kettle", headers=htmx("product-results"))
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="product-results"')
    assert "<html" not in response.text
    assert "HX-Request" in response.headers["Vary"]
    assert "HX-Request" in portal.get("/catalog/products").headers["Vary"]


def test_empty_states_say_what_to_do_next(portal, db):
    signed_in(portal, "marketing")
    assert "Add the first product" in portal.get("/catalog/products").text
    assert "No products match these filters" in portal.get("/catalog/products?q=nothing").text


# --- A new product -------------------------------------------------------------------------


def test_creating_a_simple_product_saves_its_variant_and_first_prices(portal, db):
    user = signed_in(portal, "marketing")
    category = CategoryFactory()
    response = portal.post(
        "/catalog/products/new", data={**new_product_data(), "categories": [str(category.id)]}
    )
    assert response.status_code == 302
    product = db.session.scalar(select(Product).where(Product.name == "Linen shirt"))
    assert response.headers["Location"].endswith(f"/catalog/products/{product.id}")
    assert product.slug == "linen-shirt" and product.status == "draft"
    assert [link.category_id for link in product.category_links] == [category.id]
    [variant] = product.variants
    assert (variant.sku, variant.price, variant.compare_at_price, variant.cost_price) == (
        "SHIRT-1",
        Decimal("49.90"),
        Decimal("59.90"),
        Decimal("20.00"),
    )
    first = db.session.scalar(
        select(PriceChange).where(PriceChange.variant_id == variant.id, PriceChange.field == "price")
    )
    assert first.changed_by_id == user.id and first.new_amount == Decimal("49.90")
    assert "Linen shirt is created with 1 variant." in flashes(portal.get(response.headers["Location"]).text)


def test_creating_a_product_with_options_generates_every_variant(portal, db):
    signed_in(portal, "marketing")
    data = new_product_data(
        kind="options",
        sku="",
        price="",
        compare_at_price="",
        cost_price="",
        base_price="25.00",
        sku_prefix="tee",
        status="active",
        **{
            "options-0-name": "Size",
            "options-0-values": "S, M, L",
            "options-1-name": "Colour",
            "options-1-values": "Red, Blue",
        },
    )
    response = portal.post("/catalog/products/new", data=data)
    assert response.status_code == 302
    product = db.session.scalar(select(Product).where(Product.name == "Linen shirt"))
    assert product.status == "active"
    assert sorted(v.sku for v in product.variants) == sorted(
        f"TEE-{size}-{colour}" for size in "SML" for colour in ("RED", "BLUE")
    )
    assert {v.price for v in product.variants} == {Decimal("25.00")}
    assert [o.name for o in product.options] == ["Size", "Colour"]


def test_missing_fields_are_marked_and_what_was_typed_stays(portal, db):
    signed_in(portal, "marketing")
    response = portal.post(
        "/catalog/products/new", data=new_product_data(name="", sku="", description="Kept text")
    )
    assert response.status_code == 422
    assert "Please correct the fields marked below." in response.text
    assert field_error(response.text, "name")
    assert "Give the product its SKU." in field_error(response.text, "sku")
    assert input_value(response.text, "price") == "49.90"
    assert "Kept text" in response.text
    assert db.session.scalar(select(func.count()).select_from(Product)) == 0


def test_a_duplicate_sku_is_a_field_error_and_nothing_is_saved(portal, db):
    signed_in(portal, "marketing")
    ProductFactory(slug="taken")  # its SKU is SKU-TAKEN
    response = portal.post("/catalog/products/new", data=new_product_data(sku="SKU-TAKEN"))
    assert response.status_code == 422
    assert "Another variant has the SKU “SKU-TAKEN”." in field_error(response.text, "sku")
    assert input_value(response.text, "name") == "Linen shirt"
    assert (
        db.session.scalar(select(func.count()).select_from(Product).where(Product.name == "Linen shirt")) == 0
    )


def test_a_compare_at_price_below_the_price_is_refused_next_to_it(portal, db):
    signed_in(portal, "marketing")
    response = portal.post("/catalog/products/new", data=new_product_data(compare_at_price="10.00"))
    assert response.status_code == 422
    assert "below the price" in field_error(response.text, "compare_at_price")


def test_a_generated_sku_that_is_taken_points_at_the_prefix(portal, db):
    signed_in(portal, "marketing")
    ProductFactory(slug="tee-s")  # SKU-TEE-S
    data = new_product_data(
        kind="options",
        sku="",
        price="",
        base_price="5",
        sku_prefix="sku-tee",
        **{"options-0-name": "Size", "options-0-values": "S, M"},
    )
    response = portal.post("/catalog/products/new", data=data)
    assert response.status_code == 422
    error = field_error(response.text, "sku_prefix")
    assert "SKU-TEE-S" in error and "Choose another SKU prefix." in error
    assert input_value(response.text, "options-0-values") == "S, M"


def test_options_without_values_are_refused(portal, db):
    signed_in(portal, "marketing")
    data = new_product_data(
        kind="options", base_price="5", **{"options-0-name": "Size", "options-0-values": ""}
    )
    response = portal.post("/catalog/products/new", data=data)
    assert response.status_code == 422
    assert "List its values" in field_error(response.text, "options-0-values")


# --- The product page ----------------------------------------------------------------------


def test_the_product_page_shows_key_facts_variants_and_actions(portal, db):
    signed_in(portal, "marketing")
    product = product_with_variants({"Size": ["S", "M"]}, name="Tee", status="draft", sku_prefix="TEE")
    page = portal.get(f"/catalog/products/{product.id}").text
    assert "<h1>Tee</h1>" in page
    assert "TEE-S" in page and "TEE-M" in page
    assert "Activate" in page and "Delete draft" in page and "Archive" in page
    assert 'id="variant-' in page and "Generate missing variants" in page


def test_a_reader_sees_the_product_without_forms(portal, db):
    signed_in(portal, "sales")
    product = ProductFactory(description="# Care\nWash **cold**.")
    page = portal.get(f"/catalog/products/{product.id}").text
    assert "<strong>cold</strong>" in page
    assert "Save details" not in page and ">Edit<" not in page and "Activate" not in page


def test_saving_details_replaces_categories_images_and_specifications(portal, db):
    user = signed_in(portal, "marketing")
    old, new = CategoryFactory(), CategoryFactory()
    product = ProductFactory(categories=[old])
    data = {
        "name": "Renamed",
        "slug": product.slug,
        "brand": "",
        "tax_class": "reduced",
        "categories": [str(new.id)],
        "description": "New words",
        "seo_title": "",
        "seo_description": "",
        "images-0-url": "https://img.example.com/a.jpg",
        "images-0-alt_text": "Front",
        "images-1-url": "",
        "attributes-0-name": "Material",
        "attributes-0-value": "Cotton",
    }
    response = portal.post(f"/catalog/products/{product.id}/details", data=data)
    assert response.status_code == 302
    db.session.refresh(product)
    assert (product.name, product.tax_class) == ("Renamed", "reduced")
    assert [link.category_id for link in product.category_links] == [new.id]
    assert [(i.url, i.alt_text) for i in db.session.scalars(select(ProductImage))] == [
        ("https://img.example.com/a.jpg", "Front")
    ]
    assert [(a.name, a.value) for a in db.session.scalars(select(ProductAttribute))] == [
        ("Material", "Cotton")
    ]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "catalog.product.updated"))
    assert entry.actor_id == user.id


def test_a_bad_image_url_is_shown_at_its_row_and_nothing_is_saved(portal, db):
    signed_in(portal, "marketing")
    product = ProductFactory(name="Kept")
    data = {
        "name": "Changed",
        "slug": product.slug,
        "tax_class": "standard",
        "images-0-url": "/ok.jpg",
        "images-1-url": "ftp://example.com/x.jpg",
        "images-1-alt_text": "typed",
    }
    response = portal.post(f"/catalog/products/{product.id}/details", data=data)
    assert response.status_code == 422
    assert field_error(response.text, "images-1-url")
    assert input_value(response.text, "images-1-alt_text") == "typed"
    assert input_value(response.text, "name") == "Changed"
    db.session.refresh(product)
    assert product.name == "Kept"


def test_activating_and_archiving_ask_first_and_flash_the_result(portal, db):
    signed_in(portal, "marketing")
    product = ProductFactory(status="draft", published_at=None)
    page = portal.get(f"/catalog/products/{product.id}").text
    assert 'data-confirm="Activate' in page and 'data-confirm="Archive' in page
    response = portal.post(
        f"/catalog/products/{product.id}/status", data={"status": "active"}, follow_redirects=True
    )
    assert any("is active" in message for message in flashes(response.text))
    db.session.refresh(product)
    assert product.status == "active" and product.published_at is not None
    portal.post(f"/catalog/products/{product.id}/status", data={"status": "archived"})
    db.session.refresh(product)
    assert product.status == "archived"


def test_a_product_without_an_active_variant_cannot_be_activated(portal, db):
    signed_in(portal, "marketing")
    product = ProductFactory(status="draft", published_at=None)
    product.variants[0].is_active = False
    db.session.flush()
    response = portal.post(
        f"/catalog/products/{product.id}/status", data={"status": "active"}, follow_redirects=True
    )
    assert any("needs an active variant" in message for message in flashes(response.text))
    db.session.refresh(product)
    assert product.status == "draft"


def test_deleting_a_draft_spells_out_the_consequences_then_deletes_it(portal, db):
    signed_in(portal, "marketing")
    product = ProductFactory(name="Prototype", status="draft")
    confirm = portal.get(f"/catalog/products/{product.id}/delete")
    assert confirm.status_code == 200
    assert "cannot be undone" in confirm.text and "SKU-" in confirm.text
    response = portal.post(f"/catalog/products/{product.id}/delete")
    assert response.status_code == 302 and response.headers["Location"].endswith("/catalog/products")
    assert db.session.scalar(select(func.count()).select_from(Product)) == 0


def test_an_active_product_cannot_be_deleted(portal, db):
    signed_in(portal, "marketing")
    product = ProductFactory(status="active")
    response = portal.post(f"/catalog/products/{product.id}/delete", follow_redirects=True)
    assert any("archive it instead" in message for message in flashes(response.text))
    assert db.session.get(Product, product.id) is not None


def test_options_are_saved_and_a_used_value_cannot_be_removed(portal, db):
    signed_in(portal, "marketing")
    product = product_with_variants({"Size": ["S", "M"]})
    response = portal.post(
        f"/catalog/products/{product.id}/options",
        data={
            "options-0-name": "Size",
            "options-0-values": "S, M, L",
            "options-1-name": "Fit",
            "options-1-values": "Slim",
        },
    )
    assert response.status_code == 302
    db.session.refresh(product)
    assert [(o.name, [v.value for v in o.values]) for o in product.options] == [
        ("Size", ["S", "M", "L"]),
        ("Fit", ["Slim"]),
    ]

    refused = portal.post(
        f"/catalog/products/{product.id}/options",
        data={
            "options-0-name": "Size",
            "options-0-values": "S",
            "options-1-name": "Fit",
            "options-1-values": "Slim",
        },
    )
    assert refused.status_code == 422
    assert "Variants use Size “M”" in refused.text
    assert input_value(refused.text, "options-0-values") == "S"
    assert (
        db.session.scalar(select(func.count()).select_from(Variant).where(Variant.product_id == product.id))
        == 2
    )


def test_import_and_export_are_offered_only_to_those_who_may_import(portal, db):
    from tests.catalog.views_support import role_with

    ProductFactory(name="Wool scarf")
    signed_in(portal, role_with("importer", READ, "catalog.import"))
    page = portal.get("/catalog/products?q=wool").get_data(as_text=True)
    assert 'href="/catalog/import"' in page
    assert "/catalog/products/export.csv?sort=name&amp;q=wool" in page


def test_readers_without_the_import_permission_see_no_import_or_export(portal, db):
    signed_in(portal, "sales")
    page = portal.get("/catalog/products").get_data(as_text=True)
    assert "/catalog/import" not in page
    assert "export.csv" not in page
