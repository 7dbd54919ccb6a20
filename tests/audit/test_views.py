"""The audit log in the portal: list with filters in the URL, entry detail, navigation."""

import re
from datetime import UTC, datetime

from app.core import audit
from tests.audit.helpers import add_entry
from tests.factories.auth import PASSWORD, UserFactory


def test_audit_log_page_lists_entries_newest_first_with_title_heading_and_breadcrumbs(admin_portal, db):
    add_entry("test.older", summary="The older one", at=datetime(2026, 1, 1, tzinfo=UTC))
    add_entry("test.newer", summary="The newer one", at=datetime(2026, 1, 2, tzinfo=UTC))
    response = admin_portal.get("/admin/audit")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.text
    assert "<title>Audit log ·" in html and "<h1>Audit log</h1>" in html
    assert 'class="breadcrumbs"' in html
    assert html.index("The newer one") < html.index("The older one")


def test_audit_log_rows_show_actor_action_object_summary_and_ip(admin_portal, admin, db):
    add_entry("test.shown", actor=admin, target_type="job", target_id="42", summary="Retried it")
    html = admin_portal.get("/admin/audit?action=test.shown").text
    assert admin.email in html and "test.shown" in html and "job #42" in html and "Retried it" in html
    # Signing in through the portal recorded the client's IP, shown in its row.
    assert "127.0.0.1" in admin_portal.get("/admin/audit?action=auth.login").text


def test_filters_stay_in_the_url_and_in_the_form(admin_portal, db):
    add_entry("test.kept", summary="kept")
    add_entry("test.other", summary="other")
    html = admin_portal.get("/admin/audit?action=test.kept&actor=sys&date_from=2020-01-01").text
    assert "kept" in html and "<td>other</td>" not in html
    assert 'value="sys"' in html and 'value="2020-01-01"' in html
    assert '<option value="test.kept" selected>' in html


def test_action_select_offers_each_action_and_each_family(admin_portal, db):
    add_entry("fam.one")
    html = admin_portal.get("/admin/audit").text
    assert '<option value="fam.one"' in html and '<option value="fam."' in html


def test_every_filter_input_has_a_label(admin_portal):
    html = admin_portal.get("/admin/audit").text
    for name in ("actor", "action", "object_type", "object_id", "date_from", "date_to"):
        assert f'<label for="{name}">' in html and f'id="{name}"' in html


def test_filter_form_swaps_only_the_results_region_with_htmx(admin_portal, db):
    add_entry("test.htmx", summary="by htmx")
    html = admin_portal.get("/admin/audit").text
    assert 'hx-select="#audit-results"' in html and 'hx-push-url="true"' in html
    response = admin_portal.get("/admin/audit?action=test.htmx", headers={"HX-Request": "true"})
    assert response.status_code == 200 and 'id="audit-results"' in response.text
    assert "by htmx" in response.text and "HX-Request" in response.headers.get("Vary", "")


def test_empty_filter_result_says_what_to_do(admin_portal):
    html = admin_portal.get("/admin/audit?action=nothing.here").text
    assert "No entries match these filters" in html and "clear the filters" in html


def test_malformed_date_in_the_url_is_shown_next_to_the_field(admin_portal):
    response = admin_portal.get("/admin/audit?date_from=31-12-2026")
    assert response.status_code == 422
    assert 'id="date_from-error"' in response.text and "Not a valid date." in response.text
    assert 'value="31-12-2026"' in response.text


def test_audit_log_is_paginated_fifty_per_page(admin_portal, db):
    for number in range(51):
        add_entry("test.many", summary=f"entry-{number:02d}", at=datetime(2026, 1, 1, 0, number, tzinfo=UTC))
    first = admin_portal.get("/admin/audit?action=test.many").text
    assert "entry-50" in first and "entry-01" in first and "entry-00" not in first
    next_link = re.search(r'<a href="([^"]+)" rel="next"', first).group(1)
    assert "action=test.many" in next_link and "page=2" in next_link
    second = admin_portal.get("/admin/audit?action=test.many&page=2").text
    assert "entry-00" in second and "entry-01" not in second


def test_a_row_opens_the_entry_with_its_changes(admin_portal, admin, db):
    user = UserFactory(name="Before Name")
    before = audit.snapshot(user, ["name", "password_hash"])
    user.name, user.password_hash = "After Name", "changed"
    entry = audit.record_change(
        "user.updated", actor=admin, target=user, before=before, after=audit.snapshot(user, before)
    )
    entry.ip_address = "198.51.100.4"
    db.session.flush()
    listing = admin_portal.get(f"/admin/audit?object_type=User&object_id={user.id}").text
    assert f'href="/admin/audit/{entry.id}"' in listing
    response = admin_portal.get(f"/admin/audit/{entry.id}")
    assert response.status_code == 200
    html = response.text
    assert f"<h1>Audit entry #{entry.id}</h1>" in html and "198.51.100.4" in html and admin.email in html
    assert "<th>Field</th><th>Before</th><th>After</th>" in html
    assert "Before Name" in html and "After Name" in html and "[redacted]" in html
    assert "<td>changed</td>" not in html


def test_missing_entry_is_a_404_page(admin_portal):
    response = admin_portal.get("/admin/audit/999999")
    assert response.status_code == 404 and response.mimetype == "text/html"


def test_sidebar_shows_the_audit_log_to_admins_only(portal, db):
    admin = UserFactory(roles=["admin"])
    portal.login(admin.email, PASSWORD)
    assert 'href="/admin/audit"' in portal.get("/").text

    other = type(portal)(portal.client.application.test_client())
    sales = UserFactory(roles=["sales"])
    other.login(sales.email, PASSWORD)
    assert 'href="/admin/audit"' not in other.get("/").text


def test_sales_user_gets_403_on_the_audit_pages(portal, db):
    sales = UserFactory(roles=["sales"])
    portal.login(sales.email, PASSWORD)
    entry = add_entry("test.secret")
    for url in ("/admin/audit", f"/admin/audit/{entry.id}", "/admin/audit/export.csv"):
        response = portal.get(url)
        assert response.status_code == 403, url
        assert response.mimetype == "text/html"


def test_audit_pages_require_sign_in(client):
    for url in ("/admin/audit", "/admin/audit/export.csv"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
