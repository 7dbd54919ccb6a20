"""Portal pages of orders: the list (search, filters in the URL, sorting, pagination, CSV
export of the current filter) and the saved views above it.

Fragments and pages come from one template: an HTMX request that targets a block's
element gets that block, any other request the whole page, so every URL works as a page.
The order page and its actions are in order_page_views.py, phone orders in
phone_order_views.py.
"""

from __future__ import annotations

from flask import (
    Response,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from jinja2_fragments.flask import render_blocks
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.blueprints.orders import (
    ORDERS_MANAGE,
    ORDERS_READ,
    bp,
    order_dashboard,  # noqa: F401  (registers the dashboard panel)
    order_page_views,  # noqa: F401  (the order page's routes)
    order_queries,
)
from app.blueprints.orders.order_forms import (
    SORT_LABELS,
    OrderFilterForm,
    SavedViewForm,
    clean_query_string,
    filter_query,
    order_labels,
)
from app.blueprints.orders.order_models import Order, SavedOrderView
from app.core import audit, csv_stream
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.htmx import wants_fragment
from app.core.navigation import register_nav
from app.core.pagination import paginate
from app.core.permissions import current_identity_can, require_permission
from app.core.timeutil import utcnow
from app.core.transaction import transaction
from app.extensions import db

register_nav("Orders", "Orders", "orders.list", ORDERS_READ, order=10)

LIST_TEMPLATE = "orders/order_list.html"
MAX_SAVED_VIEWS = 50


@bp.after_request
def vary_on_htmx(response):
    """The same URL answers with a fragment or a page: caches must keep them apart."""
    response.vary.add("HX-Request")
    return response


# --- Saved views: a staff member's own shortcuts ------------------------------------------
# Saving and deleting a view is not audited: it is a personal preference (a bookmark with
# a name), not business data, and changes nothing anyone else sees.


def saved_views_of(user) -> list[SavedOrderView]:
    return list(
        db.session.scalars(
            select(SavedOrderView).where(SavedOrderView.user_id == user.id).order_by(SavedOrderView.name)
        )
    )


def save_view(user, *, name: str, query_string: str) -> SavedOrderView:
    """Keep the list's filters under a name; the same name again replaces its filters."""
    name = name.strip()
    if not name:
        raise InvalidInput("Give the view a name.", errors={"name": ["Give the view a name."]})
    existing = db.session.scalar(
        select(SavedOrderView).where(SavedOrderView.user_id == user.id, SavedOrderView.name == name)
    )
    if existing is not None:
        existing.query_string = query_string
        return existing
    if len(saved_views_of(user)) >= MAX_SAVED_VIEWS:
        raise Conflict(f"You can keep at most {MAX_SAVED_VIEWS} views; delete one first.", code="too_many")
    view = SavedOrderView(user_id=user.id, name=name, query_string=query_string)
    db.session.add(view)
    db.session.flush()
    return view


def delete_view(user, view_id: int) -> str:
    """Delete one of the user's own views (another user's is as unknown as a missing one)."""
    view = db.session.get(SavedOrderView, view_id)
    if view is None or view.user_id != user.id:
        raise NotFound("No such saved view.", code="saved_view_not_found")
    db.session.delete(view)
    return view.name


# --- The list ----------------------------------------------------------------------------


def list_url(**changes) -> str:
    """The list with the current filters, some of them changed (page 1)."""
    args = request.args.to_dict(flat=False)
    args.pop("page", None)
    for key, value in changes.items():
        args[key] = [value] if value else []
    return url_for("orders.list", **{key: values for key, values in args.items() if values})


@bp.route("/orders", endpoint="list")
@require_permission(ORDERS_READ)
def order_list():
    form = OrderFilterForm(formdata=request.args)
    valid = form.validate()
    page = None
    if valid:
        page = paginate(order_queries.filtered_orders(form.to_filter()), per_page=form.rows_per_page)
    query_string = filter_query(request.args.items(multi=True))
    context = {
        **order_labels(),
        "form": form,
        "page": page,
        "sort": form.sort_key,
        "sort_labels": SORT_LABELS,
        "list_url": list_url,
        "query_string": query_string,
        "export_url": url_for("orders.export") + (f"?{query_string}" if query_string else ""),
        "saved_views": saved_views_of(current_user),
        "save_form": SavedViewForm(formdata=None, query_string=query_string),
        "can_manage": current_identity_can(ORDERS_MANAGE),
    }
    status = 200 if valid else 422
    if wants_fragment("order-results"):
        # The saved views go along: "Save this view" must save the filters now shown.
        return render_blocks(LIST_TEMPLATE, ["results", "saved_views"], out_of_band=True, **context), status
    return render_template(LIST_TEMPLATE, **context), status


EXPORT_COLUMNS = (
    "number",
    "placed_at",
    "status",
    "payment_status",
    "fulfilment_status",
    "channel",
    "customer_id",
    "email",
    "currency",
    "subtotal",
    "discount_total",
    "shipping_total",
    "tax_total",
    "total",
    "amount_paid",
    "amount_refunded",
    "payment_method",
    "shipping_method",
    "shipping_country",
)


def export_rows(filters):
    """The filtered orders as rows (not entities), fetched in batches (a server-side cursor
    on PostgreSQL), so an export of any size runs in constant memory."""
    query = order_queries.filtered_orders(filters).with_only_columns(
        Order.number,
        Order.placed_at,
        Order.status,
        Order.payment_status,
        Order.fulfilment_status,
        Order.channel,
        Order.customer_id,
        Order.email,
        Order.currency,
        Order.subtotal,
        Order.discount_total,
        Order.shipping_total,
        Order.tax_total,
        Order.total,
        Order.amount_paid,
        Order.amount_refunded,
        Order.payment_method,
        Order.shipping_method_code,
        Order.shipping_address,
    )
    for row in db.session.execute(query.execution_options(yield_per=500)):
        *cells, address = row
        yield [*cells, (address or {}).get("country", "")]


@bp.route("/orders/export.csv", endpoint="export")
@require_permission(ORDERS_READ)
def export_csv():
    form = OrderFilterForm(formdata=request.args)
    if not form.validate():
        raise InvalidInput("Some filters are not valid.", errors=form.errors)
    filters = form.to_filter()
    described = filter_query(request.args.items(multi=True)) or "all orders"
    with transaction():  # customer emails leave the system: who took them is on record
        audit.record(
            "orders.exported", actor=current_user, summary=f"Exported orders as CSV ({described})"[:500]
        )
    filename = f"orders-{utcnow().date().isoformat()}.csv"
    return Response(
        # The query runs once the response starts, inside the request kept open for it.
        stream_with_context(csv_stream.csv_lines(EXPORT_COLUMNS, export_rows(filters))),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={filename}", "Cache-Control": "no-store"},
    )


@bp.route("/orders/views", methods=["POST"], endpoint="save_view")
@require_permission(ORDERS_READ)
def save_view_endpoint():
    form = SavedViewForm()
    query_string = clean_query_string(form.query_string.data or "")
    back = url_for("orders.list") + (f"?{query_string}" if query_string else "")
    if not form.validate():
        flash(f"The view is not saved: {' '.join(form.name.errors)}", "error")
        return redirect(back)
    try:
        with transaction():
            view = save_view(current_user, name=form.name.data, query_string=query_string)
            name = view.name
    except (InvalidInput, Conflict) as error:
        flash(f"The view is not saved: {error.detail}", "error")
    except IntegrityError:  # the same name saved twice at once (a double click): one is kept
        flash("The view is saved already.", "info")
    else:
        flash(f"Saved the view “{name}”. It is listed above the orders.", "success")
    return redirect(back)


@bp.route("/orders/views/<int(max=2147483647):view_id>/delete", methods=["POST"], endpoint="delete_view")
@require_permission(ORDERS_READ)
def delete_view_endpoint(view_id):
    with transaction():
        name = delete_view(current_user, view_id)
    flash(f"Deleted the saved view “{name}”. No order changed.", "success")
    return redirect(url_for("orders.list"))
