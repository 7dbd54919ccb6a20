"""CSV export of the current filter: streamed, escaped against formula injection, audited."""

import csv
import io
import json
from datetime import UTC, datetime

from flask_login import login_user
from sqlalchemy import select

from app.blueprints.audit.csv_export import COLUMNS, neutralize
from app.core import audit
from app.core.models import AuditEntry
from tests.audit.helpers import add_entry
from tests.factories.auth import UserFactory

# The test client runs each request in its own context; a streamed body must then be read
# inside it (buffered=True), since stream_with_context re-enters that request's context.


def export(portal, query=""):
    return portal.get(f"/admin/audit/export.csv{query}", buffered=True)


def rows_of(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.text)))


def test_csv_export_is_an_attachment_with_the_columns_of_the_log(admin_portal, db):
    response = export(admin_portal)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=audit-") and disposition.endswith(".csv")
    assert response.text.splitlines()[0] == ",".join(COLUMNS)


def test_csv_export_contains_the_filtered_entries_with_their_changes(admin_portal, admin, db):
    user = UserFactory(name="Old")
    before = audit.snapshot(user, ["name"])
    user.name = "New"
    entry = audit.record_change(
        "user.updated",
        actor=admin,
        target=user,
        summary="Renamed",
        before=before,
        after=audit.snapshot(user, before),
    )
    entry.occurred_at = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)
    entry.ip_address, entry.request_id = "192.0.2.1", "req-abcdefgh"
    add_entry("test.not_exported", summary="filtered out")
    db.session.flush()
    rows = rows_of(export(admin_portal, "?action=user.updated"))
    assert rows == [
        {
            "time": "2026-05-04T03:02:01+00:00",
            "actor": admin.email,
            "action": "user.updated",
            "object_type": "User",
            "object_id": str(user.id),
            "summary": "Renamed",
            "ip": "192.0.2.1",
            "request_id": "req-abcdefgh",
            "changes": json.dumps({"name": ["Old", "New"]}),
            "data": "",
        }
    ]


def test_csv_cells_that_a_spreadsheet_would_run_get_a_leading_apostrophe(admin_portal, db):
    dangerous = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]
    for text in dangerous:
        add_entry("test.injection", summary=text)
    add_entry("test.injection", summary="plain text")
    summaries = {row["summary"] for row in rows_of(export(admin_portal, "?action=test.injection"))}
    assert summaries == {"'" + text for text in dangerous} | {"plain text"}


def test_neutralize_leaves_safe_cells_alone():
    assert neutralize("a=b") == "a=b" and neutralize(None) == "" and neutralize("'=x") == "'=x"
    assert neutralize("=x") == "'=x"


def test_csv_export_is_streamed_row_by_row(app, admin, db):
    add_entry("test.streamed", summary="one")
    with app.test_request_context("/admin/audit/export.csv?action=test.streamed"):
        login_user(admin)
        response = app.view_functions["audit.export"]()
        assert response.is_streamed
        assert "Content-Length" not in response.headers
        chunks = list(response.response)
    assert len(chunks) == 2 and chunks[0].startswith("time,actor") and ",one," in chunks[1]


def test_csv_export_is_itself_audited_with_its_filter(admin_portal, admin, db):
    export(admin_portal, "?actor=ann&date_from=2026-01-01&page=3")
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "audit.exported"))
    assert entry.actor_id == admin.id and entry.ip_address
    assert entry.data["filter"] == {"actor": "ann", "date_from": "2026-01-01"}


def test_csv_export_with_a_malformed_date_is_422(admin_portal):
    response = export(admin_portal, "?date_to=yesterday")
    assert response.status_code == 422 and response.mimetype == "text/html"
