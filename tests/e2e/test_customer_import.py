"""The import in a real browser: an admin uploads a file and lands on its result; the page
of a running import follows its progress by itself (HTMX polling) and stops asking once
the run is done."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from app.blueprints.customers.import_models import ImportRun
from app.core.timeutil import utcnow
from tests.factories.auth import PASSWORD, UserFactory

pytestmark = pytest.mark.e2e


ADMIN_EMAIL = "ada.admin@example.com"
ADMIN_NAME = "Ada Admin"


@pytest.fixture
def admin_user(app, committed_db, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "CUSTOMER_IMPORT_DIR", str(tmp_path / "imports"))
    user = UserFactory(email=ADMIN_EMAIL, name=ADMIN_NAME, roles=["admin"])
    committed_db.session.commit()  # the server thread must see it
    return user


def sign_in(page) -> None:
    page.goto("/login")
    page.get_by_role("textbox", name="Email", exact=True).fill(ADMIN_EMAIL)
    page.get_by_role("textbox", name="Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label(f"Account menu for {ADMIN_NAME}")).to_be_visible()


def test_an_admin_uploads_a_file_and_sees_counts_and_row_errors(
    page, problems, admin_user, tmp_path, screenshot
):
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text("email;first_name;country\nann@example.org;Ann;NL\nnope;Bob;XX\n", encoding="utf-8")
    sign_in(page)
    page.get_by_role("link", name="Import customers", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import customers")
    screenshot("customers/import-form.png")
    page.get_by_label("CSV file").set_input_files(str(csv_file))
    page.get_by_role("button", name="Import customers").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Import of leads.csv")
    progress = page.locator("#import-progress")
    expect(progress.get_by_role("status")).to_contain_text("Finished")
    expect(progress.locator(".stat").filter(has_text="Created")).to_contain_text("1")
    expect(progress.locator(".stat").filter(has_text="Failed")).to_contain_text("1")
    expect(progress.get_by_role("table")).to_contain_text("“XX” is not an ISO 3166 country code")
    screenshot("customers/import-done.png")
    assert problems.all() == []


def test_the_run_page_follows_the_progress_and_stops_polling_when_done(
    page, problems, admin_user, committed_db, screenshot
):
    run = ImportRun(
        filename="big.csv",
        stored_path="/nowhere/big.csv",
        status="running",
        rows_total=2000,
        rows_done=500,
        started_at=utcnow(),
        row_errors=[],
    )
    committed_db.session.add(run)
    committed_db.session.commit()
    polls = []
    page.on(
        "request",
        lambda request: polls.append(time.monotonic()) if request.headers.get("hx-request") else None,
    )
    sign_in(page)
    page.goto(f"/customers/import/{run.id}")
    status = page.locator("#import-progress").get_by_role("status")
    expect(status).to_contain_text("500 of 2,000 rows (25%)")
    screenshot("customers/import-running.png")

    run.rows_done, run.rows_created = 1500, 1500
    committed_db.session.commit()
    expect(status).to_contain_text("1,500 of 2,000 rows (75%)")

    run.status, run.rows_done, run.rows_created, run.finished_at = "done", 2000, 2000, utcnow()
    committed_db.session.commit()
    expect(status).to_contain_text("Finished")
    expect(page.locator("#import-bar")).to_have_attribute("value", "100")
    asked = len(polls)
    page.wait_for_timeout(2500)
    assert len(polls) == asked, "the page kept polling a finished import"
    assert problems.all() == []
