"""Portal pages of product CSV import and export: the upload form with recent runs, a run's
progress (polled by HTMX until it ends), its row error report as CSV, and the export of the
product list's current filter. All need catalog.import ("Import and export products from
CSV"): an export takes the whole catalog, cost prices included, out of the system."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from jinja2_fragments.flask import render_block

from app.blueprints.catalog import CATALOG_IMPORT, bp, brands, categories, exports, imports
from app.blueprints.catalog.forms import ProductFilterForm
from app.blueprints.catalog.import_files import OPTION_COLUMNS, PRODUCT_COLUMNS, VARIANT_COLUMNS
from app.core.errors import InvalidInput
from app.core.htmx import wants_fragment
from app.core.import_runs import error_report_response, flash_queued, upload_limit_mb
from app.core.navigation import register_nav
from app.core.permissions import require_permission
from app.core.transaction import transaction

register_nav("Catalog", "Import products", "catalog.imports", CATALOG_IMPORT, order=60)

INDEX_TEMPLATE = "catalog/import.html"
RUN_TEMPLATE = "catalog/import_run.html"
PROGRESS_ID = "import-progress"
COLUMN_GROUPS = (
    ("Product", PRODUCT_COLUMNS),
    ("Options", OPTION_COLUMNS),
    ("Variant", VARIANT_COLUMNS),
)


class ImportForm(FlaskForm):
    file = FileField(
        "CSV file",
        validators=[
            FileRequired("Choose the CSV file to import."),
            FileAllowed(["csv", "txt"], "Choose a .csv file."),
        ],
    )


@bp.route("/catalog/import", methods=["GET", "POST"], endpoint="imports")
@require_permission(CATALOG_IMPORT)
def import_page():
    form = ImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        with transaction():
            run = imports.queue_upload(upload.stream, filename=upload.filename or "", actor=current_user)
        flash_queued(run)
        return redirect(url_for("catalog.import_run", run_id=run.id))
    context = {
        "form": form,
        "runs": imports.recent_runs(),
        "limit_mb": upload_limit_mb(),
        "column_groups": COLUMN_GROUPS,
    }
    return render_template(INDEX_TEMPLATE, **context), (422 if form.errors else 200)


@bp.route("/catalog/import/<int(max=2147483647):run_id>", endpoint="import_run")
@require_permission(CATALOG_IMPORT)
def import_run(run_id):
    run = imports.get_run(run_id)
    if wants_fragment(PROGRESS_ID):
        return render_block(RUN_TEMPLATE, "progress", run=run, imports=imports)
    return render_template(RUN_TEMPLATE, run=run, imports=imports)


@bp.route("/catalog/import/<int(max=2147483647):run_id>/errors.csv", endpoint="import_errors")
@require_permission(CATALOG_IMPORT)
def import_errors(run_id):
    run = imports.get_run(run_id)
    return error_report_response(run, imports.KIND, filename=f"product-import-{run.id}-errors.csv")


@bp.route("/catalog/products/export.csv", endpoint="export")
@require_permission(CATALOG_IMPORT)
def export_csv():
    """The product list's filters (its query string) choose what is exported."""
    form = ProductFilterForm(formdata=request.args)
    form.set_choices(tree=categories.category_tree(), brands=brands.list_brands())
    if not form.validate():
        raise InvalidInput("Some filters are not valid.", errors=form.errors)
    return exports.csv_response(form.to_filter(form.sort_key), via="portal")
