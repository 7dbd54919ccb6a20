"""Who may open the catalog pages: every page declares its permission, readers open every
page and change nothing, a role without catalog permissions gets 403 everywhere, and the
sidebar shows the catalog entries each user may use."""

import pytest

from app.blueprints.catalog import category_views, price_views, variant_views, views
from tests.catalog.views_support import role_with, signed_in
from tests.conftest import Portal
from tests.factories.catalog import BrandFactory, CategoryFactory, ProductFactory

READ, WRITE, PRICES = "catalog.read", "catalog.write", "catalog.prices"

# --- Access ------------------------------------------------------------------------------

EXPECTED_PERMISSIONS = {
    "catalog.products": READ,
    "catalog.new_product": WRITE,
    "catalog.product": READ,
    "catalog.update_product": WRITE,
    "catalog.product_status": WRITE,
    "catalog.delete_product": WRITE,
    "catalog.save_options": WRITE,
    "catalog.variant": READ,
    "catalog.edit_variant": WRITE,
    "catalog.save_variant": WRITE,
    "catalog.generate_variants": WRITE,
    "catalog.add_variant": WRITE,
    "catalog.deactivate_variant": WRITE,
    "catalog.delete_variant": WRITE,
    "catalog.variant_prices": READ,
    "catalog.categories": READ,
    "catalog.create_category": WRITE,
    "catalog.category": READ,
    "catalog.update_category": WRITE,
    "catalog.move_category": WRITE,
    "catalog.delete_category": WRITE,
    "catalog.brands": READ,
    "catalog.create_brand": WRITE,
    "catalog.brand": READ,
    "catalog.edit_brand": WRITE,
    "catalog.save_brand": WRITE,
    "catalog.brand_active": WRITE,
    "catalog.delete_brand": WRITE,
    "catalog.prices": PRICES,
    "catalog.preview_prices": PRICES,
    "catalog.apply_prices": PRICES,
}
VIEW_MODULES = {m.__name__ for m in (views, variant_views, category_views, price_views)}


def test_every_catalog_page_declares_the_permission_it_needs(app):
    declared = {
        rule.endpoint: app.view_functions[rule.endpoint].required_permission
        for rule in app.url_map.iter_rules()
        if app.view_functions[rule.endpoint].__module__ in VIEW_MODULES
    }
    assert declared == EXPECTED_PERMISSIONS


READ_PAGES = [
    "/catalog/products",
    "/catalog/products/{product}",
    "/catalog/products/{product}/variants/{variant}",
    "/catalog/products/{product}/variants/{variant}/prices",
    "/catalog/categories",
    "/catalog/categories/{category}",
    "/catalog/brands",
]
WRITE_REQUESTS = [
    ("get", "/catalog/products/new"),
    ("post", "/catalog/products/new"),
    ("post", "/catalog/products/{product}/details"),
    ("post", "/catalog/products/{product}/status"),
    ("get", "/catalog/products/{product}/delete"),
    ("post", "/catalog/products/{product}/options"),
    ("get", "/catalog/products/{product}/variants/{variant}/edit"),
    ("post", "/catalog/products/{product}/variants/{variant}"),
    ("post", "/catalog/products/{product}/variants/generate"),
    ("post", "/catalog/products/{product}/variants"),
    ("post", "/catalog/products/{product}/variants/{variant}/deactivate"),
    ("post", "/catalog/products/{product}/variants/{variant}/delete"),
    ("post", "/catalog/categories"),
    ("post", "/catalog/categories/{category}"),
    ("post", "/catalog/categories/{category}/move"),
    ("post", "/catalog/categories/{category}/delete"),
    ("post", "/catalog/brands"),
    ("get", "/catalog/brands/{brand}/edit"),
    ("post", "/catalog/brands/{brand}"),
    ("post", "/catalog/brands/{brand}/active"),
    ("post", "/catalog/brands/{brand}/delete"),
]
PRICE_REQUESTS = [
    ("get", "/catalog/prices"),
    ("post", "/catalog/prices/preview"),
    ("post", "/catalog/prices/apply"),
]


def targets():
    category = CategoryFactory()
    brand = BrandFactory()
    product = ProductFactory(categories=[category], brand=brand)
    return {
        "product": product.id,
        "variant": product.variants[0].id,
        "category": category.id,
        "brand": brand.id,
    }


@pytest.mark.parametrize("url", READ_PAGES)
def test_a_reader_opens_every_catalog_page(portal, db, url):
    signed_in(portal, "sales")  # catalog.read only
    response = portal.get(url.format(**targets()))
    assert response.status_code == 200
    assert "<title>" in response.text and "<h1>" in response.text


@pytest.mark.parametrize(
    ("method", "url"), [*(("get", url) for url in READ_PAGES), *WRITE_REQUESTS, *PRICE_REQUESTS]
)
def test_a_role_without_catalog_permissions_gets_403_everywhere(portal, db, method, url):
    signed_in(portal, role_with("bookkeeping"))
    response = getattr(portal, method)(url.format(**targets()))
    assert response.status_code == 403
    assert response.mimetype == "text/html"


@pytest.mark.parametrize(("method", "url"), [*WRITE_REQUESTS, *PRICE_REQUESTS])
def test_a_reader_gets_403_on_every_change(portal, db, method, url):
    signed_in(portal, "sales")
    assert getattr(portal, method)(url.format(**targets())).status_code == 403


def test_the_sidebar_shows_catalog_entries_by_permission(portal, db):
    signed_in(portal, "sales")
    page = portal.get("/catalog/products").text
    assert ">Products</a>" in page and ">Categories</a>" in page and ">Brands</a>" in page
    assert "Bulk price change" not in page and "New product" not in page

    other = Portal(portal.client.application.test_client())
    signed_in(other, "marketing")
    page = other.get("/catalog/products").text
    assert ">Bulk price change</a>" in page and ">New product</a>" in page
