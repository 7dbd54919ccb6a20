"""Portal pages of goods in: receiving stock (lines typed in, or a CSV file), the list of
receipts with its filters, and a receipt's page.

The receipt form is one page whatever is done on it: "Add line" and "Remove line" post
the form back and get it again with a row more or less and everything typed kept (HTMX
swaps just the lines; without JavaScript the whole page comes back). A receipt is saved
whole or not at all: any bad line shows its error next to its field.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from jinja2_fragments.flask import render_block

from app.blueprints.inventory import INVENTORY_READ, INVENTORY_WRITE, bp, receipts, services, view_queries
from app.blueprints.inventory.forms import MAX_RECEIPT_ROWS, ReceiptFilterForm, ReceiptForm
from app.blueprints.inventory.views import ID
from app.core.errors import InvalidInput
from app.core.formatting import viewer_timezone
from app.core.htmx import wants_fragment
from app.core.navigation import register_nav
from app.core.pagination import requested_page
from app.core.permissions import current_identity_can, require_permission
from app.core.transaction import transaction

register_nav("Catalog", "Receive stock", "inventory.new_receipt", INVENTORY_WRITE, order=75)

FORM_TEMPLATE = "inventory/receipt_new.html"
LIST_TEMPLATE = "inventory/receipts.html"
PAGE_TEMPLATE = "inventory/receipt.html"
HEADER_FIELDS = ("location", "supplier", "supplier_reference", "note")
LINE_FIELDS = {"variant_id": "sku", "sku": "sku", "quantity": "quantity", "unit_cost": "unit_cost"}


# --- Receiving -------------------------------------------------------------------------------


def render_form(form: ReceiptForm, *, status: int = 200, focus_line: int | None = None):
    context = {
        "form": form.label_lines().count_line_errors(),
        "focus_line": focus_line,
        "max_rows": MAX_RECEIPT_ROWS,
        "csv_columns": receipts.CSV_HEADER.columns,
        "has_locations": bool(form.location.choices),
    }
    if wants_fragment("receipt-lines"):
        return render_block(FORM_TEMPLATE, "lines", out_of_band=True, **context), status
    return render_template(FORM_TEMPLATE, **context), status


def check_lines(form: ReceiptForm) -> list[receipts.ReceiptLineInput] | None:
    """The typed rows as receipt lines, or None with errors next to the rows' fields:
    a SKU and a quantity on every row used, SKUs that exist (one query for all)."""
    rows = form.filled_lines()
    if not rows:
        first = form.lines.entries[0].form
        first.sku.errors = [*first.sku.errors, "Give at least one SKU and quantity."]
        return None
    variants = services.variants_by_sku([(row.sku.data or "") for _, row in rows])
    lines, failed = [], False
    for _, row in rows:
        sku = (row.sku.data or "").strip()
        if not sku:
            row.sku.errors = [*row.sku.errors, "Give the SKU."]
        elif sku not in variants:
            row.sku.errors = [*row.sku.errors, f"No variant has the SKU {sku!r}."]
        if row.quantity.data is None and not row.quantity.errors:
            row.quantity.errors = [*row.quantity.errors, "Give the quantity received."]
        if row.sku.errors or row.quantity.errors or row.unit_cost.errors:
            failed = True
            continue
        lines.append(receipts.ReceiptLineInput(variants[sku].id, row.quantity.data, row.unit_cost.data))
    return None if failed else lines


def place_receipt_errors(form: ReceiptForm, error: InvalidInput, rows: list | None) -> None:
    """The service names fields "location", "supplier" and "lines.<i>.quantity" (i counts
    the lines it was given): put each message next to the field on the page."""
    placed = False
    for name, messages in (error.errors or {}).items():
        parts = name.split(".")
        field = None
        if name in HEADER_FIELDS:
            field = form[name]
        elif rows is not None and len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(rows):
            field = rows[int(parts[1])][1][LINE_FIELDS.get(parts[2], "sku")]
        elif rows is None and parts[0] == "lines":
            field = form.file
        if field is not None:
            field.errors = [*field.errors, *messages]
            placed = True
    if not placed:
        form.form_errors.append(error.detail)


def file_errors(error: InvalidInput) -> list[str]:
    """A CSV parser's errors as sentences: "Line 3, sku: No variant has the SKU 'X'."."""
    messages = []
    for name, texts in (error.errors or {}).items():
        parts = name.split(".")
        if parts[0] == "rows" and len(parts) >= 2:
            where = f"Line {parts[1]}" + (f", {parts[2]}" if len(parts) > 2 else "")
            messages.extend(f"{where}: {text}" for text in texts)
        else:
            messages.extend(texts)
    return messages or [error.detail]


def header_valid(form: ReceiptForm) -> bool:
    return all([form[name].validate(form) for name in HEADER_FIELDS])


def receive(form: ReceiptForm, lines, rows):
    """Save the receipt, or put the service's complaints on the form (None)."""
    location = services.get_location(form.location.data)
    try:
        with transaction():
            receipt = receipts.receive_stock(
                location=location, lines=lines, actor=current_user, **form.header_data()
            )
            receipt_id = receipt.id
    except InvalidInput as error:
        place_receipt_errors(form, error, rows)
        return None
    units = sum(line.quantity for line in lines)
    flash(
        f"Received {units} {'unit' if units == 1 else 'units'} in {len(lines)} "
        f"{'line' if len(lines) == 1 else 'lines'} at {location.code}.",
        "success",
    )
    return redirect(url_for("inventory.receipt", receipt_id=receipt_id))


def receive_file(form: ReceiptForm):
    upload = form.file.data
    if not upload or not getattr(upload, "filename", ""):
        form.file.errors = [*form.file.errors, "Choose the CSV file to receive."]
        return None
    try:
        lines = receipts.parse_receipt_csv(upload.read())
    except InvalidInput as error:
        form.file.errors = [*form.file.errors, *file_errors(error)]
        return None
    return receive(form, lines, None)


@bp.route("/inventory/receipts/new", methods=["GET", "POST"], endpoint="new_receipt")
@require_permission(INVENTORY_WRITE)
def new_receipt():
    active = services.list_locations(include_inactive=False)
    form = ReceiptForm().set_locations(active)
    if request.method == "GET":
        return render_form(form)
    action = request.form.get("action", "receive")
    if action == "add_line":
        if len(form.lines.entries) < MAX_RECEIPT_ROWS:
            form.lines.append_entry()
        return render_form(form, focus_line=len(form.lines.entries) - 1)
    if action.startswith("remove_line:"):
        index = action.partition(":")[2]
        if index.isdigit() and int(index) < len(form.lines.entries) and len(form.lines.entries) > 1:
            form.lines.entries.pop(int(index))
        return render_form(form)
    if action == "file":
        response = receive_file(form) if header_valid(form) else None
    else:
        valid = form.validate()
        lines = check_lines(form)
        response = receive(form, lines, form.filled_lines()) if valid and lines is not None else None
    return response or render_form(form, status=422)


# --- The list and a receipt's page ---------------------------------------------------------


@bp.route("/inventory/receipts", endpoint="receipts")
@require_permission(INVENTORY_READ)
def receipt_list():
    form = ReceiptFilterForm(formdata=request.args).set_locations(services.list_locations())
    valid = form.validate()
    page = None
    if valid:
        page = view_queries.RowPagination(
            view_queries.receipt_list_query(form.to_filter(viewer_timezone())),
            view_queries.ReceiptRow,
            page=requested_page(),
            per_page=25,
        )
    context = {
        "form": form,
        "page": page,
        "filtered": valid and form.to_filter(viewer_timezone()).active,
        "can_write": current_identity_can(INVENTORY_WRITE),
    }
    status = 200 if valid else 422
    if wants_fragment("receipt-results"):
        return render_block(LIST_TEMPLATE, "results", **context), status
    return render_template(LIST_TEMPLATE, **context), status


@bp.route(f"/inventory/receipts/<{ID}:receipt_id>", endpoint="receipt")
@require_permission(INVENTORY_READ)
def receipt_page(receipt_id):
    found = view_queries.receipt_for_page(receipt_id)
    if found is None:
        abort(404)
    receipt, lines, received_by = found
    costs = [line.line_cost for line in lines if line.line_cost is not None]
    return render_template(
        PAGE_TEMPLATE,
        receipt=receipt,
        lines=lines,
        received_by=received_by,
        units=sum(line.quantity for line in lines),
        total_cost=sum(costs) if costs else None,
        costs_complete=len(costs) == len(lines),
        can_write=current_identity_can(INVENTORY_WRITE),
    )
