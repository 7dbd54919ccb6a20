"""Portal pages of shipments: the "Shipments" section of the order page, the ship page of
an order (pick and pack from one location) and the list of all shipments.

The ship page is one template: a location change swaps only the lines (HTMX, prefilled with
what is reserved there); without JavaScript the whole page answers. Shipping runs in one
transaction with the order locked FOR UPDATE; the form carries a submission key claimed
like an Idempotency-Key, so a double click makes one shipment. A refusal re-renders the
form with the errors next to the fields and what was typed kept.
"""

from __future__ import annotations

import secrets

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from jinja2_fragments.flask import render_block

from app.blueprints.fulfilment import (
    FULFILMENT_READ,
    FULFILMENT_SHIP,
    bp,
    providers,
    shipment_labels,
    shipment_queries,
    shipments,
    tracking,
)
from app.blueprints.fulfilment.shipment_forms import ShipForm, ShipmentFilterForm, ShipRatesForm
from app.blueprints.orders import order_queries
from app.blueprints.orders.order_page_sections import register_order_section
from app.core import idempotency
from app.core.errors import Conflict, DomainError, InvalidInput
from app.core.htmx import wants_fragment
from app.core.navigation import register_nav
from app.core.pagination import paginate
from app.core.permissions import current_identity_can, require_permission
from app.core.transaction import transaction

register_nav("Orders", "Shipments", "fulfilment.shipments", FULFILMENT_READ, order=20)

SHIP_TEMPLATE = "fulfilment/shipment_form.html"
RATES_TEMPLATE = "fulfilment/_ship_rates.html"
LIST_TEMPLATE = "fulfilment/shipment_list.html"


def provider_labels() -> dict[str, str]:
    return {code: provider.label for code, provider in providers.PROVIDERS.items()}


# ---- the order page's section ------------------------------------------------------------------


@register_order_section(
    "shipments", template="fulfilment/_shipments_section.html", permission=FULFILMENT_READ, order=10
)
def shipments_section(order) -> dict:
    lines = shipments.shippable(order)
    return {
        "shipment_views": shipment_queries.shipment_views(shipment_queries.order_shipments(order)),
        "can_ship": current_identity_can(FULFILMENT_SHIP) and shipments.can_ship_now(order, lines),
        "units_to_ship": sum(item.to_ship for item in lines),
        "units_reserved": sum(item.reserved for item in lines),
        "shipment_status_labels": tracking.STATUS_LABELS,
        "provider_labels": provider_labels(),
    }


# ---- the ship page -----------------------------------------------------------------------------


def chosen_location(requested, locations) -> int | None:
    ids = [location.id for location in locations]
    try:
        wanted = int(requested)
    except (TypeError, ValueError):
        wanted = None
    return wanted if wanted in ids else (ids[0] if ids else None)


def prepared(form: ShipForm | ShipRatesForm, locations) -> ShipForm | ShipRatesForm:
    """The form's location choices (those holding the order's units) and providers."""
    form.location_id.choices = [(location.id, location.name) for location in locations]
    form.provider.choices = [(provider.code, provider.label) for provider in providers.offered_providers()]
    return form


def render_ship_page(order, form: ShipForm, lines, locations, *, status: int = 200):
    by_id = {str(item.line.id): item for item in lines}
    rows = [(entry, by_id.get(entry.form.order_line_id.data or "")) for entry in form.lines.entries]
    context = {
        "order": order,
        "form": form.label_lines(lines),
        "rows": [(entry, item) for entry, item in rows if item is not None],
        "locations": locations,
        "location_id": form.location_id.data,
        "can_ship": shipments.can_ship_now(order, lines),
        "backordered": [item for item in lines if item.to_ship > item.reserved],
        "labels_made_by": [p.label for p in providers.offered_providers() if p.makes_labels],
    }
    if wants_fragment("ship-lines"):
        return render_block(SHIP_TEMPLATE, "lines", **context), status
    return render_template(SHIP_TEMPLATE, **context), status


@bp.route("/orders/<number>/ship", methods=["GET", "POST"], endpoint="ship_order")
@require_permission(FULFILMENT_SHIP)
def ship_order(number):
    order = order_queries.order_by_number(number)
    lines = shipments.shippable(order)
    locations = shipments.locations_holding(lines)
    if request.method == "GET":
        form = prepared(ShipForm(formdata=None), locations)
        form.submission_key.data = secrets.token_urlsafe(16)
        form.location_id.data = chosen_location(request.args.get("location_id"), locations)
        form.provider.data = form.provider.choices[0][0] if form.provider.choices else None
        form.fill_lines(lines, form.location_id.data)
        return render_ship_page(order, form, lines, locations)
    form = prepared(ShipForm(), locations)
    if form.validate():
        response = ship(order.number, form)
        if response is not None:
            return response
    order = order_queries.order_by_number(number)  # as the refused attempt left it: unchanged
    return render_ship_page(order, form, shipments.shippable(order), locations, status=422)


@bp.route("/orders/<number>/ship/rates", endpoint="ship_rates")
@require_permission(FULFILMENT_SHIP)
def ship_rates(number):
    """The ship page's "Compare carrier rates" (HTMX): the provider's quotes for the parcels
    as typed, each a choice of the ship form (`rate_id`), cheapest first."""
    order = order_queries.order_by_number(number)
    locations = shipments.locations_holding(shipments.shippable(order))
    form = prepared(ShipRatesForm(request.args), locations)
    context = {"form": form, "order": order, "provider": None, "rates": []}
    if form.validate():
        provider = providers.get_provider(form.provider.data)
        location = next(location for location in locations if location.id == form.location_id.data)
        weight = form.weight_grams.data if form.weight_grams.data is not None else order.weight_grams
        context["provider"] = provider
        context["rates"] = shipment_labels.quote_rates(
            order, provider, location, packages=form.packages.data, weight_grams=weight
        )
    return render_template(RATES_TEMPLATE, **context)


def ship(number: str, form: ShipForm):
    """Create the shipment; a redirect on success, None (errors on the form) on refusal."""
    key = (form.submission_key.data or "").strip()[: idempotency.MAX_KEY_LENGTH] or None
    claim = idempotency.claim(f"portal-shipment:{current_user.id}", key)
    if claim.replay is not None:  # a second click of the same form: the first one shipped
        flash(f"Shipment {claim.replay.get_json()['number']} is created already.", "info")
        return redirect(url_for("orders.order", number=number, _anchor="shipments"))
    try:
        with transaction():
            order = order_queries.order_by_number(number, for_update=True)
            shipment = shipments.create_shipment(
                order,
                location_id=form.location_id.data,
                quantities=form.quantities(),
                provider=form.provider.data,
                carrier=form.carrier.data or "",
                service=form.chosen_service,
                tracking_number=form.tracking_number.data or "",
                tracking_url=form.tracking_url.data or "",
                packages=form.packages.data,
                weight_grams=form.weight_grams.data,
                actor=current_user,
            )
            shipped_number, status = shipment.number, order.status
            claim.complete({"number": shipped_number}, 201, resource=f"shipment:{shipment.id}")
    except (InvalidInput, Conflict) as error:
        claim.release()
        show_error(form, error)
        return None
    except BaseException:
        claim.release()
        raise
    state = "shipped" if status == "shipped" else "partially shipped"
    flash(f"Shipment {shipped_number} is created: order {number} is {state}.", "success")
    return redirect(url_for("orders.order", number=number, _anchor="shipments"))


def show_error(form: ShipForm, error: DomainError) -> None:
    """The service's complaints next to the fields they name; the rest at the top."""
    fields = form.error_fields()
    unplaced = []
    for name, messages in (error.errors or {}).items():
        field = fields.get(name)
        if field is not None:
            field.errors = [*field.errors, *messages]
        else:
            unplaced.extend(messages)
    form.form_errors.append(" ".join([error.detail, *unplaced]))


# ---- the list of shipments ---------------------------------------------------------------------


def list_url(**changes) -> str:
    """The list with the current filters, some of them changed (page 1 unless given)."""
    args = request.args.to_dict(flat=False)
    args.pop("page", None)
    for key, value in changes.items():
        args[key] = [value] if value else []
    return url_for("fulfilment.shipments", **{key: values for key, values in args.items() if values})


@bp.route("/shipments", endpoint="shipments")
@require_permission(FULFILMENT_READ)
def shipment_list():
    form = ShipmentFilterForm(formdata=request.args)
    form.provider.choices = [("", "Any provider"), *provider_labels().items()]
    form.carrier.choices = [("", "Any carrier"), *((c, c) for c in shipment_queries.carriers_in_use())]
    valid = form.validate()
    page = views = None
    if valid:
        page = paginate(shipment_queries.filtered_shipments(form.to_filter()), per_page=form.rows_per_page)
        views = shipment_queries.shipment_views(page.items)
    context = {
        "form": form,
        "page": page,
        "shipment_views": views,
        "list_url": list_url,
        "shipment_status_labels": tracking.STATUS_LABELS,
        "provider_labels": provider_labels(),
    }
    status = 200 if valid else 422
    if wants_fragment("shipment-results"):
        return render_block(LIST_TEMPLATE, "results", **context), status
    return render_template(LIST_TEMPLATE, **context), status
