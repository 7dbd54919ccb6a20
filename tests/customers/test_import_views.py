"""The import pages of the portal: only admins (customers.import) may use them; an upload
is imported (inline without Redis) and its run page shows status, progress polled by
HTMX until the run ends, counts and the row error report with its CSV download."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from app.blueprints.customers import import_views
from app.blueprints.customers.import_models import ImportRun
from app.blueprints.customers.models import Customer
from app.core.timeutil import utcnow
from tests.factories.auth import PASSWORD, UserFactory

HTMX_POLL = {"HX-Request": "true", "HX-Target": "import-progress"}
POLLING = 'hx-trigger="every 1s"'


@pytest.fixture(autouse=True)
def import_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "CUSTOMER_IMPORT_DIR", str(tmp_path / "imports"))


def upload(portal, content: bytes, *, filename="customers.csv", wording=""):
    return portal.post(
        "/customers/import",
        data={"file": (io.BytesIO(content), filename), "consent_wording": wording},
        content_type="multipart/form-data",
    )


def a_run(**fields) -> ImportRun:
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
    run = ImportRun(**values)
    db.session.add(run)
    db.session.flush()
    return run


# --- Access -------------------------------------------------------------------------------


def test_every_import_page_needs_customers_import(app):
    endpoints = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if app.view_functions[rule.endpoint].__module__ == import_views.__name__
    ]
    assert sorted(endpoints) == ["customers.import_errors", "customers.import_run", "customers.imports"]
    for endpoint in endpoints:
        assert app.view_functions[endpoint].required_permission == "customers.import", endpoint


@pytest.mark.parametrize("role", ["sales", "support", "marketing"])
def test_a_role_without_customers_import_gets_403(portal, db, role):
    user = UserFactory(roles=[role])
    portal.login(user.email, PASSWORD)
    run = a_run()
    assert portal.get("/customers/import").status_code == 403
    assert upload(portal, b"email\nann@example.org\n").status_code == 403
    assert portal.get(f"/customers/import/{run.id}").status_code == 403
    assert portal.get(f"/customers/import/{run.id}/errors.csv").status_code == 403
    assert db.session.scalar(select(Customer)) is None
    assert 'href="/customers/import"' not in portal.get("/customers").text


def test_signed_out_people_are_sent_to_sign_in(client, db):
    response = client.get("/customers/import")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- Upload ---------------------------------------------------------------------------------


def test_the_import_page_has_the_form_the_format_and_an_empty_state(admin_portal):
    page = admin_portal.get("/customers/import")
    assert page.status_code == 200 and "<h1>Import customers</h1>" in page.text
    assert 'enctype="multipart/form-data"' in page.text and 'type="file"' in page.text
    for label in re.findall(r'<label for="([^"]+)"', page.text):
        assert f'id="{label}"' in page.text
    assert "<code>marketing_email_consent</code>" in page.text
    assert "No imports yet" in page.text
    assert 'aria-current="page">Import customers</a>' in page.text


def test_an_upload_is_imported_and_leads_to_its_run_page(admin_portal, db, admin):
    response = upload(admin_portal, b"email;first_name\nann@example.org;Ann\nbob@example.org;Bob\n")
    run = db.session.scalar(select(ImportRun))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/customers/import/{run.id}")
    # No Redis in this test run: the job ran inline, before the redirect.
    assert (run.status, run.rows_created, run.created_by_id) == ("done", 2, admin.id)

    page = admin_portal.get(response.headers["Location"])
    assert page.status_code == 200 and "customers.csv is imported." in page.text
    assert "<h1>Import of customers.csv</h1>" in page.text
    assert POLLING not in page.text
    assert re.search(r'<div class="label">Created</div><div class="value">2</div>', page.text)
    assert "Every row was imported." in page.text
    listing = admin_portal.get("/customers/import")
    assert f'href="/customers/import/{run.id}">customers.csv</a>' in listing.text


def test_an_upload_without_a_file_is_sent_back_with_the_error(admin_portal, db):
    response = admin_portal.post("/customers/import", data={"consent_wording": ""})
    assert response.status_code == 422
    assert "Choose the CSV file to import." in response.text
    assert db.session.scalar(select(ImportRun)) is None


def test_a_wording_version_longer_than_32_characters_is_a_field_error(admin_portal, db):
    response = upload(admin_portal, b"email\nann@example.org\n", wording="v" * 33)
    assert response.status_code == 422 and 'id="consent_wording-error"' in response.text
    assert db.session.scalar(select(ImportRun)) is None


def test_an_upload_over_the_size_limit_is_refused_before_anything_is_stored(
    app, admin_portal, db, monkeypatch
):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    response = upload(admin_portal, b"email\n" + b"someone@example.org\n" * 100)
    assert response.status_code == 413
    assert "larger than the server accepts" in response.text
    assert db.session.scalar(select(ImportRun)) is None


def test_an_unreadable_upload_shows_why_nothing_was_imported(admin_portal, db):
    response = upload(admin_portal, "email,city\nzoë@example.org,Köln\n".encode("latin-1"))
    page = admin_portal.get(response.headers["Location"])
    assert "customers.csv could not be imported." in page.text
    assert "The file is not UTF-8 text." in page.text and 'class="badge bad">Failed' in page.text
    assert db.session.scalar(select(Customer)) is None


# --- Progress -----------------------------------------------------------------------------


def test_the_progress_fragment_polls_every_second_while_the_run_goes_on(admin_portal, db):
    run = a_run()
    response = admin_portal.get(f"/customers/import/{run.id}", headers=HTMX_POLL)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="import-progress"')
    assert "<html" not in response.text
    assert POLLING in response.text and f'hx-get="/customers/import/{run.id}"' in response.text
    assert 'value="40"' in response.text and "4 of 10 rows (40%)" in response.text
    assert "HX-Request" in response.headers.get("Vary", "")


def test_the_progress_fragment_of_a_finished_run_stops_the_polling(admin_portal, db):
    run = a_run(status="done", rows_done=10, finished_at=utcnow())
    response = admin_portal.get(f"/customers/import/{run.id}", headers=HTMX_POLL)
    assert response.status_code == 200 and "<html" not in response.text
    assert POLLING not in response.text and "hx-get" not in response.text
    assert 'value="100"' in response.text
    assert re.search(r'<div class="label">Unchanged</div><div class="value">6</div>', response.text)


def test_a_queued_run_page_is_a_whole_page_that_polls(admin_portal, db):
    run = a_run(status="queued", rows_total=None, rows_done=0, started_at=None)
    page = admin_portal.get(f"/customers/import/{run.id}")
    assert page.status_code == 200 and "<html" in page.text and POLLING in page.text
    assert "Waiting for a worker" in page.text


def test_a_run_that_does_not_exist_is_404(admin_portal, db):
    assert admin_portal.get("/customers/import/999999").status_code == 404


# --- Row errors -----------------------------------------------------------------------------


def test_row_errors_are_listed_and_downloadable_as_csv(admin_portal, db):
    response = upload(admin_portal, b"email,country\nann@example.org,NL\nnope,XX\n=cmd(),\n")
    run = db.session.scalar(select(ImportRun))
    page = admin_portal.get(response.headers["Location"])
    assert (run.rows_created, run.rows_failed) == (1, 2)
    assert "Rows not imported" in page.text
    assert re.search(r'<td class="num">3</td><td>nope</td>', page.text)
    assert "<code>country</code>: “XX” is not an ISO 3166 country code" in page.text
    assert f'href="/customers/import/{run.id}/errors.csv"' in page.text

    download = admin_portal.get(f"/customers/import/{run.id}/errors.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(download.text)))
    assert rows[0] == ["row", "email", "column", "message"]
    assert ["3", "nope", "country"] in [r[:3] for r in rows]
    assert ["4", "'=cmd()", "email"] in [r[:3] for r in rows]  # a formula is neutralised
