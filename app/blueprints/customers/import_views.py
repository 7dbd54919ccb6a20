"""Portal pages of customer imports: the upload form with recent runs, a run's progress
(polled by HTMX until it ends) and its row error report as CSV."""

from __future__ import annotations

from flask import redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from jinja2_fragments.flask import render_block
from wtforms import StringField
from wtforms.validators import Length, Optional

from app.blueprints.customers import CUSTOMERS_IMPORT, bp, imports
from app.core.errors import InvalidInput
from app.core.htmx import wants_fragment
from app.core.import_runs import error_report_response, flash_queued, upload_limit_mb
from app.core.navigation import register_nav
from app.core.permissions import require_permission
from app.core.transaction import transaction

register_nav("Customers", "Import customers", "customers.imports", CUSTOMERS_IMPORT, order=30)

INDEX_TEMPLATE = "customers/import/index.html"
RUN_TEMPLATE = "customers/import/run.html"
PROGRESS_ID = "import-progress"


class ImportForm(FlaskForm):
    file = FileField(
        "CSV file",
        validators=[
            FileRequired("Choose the CSV file to import."),
            FileAllowed(["csv", "txt"], "Choose a .csv file."),
        ],
    )
    consent_wording = StringField(
        "Consent wording version",
        validators=[Optional(), Length(max=32)],
        filters=[lambda v: v and v.strip()],
    )


@bp.route("/customers/import", methods=["GET", "POST"], endpoint="imports")
@require_permission(CUSTOMERS_IMPORT)
def import_page():
    form = ImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            with transaction():
                run = imports.queue_upload(
                    upload.stream,
                    filename=upload.filename or "",
                    consent_wording=form.consent_wording.data,
                    actor=current_user,
                )
        except InvalidInput as error:
            for name, messages in (error.errors or {}).items():
                if name in form:
                    form[name].errors = [*form[name].errors, *messages]
        else:
            flash_queued(run)
            return redirect(url_for("customers.import_run", run_id=run.id))
    context = {"form": form, "runs": imports.recent_runs(), "limit_mb": upload_limit_mb(), "imports": imports}
    return render_template(INDEX_TEMPLATE, **context), (422 if form.errors else 200)


@bp.route("/customers/import/<int:run_id>", endpoint="import_run")
@require_permission(CUSTOMERS_IMPORT)
def import_run(run_id):
    run = imports.get_run(run_id)
    if wants_fragment(PROGRESS_ID):
        return render_block(RUN_TEMPLATE, "progress", run=run, imports=imports)
    return render_template(RUN_TEMPLATE, run=run, imports=imports)


@bp.route("/customers/import/<int:run_id>/errors.csv", endpoint="import_errors")
@require_permission(CUSTOMERS_IMPORT)
def import_errors(run_id):
    run = imports.get_run(run_id)
    return error_report_response(run, imports.KIND, filename=f"import-{run.id}-errors.csv")
