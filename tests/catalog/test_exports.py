"""Product CSV export (portal and admin API): the import's columns, one row per variant of
the filtered products, streamed in constant memory, formulas neutralised, audited; and an
export imports back unchanged (round trip)."""

from __future__ import annotations

import csv
import gc
import io
import tracemalloc
from datetime import date
from decimal import Decimal

import pytest
from flask_login import login_user
from sqlalchemy import func, select

from app.blueprints.catalog import exports, imports, services
from app.blueprints.catalog.import_files import COLUMNS
from app.blueprints.catalog.inputs import AttributeInput, ImageInput, ProductInput, VariantInput
from app.blueprints.catalog.models import PriceChange, Product, Variant
from app.blueprints.catalog.queries import ProductFilter
from app.core.models import AuditEntry
from app.core.transaction import transaction
from tests.factories.auth import PASSWORD, UserFactory, make_token
from tests.factories.catalog import BrandFactory, CategoryFactory, ProductFactory

API = "/api/v1/admin/products/export.csv"


@pytest.fixture(autouse=True)
def import_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "PRODUCT_IMPORT_DIR", str(tmp_path / "imports"))


@pytest.fixture
def catalog(db):
    """A product with two options, images, attributes, brand and categories, and a plain one."""
    shirts = CategoryFactory(slug="shirts", name="Shirts")
    summer = CategoryFactory(slug="summer", name="Summer")
    brand = BrandFactory(name="Acme, Inc.", slug="acme")
    shirt = services.create_product(
        ProductInput(
            name="Linen shirt",
            slug="linen-shirt",
            description="- breathable\n- **linen**\n\nWash cold.",
            status="active",
            brand_id=brand.id,
            category_ids=[summer.id, shirts.id],
            images=[
                ImageInput("/static/img/products/shirt.svg", "Front"),
                ImageInput("https://x.test/b.jpg"),
            ],
            attributes=[AttributeInput("Material", "Linen: 100%"), AttributeInput("Fit", "Regular")],
            seo_title="Linen shirt | Acme",
        ),
        actor=None,
        options={"Size": ["S", "M"], "Colour": ["White", "Sky blue"]},
        variants=[
            VariantInput(
                sku="LS-S-W",
                price=Decimal("49.00"),
                options={"Size": "S", "Colour": "White"},
                compare_at_price=Decimal("59.00"),
                cost_price=Decimal("20.00"),
                barcode="8710001",
                weight_grams=250,
                low_stock_threshold=3,
            ),
            VariantInput(
                sku="LS-M-B",
                price=Decimal("52.50"),
                options={"Size": "M", "Colour": "Sky blue"},
                backorder_policy="allow",
                backorder_limit=10,
                expected_restock_date=date(2026, 12, 24),
                is_active=False,
            ),
        ],
    )
    mug = ProductFactory(name='=HYPERLINK("http://evil")', slug="mug", price=Decimal("8.50"), status="draft")
    return shirt, mug


def rows_of(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def export_text(filters: ProductFilter | None = None) -> str:
    return "".join(exports.csv_lines(filters or ProductFilter()))


def test_the_export_has_the_import_columns_and_one_row_per_variant(db, catalog):
    text = export_text()
    assert text.splitlines()[0] == ",".join(COLUMNS)
    rows = rows_of(text)
    assert [row["sku"] for row in rows] == ["SKU-MUG", "LS-S-W", "LS-M-B"]  # by name, "=" first
    first, second = rows[1], rows[2]
    assert (first["product_slug"], first["brand"], first["categories"]) == (
        "linen-shirt",
        "Acme, Inc.",
        "summer|shirts",
    )
    assert (
        first["description"] == "'- breathable\n- **linen**\n\nWash cold."
    )  # a formula trigger, neutralised
    assert first["attributes"] == "Material: Linen: 100%|Fit: Regular"
    assert (first["image_urls"], first["image_alt_texts"]) == (
        "/static/img/products/shirt.svg|https://x.test/b.jpg",
        "Front|",
    )
    assert [first[f"option{n}_{p}"] for n in (1, 2) for p in ("name", "value")] == [
        "Size",
        "S",
        "Colour",
        "White",
    ]
    assert (first["price"], first["compare_at_price"], first["cost_price"], first["weight_grams"]) == (
        "49.00",
        "59.00",
        "20.00",
        "250",
    )
    assert (first["variant_active"], first["low_stock_threshold"], first["barcode"]) == (
        "yes",
        "3",
        "8710001",
    )
    assert (second["variant_active"], second["backorder_policy"], second["backorder_limit"]) == (
        "no",
        "allow",
        "10",
    )
    assert second["expected_restock_date"] == "2026-12-24" and second["option2_value"] == "Sky blue"


def test_cells_a_spreadsheet_would_run_are_neutralised(db, catalog):
    mug = next(row for row in rows_of(export_text()) if row["product_slug"] == "mug")
    assert mug["product_name"] == '\'=HYPERLINK("http://evil")'


def test_the_filter_chooses_the_products(db, catalog):
    assert {row["product_slug"] for row in rows_of(export_text(ProductFilter(status="draft")))} == {"mug"}
    assert {row["sku"] for row in rows_of(export_text(ProductFilter(q="ls-m")))} == {"LS-S-W", "LS-M-B"}


def test_an_export_imports_back_changing_nothing_and_an_edited_one_changes_what_was_edited(
    db, catalog, tmp_path
):
    path = tmp_path / "export.csv"
    path.write_text(export_text(), encoding="utf-8")
    audited, prices = (
        db.session.scalar(select(func.count(AuditEntry.id))),
        db.session.scalar(select(func.count(PriceChange.id))),
    )

    with transaction():
        run = imports.register_file(path)
    run = imports.process_run(run.id)
    assert (run.rows_done, run.rows_created, run.rows_updated, run.rows_failed) == (3, 0, 0, 0), (
        run.row_errors
    )
    assert db.session.scalar(select(func.count(AuditEntry.id))) == audited + 2  # start and finish only
    assert db.session.scalar(select(func.count(PriceChange.id))) == prices

    edited = tmp_path / "edited.csv"
    edited.write_text(
        export_text().replace("52.50", "54.00").replace("Wash cold.", "Wash at 30°."), encoding="utf-8"
    )
    with transaction():
        run = imports.register_file(edited)
    run = imports.process_run(run.id)
    assert (run.rows_updated, run.rows_failed) == (2, 0), run.row_errors
    assert db.session.scalar(select(Variant.price).where(Variant.sku == "LS-M-B")) == Decimal("54.00")
    assert db.session.scalar(select(Product.description).where(Product.slug == "linen-shirt")).endswith(
        "30°."
    )


def test_an_export_into_an_empty_catalog_recreates_it(db, catalog, tmp_path):
    """Products, options, variants and their settings come back from the file alone (the
    categories must exist: they are the shop's structure, not part of a product)."""
    text = export_text()
    before = rows_of(text)
    for product in db.session.scalars(select(Product)).all():
        db.session.delete(product)
    db.session.flush()
    path = tmp_path / "export.csv"
    path.write_text(text, encoding="utf-8")
    with transaction():
        run = imports.register_file(path)
    run = imports.process_run(run.id)
    assert (run.rows_created, run.rows_failed) == (3, 0), run.row_errors
    assert rows_of(export_text()) == before


def test_the_export_keeps_no_product_it_has_written(db):
    """Memory stays flat however many products are exported: what stays allocated after each
    chunk (once the collector has run) does not grow with the number of products."""

    def retained_for(products: int) -> int:
        for n in range(products):
            ProductFactory(slug=f"p{products}-{n}", name=f"Product {n}", description="x" * 2000)
        db.session.expunge_all()
        gc.collect()
        tracemalloc.start()
        try:
            retained = 0
            for line_number, _ in enumerate(exports.csv_lines(ProductFilter(q=f"p{products}-"))):
                if line_number % exports.CHUNK == exports.CHUNK // 2:
                    gc.collect()
                    retained = max(retained, tracemalloc.get_traced_memory()[0])
            assert line_number == products
            return retained
        finally:
            tracemalloc.stop()

    retained_for(20)  # warm the statement caches
    small, large = retained_for(exports.CHUNK), retained_for(exports.CHUNK * 4)
    assert large < small + 256 * 1024, f"{exports.CHUNK} products kept {small} bytes, 4x as many {large}"


# --- Portal --------------------------------------------------------------------------------------


def test_the_portal_export_takes_the_list_filters_and_is_audited(admin_portal, db, catalog, admin):
    response = admin_portal.get("/catalog/products/export.csv?status=draft&sort=-name", buffered=True)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=products-")
    assert [row["product_slug"] for row in rows_of(response.text)] == ["mug"]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "catalog.exported"))
    assert entry.actor_id == admin.id and entry.data["filter"] == {"status": "draft", "sort": "-name"}


def test_the_portal_export_is_streamed_row_by_row(app, admin, db, catalog):
    with app.test_request_context("/catalog/products/export.csv"):
        login_user(admin)
        response = app.view_functions["catalog.export"]()
        assert response.is_streamed and "Content-Length" not in response.headers
        chunks = list(response.response)
    assert len(chunks) == 4 and chunks[0].startswith("product_slug,")


def test_the_portal_export_refuses_invalid_filters(admin_portal, db):
    response = admin_portal.get("/catalog/products/export.csv?min_price=abc")
    assert response.status_code == 422


@pytest.mark.parametrize("role", ["sales", "support", "marketing"])
def test_the_portal_export_needs_catalog_import(portal, db, role):
    user = UserFactory(roles=[role])
    portal.login(user.email, PASSWORD)
    assert portal.get("/catalog/products/export.csv").status_code == 403


# --- Admin API -------------------------------------------------------------------------------------


def bearer(scopes, user=None):
    return {"Authorization": f"Bearer {make_token(user or UserFactory(roles=['admin']), scopes)}"}


def test_the_api_export_streams_csv_for_a_token_with_catalog_import(client, db, catalog):
    response = client.get(f"{API}?status=active", headers=bearer(["catalog.import"]), buffered=True)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert [row["sku"] for row in rows_of(response.text)] == ["LS-S-W", "LS-M-B"]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "catalog.exported"))
    assert entry.data["via"] == "api"


def test_the_api_export_needs_a_token_with_the_scope(client, db):
    assert client.get(API).status_code == 401
    response = client.get(API, headers=bearer(["catalog.read"]))
    assert response.status_code == 403 and response.mimetype == "application/problem+json"


def test_the_api_export_refuses_invalid_filters_with_422(client, db):
    response = client.get(f"{API}?status=lost", headers=bearer(["catalog.import"]))
    assert response.status_code == 422 and "status" in response.get_json()["errors"]


def test_the_api_export_is_in_the_openapi_document_as_csv(client, db):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/admin/products/export.csv"]["get"]
    assert "text/csv" in operation["responses"]["200"]["content"]
