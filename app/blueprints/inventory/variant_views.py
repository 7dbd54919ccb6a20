"""A variant's stock page: its levels per location, the movement ledger (filtered by
location and kind, paged back with a cursor) and the actions that change stock: adjust,
transfer, count. An action answered to HTMX swaps the figures and, out of band, the ledger
from its newest movement and a fresh form; refused, the form comes back in its own place
with the errors next to the fields and what was typed.
"""

from __future__ import annotations

from flask import abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from jinja2_fragments.flask import render_block, render_blocks

from app.blueprints.catalog import services as catalog_services
from app.blueprints.inventory import (
    INVENTORY_LOCATIONS,
    INVENTORY_READ,
    INVENTORY_WRITE,
    alerts,
    bp,
    queries,
    services,
    view_queries,
)
from app.blueprints.inventory.forms import (
    AdjustForm,
    CountForm,
    StockSettingsForm,
    TransferForm,
    location_label,
    movement_kind_choices,
    place_errors,
)
from app.blueprints.inventory.models import MOVEMENT_KINDS
from app.blueprints.inventory.views import ID
from app.core.errors import Conflict, InvalidInput
from app.core.htmx import is_htmx, wants_fragment
from app.core.permissions import current_identity_can, require_permission
from app.core.transaction import transaction

VARIANT_TEMPLATE = "inventory/variant.html"
LEDGER_PER_PAGE = 25
ACTIONS = ("adjust", "transfer", "count")


def product_url(product_id: int) -> str | None:
    """The catalog's product page, when that page exists and the viewer may open it."""
    if "catalog.product" not in current_app.view_functions or not current_identity_can("catalog.read"):
        return None
    return url_for("catalog.product", product_id=product_id)


# --- A variant's stock page --------------------------------------------------------------


def variant_or_404(variant_id: int):
    variant = view_queries.variant_for_page(variant_id)
    if variant is None:
        abort(404)
    return variant


def ledger_context(variant, locations, args) -> dict:
    """The ledger section: movements newest first, filtered by location and kind (from
    `args`, the query string), 25 at a time from the `before` cursor (a keyset: as fast
    deep in the ledger as at its head)."""
    location_ids = {location.id for location in locations}
    location = args.get("location", "")
    location_id = int(location) if location.isdigit() and int(location) in location_ids else None
    kind = args.get("kind", "")
    kind = kind if kind in MOVEMENT_KINDS else ""
    before = args.get("before", "")
    before_id = int(before) if before.isdigit() and len(before) < 19 else None
    rows, next_before = queries.movements(
        queries.MovementFilter(
            variant_id=variant.id, location_id=location_id, kind=kind or None, before_id=before_id
        ),
        limit=LEDGER_PER_PAGE,
    )
    return {
        "variant": variant,
        "movements": rows,
        "actor_names": view_queries.user_names(row.actor_id for row in rows),
        "next_before": next_before,
        "ledger_location": location_id,
        "ledger_kind": kind,
        "ledger_before": before_id,
        "ledger_locations": [(loc.id, location_label(loc)) for loc in locations],
        "kind_choices": movement_kind_choices(),
    }


def figures_context(variant, locations) -> dict:
    levels = view_queries.variant_levels(variant, locations, alerts.threshold_for)
    waiting, waiting_units = view_queries.waiting_backorders(variant.id)
    return {
        "variant": variant,
        "product": variant.product,
        "levels": levels,
        "totals": {
            "on_hand": sum(level.on_hand for level in levels),
            "reserved": sum(level.reserved for level in levels),
            "available": sum(level.available for level in levels),
        },
        "waiting_backorders": waiting,
        "waiting_units": waiting_units,
        "can_locations": current_identity_can(INVENTORY_LOCATIONS),
    }


def action_forms(locations, **given) -> dict:
    """The three action forms: those given (as posted, with errors), the others blank."""
    active = [location for location in locations if location.is_active]
    first = active[0].id if active else None
    second = active[1].id if len(active) > 1 else None
    blank = {
        "adjust": lambda: AdjustForm(formdata=None, location=first),
        "transfer": lambda: TransferForm(formdata=None, from_location=first, to_location=second),
        "count": lambda: CountForm(formdata=None, location=first),
    }
    forms = {}
    for name in ACTIONS:
        form = given.get(f"{name}_form") or blank[name]()
        names = ("from_location", "to_location") if name == "transfer" else ("location",)
        forms[f"{name}_form"] = form.set_locations(locations, *names)
    return forms


def variant_page_context(variant, locations, *, args, **forms) -> dict:
    settings_form = forms.pop("settings_form", None) or StockSettingsForm(formdata=None, obj=variant)
    return {
        **figures_context(variant, locations),
        **ledger_context(variant, locations, args),
        **action_forms(locations, **forms),
        "settings_form": settings_form,
        "product_url": product_url(variant.product_id),
        "can_write": current_identity_can(INVENTORY_WRITE),
        "has_locations": bool(locations),
        "open_action": None,  # which action form to show unfolded: the first by default
    }


@bp.route(f"/inventory/variants/<{ID}:variant_id>", endpoint="variant")
@require_permission(INVENTORY_READ)
def variant_stock(variant_id):
    variant = variant_or_404(variant_id)
    locations = services.list_locations()
    # HTMX swaps the ledger (a filter chosen) or appends to it (older movements).
    for target, block in (("ledger", "ledger"), ("ledger-more", "ledger_rows")):
        if wants_fragment(target):
            return render_block(VARIANT_TEMPLATE, block, **ledger_context(variant, locations, request.args))
    return render_template(VARIANT_TEMPLATE, **variant_page_context(variant, locations, args=request.args))


def action_succeeded(variant, locations, action: str, message: str):
    """Back to the page (flash), or for HTMX the new figures with the message, and out of
    band the ledger from its newest movement and a blank form."""
    if not is_htmx():
        flash(message, "success")
        return redirect(url_for("inventory.variant", variant_id=variant.id, _anchor="stock-figures"))
    context = variant_page_context(variant, locations, args={})  # the ledger from its head
    context.update(message=message, out_of_band=True, open_action=action)
    return render_blocks(VARIANT_TEMPLATE, ["figures", "ledger", f"{action}_form"], **context)


def action_failed(variant, locations, action: str, form):
    """The form again with its errors next to the fields and what was typed (422)."""
    context = variant_page_context(variant, locations, args={}, **{f"{action}_form": form})
    context["open_action"] = action
    if is_htmx():
        response = make_response(render_block(VARIANT_TEMPLATE, f"{action}_form", **context), 422)
        response.headers["HX-Retarget"] = f"#{action}-stock"
        response.headers["HX-Reswap"] = "outerHTML"
        return response
    return render_template(VARIANT_TEMPLATE, **context), 422


def chosen(locations, location_id):
    return next(location for location in locations if location.id == location_id)


@bp.route(f"/inventory/variants/<{ID}:variant_id>/adjust", methods=["POST"], endpoint="adjust")
@require_permission(INVENTORY_WRITE)
def adjust(variant_id):
    variant = variant_or_404(variant_id)
    locations = services.list_locations()
    form = AdjustForm().set_locations(locations)
    if form.validate():
        location = chosen(locations, form.location.data)
        try:
            with transaction():
                services.adjust_stock(
                    variant, location, form.delta.data, reason=form.reason.data, actor=current_user
                )
        except (InvalidInput, Conflict) as error:
            place_errors(form, error, fallback="delta")
        else:
            message = f"{variant.sku} at {location.code}: {form.delta.data:+d} ({form.reason.data.strip()})."
            return action_succeeded(variant, locations, "adjust", message)
    return action_failed(variant, locations, "adjust", form)


@bp.route(f"/inventory/variants/<{ID}:variant_id>/transfer", methods=["POST"], endpoint="transfer")
@require_permission(INVENTORY_WRITE)
def transfer(variant_id):
    variant = variant_or_404(variant_id)
    locations = services.list_locations()
    form = TransferForm().set_locations(locations, "from_location", "to_location")
    if form.validate():
        source = chosen(locations, form.from_location.data)
        target = chosen(locations, form.to_location.data)
        try:
            with transaction():
                services.transfer_stock(
                    variant,
                    source,
                    target,
                    form.quantity.data,
                    actor=current_user,
                    reason=form.reason.data or "",
                )
        except (InvalidInput, Conflict) as error:
            place_errors(form, error, fallback="quantity")
        else:
            message = f"Moved {form.quantity.data} × {variant.sku} from {source.code} to {target.code}."
            return action_succeeded(variant, locations, "transfer", message)
    return action_failed(variant, locations, "transfer", form)


@bp.route(f"/inventory/variants/<{ID}:variant_id>/count", methods=["POST"], endpoint="count")
@require_permission(INVENTORY_WRITE)
def count(variant_id):
    variant = variant_or_404(variant_id)
    locations = services.list_locations()
    form = CountForm().set_locations(locations)
    if form.validate():
        location = chosen(locations, form.location.data)
        try:
            with transaction():
                movement = services.count_stock(
                    variant, location, form.counted.data, actor=current_user, reason=form.reason.data or ""
                )
                difference = movement.on_hand_delta
        except (InvalidInput, Conflict) as error:
            place_errors(form, error, fallback="counted")
        else:
            change = "no difference" if not difference else f"{difference:+d} corrected"
            message = f"Counted {form.counted.data} × {variant.sku} at {location.code}: {change}."
            return action_succeeded(variant, locations, "count", message)
    return action_failed(variant, locations, "count", form)


@bp.route(f"/inventory/variants/<{ID}:variant_id>/settings", methods=["POST"], endpoint="stock_settings")
@require_permission(INVENTORY_WRITE)
def stock_settings(variant_id):
    """Low-stock threshold, backorder policy and limit, expected restock: the catalog's
    variant fields, changed through the catalog's service (which validates and audits)."""
    variant = variant_or_404(variant_id)
    locations = services.list_locations()
    form = StockSettingsForm()
    if form.validate():
        try:
            with transaction():
                catalog_services.update_variant(variant, form.changes(), actor=current_user)
        except (InvalidInput, Conflict) as error:
            place_errors(form, error)
        else:
            return action_succeeded(variant, locations, "settings", f"Stock settings of {variant.sku} saved.")
    return action_failed(variant, locations, "settings", form)
