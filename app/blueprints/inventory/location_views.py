"""Portal pages of stock locations: the list with what each holds, and the form that
creates or changes one (code, name, kind, active, fulfils orders, position, default
low-stock threshold). All of it needs `inventory.locations`."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select

from app.blueprints.inventory import INVENTORY_LOCATIONS, bp, services
from app.blueprints.inventory.alerts import default_threshold
from app.blueprints.inventory.forms import LOCATION_KIND_LABELS, LocationForm, place_errors
from app.blueprints.inventory.models import StockLevel, StockLocation
from app.blueprints.inventory.views import ID
from app.core.errors import Conflict, InvalidInput
from app.core.navigation import register_nav
from app.core.permissions import require_permission
from app.core.transaction import transaction
from app.extensions import db

register_nav("Catalog", "Locations", "inventory.locations", INVENTORY_LOCATIONS, order=90)

FORM_TEMPLATE = "inventory/location_form.html"


def units_by_location() -> dict[int, tuple[int, int]]:
    """location id -> (units on hand, units reserved), in one grouped query."""
    rows = db.session.execute(
        select(StockLevel.location_id, func.sum(StockLevel.on_hand), func.sum(StockLevel.reserved)).group_by(
            StockLevel.location_id
        )
    )
    return {location_id: (on_hand or 0, reserved or 0) for location_id, on_hand, reserved in rows}


@bp.route("/inventory/locations", endpoint="locations")
@require_permission(INVENTORY_LOCATIONS)
def location_list():
    return render_template(
        "inventory/locations.html",
        locations=services.list_locations(),
        units=units_by_location(),
        kind_labels=LOCATION_KIND_LABELS,
        default_threshold=default_threshold(),
    )


def render_form(form: LocationForm, location: StockLocation | None, status: int = 200):
    return (
        render_template(FORM_TEMPLATE, form=form, location=location, default_threshold=default_threshold()),
        status,
    )


@bp.route("/inventory/locations/new", methods=["GET", "POST"], endpoint="new_location")
@require_permission(INVENTORY_LOCATIONS)
def new_location():
    form = LocationForm()
    if form.validate_on_submit():
        values = form.values(creating=True)
        try:
            with transaction():
                location = services.create_location(actor=current_user, **values)
                code = location.code
        except (InvalidInput, Conflict) as error:
            place_errors(form, error)
        else:
            flash(f"Stock location {code} is created.", "success")
            return redirect(url_for("inventory.locations"))
    return render_form(form, None, 422 if form.errors or form.form_errors else 200)


@bp.route(f"/inventory/locations/<{ID}:location_id>/edit", methods=["GET", "POST"], endpoint="edit_location")
@require_permission(INVENTORY_LOCATIONS)
def edit_location(location_id):
    location = db.session.get(StockLocation, location_id)
    if location is None:
        abort(404)
    form = LocationForm(obj=location)
    if form.validate_on_submit():
        try:
            with transaction():
                services.update_location(location, form.values(creating=False), actor=current_user)
        except (InvalidInput, Conflict) as error:
            place_errors(form, error)
        else:
            flash(f"Saved stock location {location.code}.", "success")
            return redirect(url_for("inventory.locations"))
    return render_form(form, location, 422 if form.errors or form.form_errors else 200)
