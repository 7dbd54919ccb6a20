"""Portal pages of stock: the stock list (search, filters, sort, CSV export), and what the
inventory pages share. A variant's stock page and its actions are in variant_views.py,
receipts in receipt_views.py, locations in location_views.py, alerts and backorders in
alert_views.py.

Fragments and pages come from one template: an HTMX request that targets a block's element
gets that block, any other request the whole page, so every URL works as a page.
"""

from __future__ import annotations

from flask import Response, render_template, request, stream_with_context, url_for
from jinja2_fragments.flask import render_block

from app.blueprints.inventory import INVENTORY_READ, INVENTORY_WRITE, bp, queries, services, view_queries
from app.blueprints.inventory.forms import StockFilterForm, kind_label
from app.core import csv_stream
from app.core.errors import InvalidInput
from app.core.htmx import wants_fragment
from app.core.navigation import register_nav
from app.core.pagination import requested_page
from app.core.permissions import current_identity_can, require_permission
from app.core.timeutil import utcnow
from app.extensions import db

register_nav("Catalog", "Stock", "inventory.stock", INVENTORY_READ, order=70)

ID = "int(max=2147483647)"  # larger ids cannot exist: a 404, not a database error
LIST_TEMPLATE = "inventory/stock.html"


# --- Shared by the inventory views -------------------------------------------------------


@bp.after_request
def vary_on_htmx(response):
    """The same URL answers with a fragment or a page: caches must keep them apart."""
    response.vary.add("HX-Request")
    return response


def url_with(endpoint: str, **changes) -> str:
    """The current page's URL with its search and filters, some changed (back to page 1)."""
    args = {key: value for key, value in request.args.items() if key != "page"}
    args.update(changes)
    return url_for(endpoint, **(request.view_args or {}), **{k: v for k, v in args.items() if v})


def receipt_id_of(reference: str) -> int | None:
    """The receipt a ledger reference ("receipt:7") names, if it names one."""
    kind, _, value = (reference or "").partition(":")
    return int(value) if kind == "receipt" and value.isdigit() and len(value) < 10 else None


# Globals, not context: macros imported by the templates see globals only.
bp.add_app_template_global(kind_label, "inventory_movement_kind")
bp.add_app_template_global(receipt_id_of, "inventory_receipt_id")


# --- The stock list and its export -------------------------------------------------------


def stock_filter_form() -> StockFilterForm:
    return StockFilterForm(formdata=request.args).set_locations(services.list_locations())


@bp.route("/inventory/stock", endpoint="stock")
@require_permission(INVENTORY_READ)
def stock_list():
    form = stock_filter_form()
    valid = form.validate()
    page = None
    if valid:
        query = view_queries.stock_list_query(form.to_filter(), out_of_stock=bool(form.out.data))
        page = view_queries.RowPagination(
            query,
            queries.StockRow,
            page=requested_page(),
            per_page=form.rows_per_page,
        )
    export_args = {k: v for k, v in request.args.items() if k not in ("page", "per_page") and v}
    context = {
        "form": form,
        "page": page,
        "sort": form.sort_key,
        "list_url": lambda **changes: url_with("inventory.stock", **changes),
        "export_url": url_for("inventory.stock_export", **export_args),
        "can_write": current_identity_can(INVENTORY_WRITE),
    }
    status = 200 if valid else 422
    if wants_fragment("stock-results"):
        return render_block(LIST_TEMPLATE, "results", **context), status
    return render_template(LIST_TEMPLATE, **context), status


EXPORT_HEADER = (
    "sku",
    "product",
    "variant",
    "location",
    "on_hand",
    "reserved",
    "available",
    "low_stock_threshold",
    "updated_at",
)


@bp.route("/inventory/stock/export.csv", endpoint="stock_export")
@require_permission(INVENTORY_READ)
def stock_export():
    form = stock_filter_form()
    if not form.validate():
        raise InvalidInput("Some filters are not valid.", errors=form.errors)
    query = view_queries.stock_list_query(form.to_filter(), out_of_stock=bool(form.out.data))

    def lines():
        # The query runs once the response starts, inside the request kept open for it.
        rows = (queries.StockRow(*row) for row in db.session.execute(query))
        yield from csv_stream.csv_lines(
            EXPORT_HEADER,
            (
                (
                    row.sku,
                    row.product_name,
                    row.variant_title,
                    row.location_code,
                    row.on_hand,
                    row.reserved,
                    row.available,
                    row.threshold,
                    row.updated_at,
                )
                for row in rows
            ),
        )

    return Response(
        stream_with_context(lines()),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f"attachment; filename=stock-{utcnow().date().isoformat()}.csv",
            "Cache-Control": "no-store",
        },
    )
