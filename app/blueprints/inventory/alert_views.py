"""Portal pages of what needs attention in stock: low-stock alerts (open, or the resolved
history) with the signed-in person's email subscription, and backorders (waiting in the
order they will be served, or allocated)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from jinja2_fragments.flask import render_block

from app.blueprints.inventory import INVENTORY_READ, alerts, bp, services, view_queries
from app.blueprints.inventory.forms import location_label
from app.blueprints.inventory.queries import AlertRow
from app.core.htmx import wants_fragment
from app.core.navigation import register_nav
from app.core.pagination import requested_page
from app.core.permissions import require_permission
from app.core.transaction import transaction

register_nav("Catalog", "Stock alerts", "inventory.alerts", INVENTORY_READ, order=80)
register_nav("Catalog", "Backorders", "inventory.backorders", INVENTORY_READ, order=85)

ALERTS_TEMPLATE = "inventory/alerts.html"
BACKORDERS_TEMPLATE = "inventory/backorders.html"
MAX_SKU_FILTER = 64


@bp.route("/inventory/alerts", endpoint="alerts")
@require_permission(INVENTORY_READ)
def alert_list():
    status = "resolved" if request.args.get("status") == "resolved" else "open"
    locations = services.list_locations()
    location = request.args.get("location", "")
    location_id = (
        int(location) if location.isdigit() and int(location) in {loc.id for loc in locations} else None
    )
    page = view_queries.RowPagination(
        view_queries.alert_list_query(status, location_id),
        AlertRow,
        page=requested_page(),
        per_page=25,
    )
    context = {
        "page": page,
        "status": status,
        "location_id": location_id,
        "locations": [(loc.id, location_label(loc)) for loc in locations],
        "subscribed": alerts.is_subscribed(current_user),
    }
    if wants_fragment("alert-results"):
        return render_block(ALERTS_TEMPLATE, "results", **context)
    return render_template(ALERTS_TEMPLATE, **context)


@bp.route(
    "/inventory/alerts/subscription/<any(subscribe, unsubscribe):action>",
    methods=["POST"],
    endpoint="alert_subscription",
)
@require_permission(INVENTORY_READ)
def alert_subscription(action):
    """The signed-in person starts or stops getting low-stock alerts by email."""
    with transaction():
        if action == "subscribe":
            alerts.subscribe(current_user, actor=current_user)
        else:
            alerts.unsubscribe(current_user, actor=current_user)
    if action == "subscribe":
        flash(f"Each new low-stock alert will be emailed to {current_user.email}.", "success")
    else:
        flash("You no longer get low-stock alerts by email.", "success")
    return redirect(url_for("inventory.alerts"))


@bp.route("/inventory/backorders", endpoint="backorders")
@require_permission(INVENTORY_READ)
def backorder_list():
    status = "allocated" if request.args.get("status") == "allocated" else "waiting"
    sku = (request.args.get("sku") or "").strip()[:MAX_SKU_FILTER]
    page = view_queries.RowPagination(
        view_queries.backorder_list_query(status, sku),
        view_queries.BackorderRow,
        page=requested_page(),
        per_page=25,
    )
    context = {
        "page": page,
        "status": status,
        "sku": sku,
        "counts": view_queries.backorder_counts(),
    }
    if wants_fragment("backorder-results"):
        return render_block(BACKORDERS_TEMPLATE, "results", **context)
    return render_template(BACKORDERS_TEMPLATE, **context)
