"""The product import pages: only holders of catalog.import may use them; an upload is
imported (inline without Redis) and its run page shows progress polled by HTMX until the
run ends, the counts and the row error report with its CSV download; and the CLI."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from app.blueprints.catalog import import_views
from app.blueprints.catalog.import_models import ProductImportRun
from app.blueprints.catalog.models import Product, Variant
from app.core.timeutil import utcnow
from tests.factories.auth import PASSWORD, UserFactory

HTMX_POLL = {"HX-Request": "true", "HX-Target": "import-progress"}
POLLING = 'hx-trigger="every 1s"'
GOOD = b"product_slug,product_name,sku,price\nmug,Mug,MUG-1,8.50\ncap,Cap,CAP-1,12\n"


@pytest.fixture(autouse=True)
def import_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "PRODUCT_IMPORT_DIR", str(tmp_path / "imports"))


def upload(portal, content: bytes, *, filename="products.csv"):
    return portal.post(
        "/catalog/import",
        data={"file": (io.BytesIO(content), filename)},
        content_type="multipart/form-data",
    )


def a_run(**fields) -> ProductImportRun:
    from app.extensions import db

    values = {
        "filename": "list.csv",
        "stored_path": "/nowhere/list.csv",
        "status": "running",
        "rows_total": 10,
        "rows_done": 4,
        "rows_created": 3,
        "rows_updated": 1,
        "row_errors": [],
        "started_at": utcnow(),
    }
    values.update(fields)
    run = ProductImportRun(**values)
    db.session.add(run)
    db.session.flush()
    return run


# --- Access --------------------------------------------------------------------------------


def test_every_import_and_export_page_needs_catalog_import(app):
    endpoints = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if app.view_functions[rule.endpoint].__module__ == import_views.__name__
    ]
    assert sorted(endpoints) == [
        "catalog.export",
        "catalog.import_errors",
        "catalog.import_run",
        "catalog.imports",
    ]
    for endpoint in endpoints:
        assert app.view_functions[endpoint].required_permission == "catalog.import", endpoint


@pytest.mark.parametrize("role", ["sales", "support", "marketing"])
def test_a_role_without_catalog_import_gets_403(portal, db, role):
    user = UserFactory(roles=[role])
    portal.login(user.email, PASSWORD)
    run = a_run()
    assert portal.get("/catalog/import").status_code == 403
    assert upload(portal, GOOD).status_code == 403
    assert portal.get(f"/catalog/import/{run.id}").status_code == 403
    assert portal.get(f"/catalog/import/{run.id}/errors.csv").status_code == 403
    assert portal.get("/catalog/products/export.csv").status_code == 403
    assert db.session.scalar(select(Product)) is None


def test_signed_out_people_are_sent_to_sign_in(client, db):
    response = client.get("/catalog/import")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- Upload -> job -> progress -> done -------------------------------------------------------


def test_the_import_page_has_the_form_the_columns_and_an_empty_state(admin_portal):
    page = admin_portal.get("/catalog/import")
    assert page.status_code == 200 and "<h1>Import products</h1>" in page.text
    assert 'enctype="multipart/form-data"' in page.text and 'type="file"' in page.text
    for label in re.findall(r'<label for="([^"]+)"', page.text):
        assert f'id="{label}"' in page.text
    assert "<code>product_slug</code>" in page.text and "<code>low_stock_threshold</code>" in page.text
    assert "No imports yet" in page.text


def test_an_upload_is_imported_by_the_job_and_its_page_shows_it_done(admin_portal, db, admin):
    response = upload(admin_portal, GOOD)
    run = db.session.scalar(select(ProductImportRun))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/catalog/import/{run.id}")
    # No Redis in this test run: the job ran inline once the upload was committed.
    assert (run.status, run.rows_created, run.created_by_id, run.source) == ("done", 2, admin.id, "upload")
    assert db.session.scalar(select(Variant.price).where(Variant.sku == "CAP-1")) == 12

    page = admin_portal.get(response.headers["Location"])
    assert page.status_code == 200 and "products.csv is imported." in page.text
    assert POLLING not in page.text
    assert re.search(r'<div class="label">Created</div><div class="value">2</div>', page.text)
    assert "Every row was imported." in page.text
    listing = admin_portal.get("/catalog/import")
    assert f'href="/catalog/import/{run.id}">products.csv</a>' in listing.text


def test_an_upload_without_a_file_is_sent_back_with_the_error(admin_portal, db):
    response = admin_portal.post("/catalog/import", data={})
    assert response.status_code == 422 and "Choose the CSV file to import." in response.text
    assert db.session.scalar(select(ProductImportRun)) is None


def test_a_file_with_wrong_columns_shows_why_nothing_was_imported(admin_portal, db):
    response = upload(admin_portal, b"sku,price,colour\nA,1,red\n")
    page = admin_portal.get(response.headers["Location"])
    assert "products.csv could not be imported." in page.text
    assert "unknown column colour" in page.text and 'class="badge bad">Failed' in page.text
    assert db.session.scalar(select(Product)) is None


def test_the_progress_fragment_polls_every_second_while_the_run_goes_on(admin_portal, db):
    run = a_run()
    response = admin_portal.get(f"/catalog/import/{run.id}", headers=HTMX_POLL)
    assert response.status_code == 200 and "<html" not in response.text
    assert response.text.lstrip().startswith('<section id="import-progress"')
    assert POLLING in response.text and f'hx-get="/catalog/import/{run.id}"' in response.text
    assert 'value="40"' in response.text and "4 of 10 rows (40%)" in response.text


def test_the_progress_fragment_of_a_finished_run_stops_the_polling(admin_portal, db):
    run = a_run(status="done", rows_done=10, finished_at=utcnow())
    response = admin_portal.get(f"/catalog/import/{run.id}", headers=HTMX_POLL)
    assert POLLING not in response.text and "hx-get" not in response.text
    assert 'value="100"' in response.text
    assert re.search(r'<div class="label">Unchanged</div><div class="value">6</div>', response.text)


def test_a_run_that_does_not_exist_is_404(admin_portal, db):
    assert admin_portal.get("/catalog/import/999999").status_code == 404
    assert admin_portal.get("/catalog/import/99999999999").status_code == 404


def test_row_errors_are_listed_and_downloadable_as_csv(admin_portal, db):
    content = (
        b"product_slug,product_name,sku,price\nmug,Mug,MUG-1,8.50\nhat,Hat,HAT-1,-3\nbag,Bag,=cmd(),1 1\n"
    )
    response = upload(admin_portal, content)
    run = db.session.scalar(select(ProductImportRun))
    page = admin_portal.get(response.headers["Location"])
    assert (run.rows_created, run.rows_failed) == (1, 2)
    assert re.search(r'<td class="num">3</td><td>HAT-1</td>', page.text)
    assert "<code>price</code>: Must not be negative." in page.text

    download = admin_portal.get(f"/catalog/import/{run.id}/errors.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(download.text)))
    assert rows[0] == ["row", "sku", "column", "message"]
    assert ["3", "HAT-1", "price", "Must not be negative."] in rows
    assert ["4", "'=cmd()", "price", "Not an amount of money."] in rows  # a formula is neutralised


# --- The command line -------------------------------------------------------------------------


def cli(app, *args):
    return app.test_cli_runner().invoke(args=["crm", "import-products", *args])


def test_cli_imports_with_a_progress_bar_and_prints_counts_and_first_errors(app, db, tmp_path):
    path = tmp_path / "products.csv"
    path.write_bytes(GOOD + b"hat,Hat,HAT-1,-3\n")
    result = cli(app, str(path))
    assert result.exit_code == 0, result.output
    assert "Importing products" in result.output
    assert "3 rows: 2 created, 0 updated, 0 unchanged, 1 failed." in result.output
    assert "row 4 (HAT-1): price: Must not be negative." in result.output
    run = db.session.scalar(select(ProductImportRun))
    assert (run.source, run.created_by_id) == ("cli", None) and path.exists()

    again = cli(app, str(path))
    assert "3 rows: 0 created, 0 updated, 2 unchanged, 1 failed." in again.output


def test_cli_exits_with_1_and_writes_nothing_when_the_columns_are_wrong(app, db, tmp_path):
    path = tmp_path / "wrong.csv"
    path.write_bytes(b"product_name,price\nMug,1\n")
    result = cli(app, str(path))
    assert result.exit_code == 1 and "Nothing was imported." in result.output
    assert "must be sku" in result.output and db.session.scalar(select(Product)) is None
