"""Portal pages of the audit log: browse with filters, open an entry, export as CSV."""

from __future__ import annotations

import marshmallow as ma
from flask import Response, render_template, request, stream_with_context
from flask_login import current_user

from app.blueprints.audit import AUDIT_READ, bp, csv_export, queries, services
from app.blueprints.audit.schemas import AuditFilterSchema
from app.core.errors import InvalidInput, NotFound
from app.core.pagination import paginate
from app.core.permissions import require_permission
from app.core.timeutil import utcnow
from app.core.transaction import transaction

PER_PAGE = 50


def filters_from_url() -> tuple[queries.AuditFilter, dict[str, list[str]]]:
    """The filters in the query string, or no filters and the field errors."""
    try:
        return AuditFilterSchema().load(request.args.to_dict()), {}
    except ma.ValidationError as error:
        return queries.AuditFilter(), error.normalized_messages()


@bp.route("/admin/audit", endpoint="log")
@require_permission(AUDIT_READ)
def audit_log():
    filters, errors = filters_from_url()
    page = None if errors else paginate(queries.filtered_entries(filters), per_page=PER_PAGE)
    actions = queries.known_actions()
    return render_template(
        "audit/log.html",
        page=page,
        filters=filters,
        args=request.args,
        errors=errors,
        action_groups=queries.action_groups(actions),
        object_types=queries.known_object_types(),
    ), (422 if errors else 200)


@bp.route("/admin/audit/<int:entry_id>", endpoint="entry")
@require_permission(AUDIT_READ)
def audit_entry(entry_id):
    entry = queries.get_entry(entry_id)
    if entry is None:
        raise NotFound("No such audit entry.")
    return render_template("audit/entry.html", entry=entry)


@bp.route("/admin/audit/export.csv", endpoint="export")
@require_permission(AUDIT_READ)
def export_csv():
    filters, errors = filters_from_url()
    if errors:
        raise InvalidInput("Some filters are not valid.", errors=errors)
    with transaction():
        services.record_export(filters, actor=current_user)
    filename = f"audit-{utcnow().date().isoformat()}.csv"

    def lines():
        # The query runs once the response starts, inside the request kept open for it.
        yield from csv_export.csv_lines(queries.export_rows(filters))

    return Response(
        stream_with_context(lines()),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={filename}", "Cache-Control": "no-store"},
    )
