"""Portal pages of the shipping and tax settings.

"Shipping" lists the zones with their destinations and methods; a zone's page edits it
and its destinations and lists its methods; a method's page edits its prices and weight
bands. "Tax rates" is one table by country, region and class, rows edited in place with
HTMX. Everyone with orders.read sees them; only orders.settings shows the forms.
"""

from __future__ import annotations

from decimal import Decimal

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from jinja2_fragments.flask import render_block, render_blocks

from app.blueprints.catalog.forms import place_errors
from app.blueprints.catalog.views import ID
from app.blueprints.orders import ORDERS_READ, ORDERS_SETTINGS, bp, shipping, shipping_methods, taxes
from app.blueprints.orders.models import ShippingZone
from app.blueprints.orders.settings_forms import (
    MethodForm,
    TaxRateForm,
    ZoneForm,
    kind_label,
    tax_class_label,
)
from app.core.errors import Conflict, InvalidInput
from app.core.htmx import is_htmx, wants_fragment
from app.core.navigation import register_nav
from app.core.permissions import current_identity_can, require_permission
from app.core.transaction import transaction

register_nav("Orders", "Shipping", "orders.shipping", ORDERS_READ, order=60)
register_nav("Orders", "Tax rates", "orders.tax_rates", ORDERS_READ, order=70)

SHIPPING_TEMPLATE = "orders/settings_shipping.html"
ZONE_TEMPLATE = "orders/settings_zone.html"
METHOD_TEMPLATE = "orders/settings_method.html"
TAX_TEMPLATE = "orders/settings_tax_rates.html"


def weight_label(grams: int) -> str:
    """2000 -> "2 kg", 2500 -> "2.5 kg", 750 -> "750 g"."""
    if grams < 1000:
        return f"{grams} g"
    kilos = (Decimal(grams) / 1000).normalize()
    return f"{kilos:f} kg"


def common_context(**extra) -> dict:
    return {
        "can_change": current_identity_can(ORDERS_SETTINGS),
        "weight_label": weight_label,
        "kind_label": kind_label,
        "tax_class_label": tax_class_label,
        **extra,
    }


# --- Shipping: all zones -------------------------------------------------------------------


def shipping_context(form: ZoneForm | None = None) -> dict:
    return common_context(
        zones=shipping.list_zones(), form=form if form is not None else ZoneForm(formdata=None)
    )


@bp.route("/orders/settings/shipping", endpoint="shipping")
@require_permission(ORDERS_READ)
def shipping_page():
    return render_template(SHIPPING_TEMPLATE, **shipping_context())


@bp.route("/orders/settings/shipping/zones", methods=["POST"], endpoint="create_shipping_zone")
@require_permission(ORDERS_SETTINGS)
def create_zone():
    form = ZoneForm()
    if form.validate_on_submit():
        try:
            with transaction():
                zone = shipping.create_zone(
                    actor=current_user,
                    name=form.name.data,
                    countries=form.destinations(),
                    position=form.position.data,
                )
        except (InvalidInput, Conflict) as error:
            place_errors(form, error, form.error_fields())
        else:
            flash(f"Added the shipping zone {zone.name}. Add its methods next.", "success")
            return redirect(url_for("orders.shipping_zone", zone_id=zone.id))
    return render_template(SHIPPING_TEMPLATE, **shipping_context(form)), 422


# --- One zone ------------------------------------------------------------------------------


def render_zone_page(zone: ShippingZone, *, form: ZoneForm | None = None, status: int = 200):
    form = form if form is not None else ZoneForm.for_zone(zone, formdata=None)
    return render_template(ZONE_TEMPLATE, **common_context(zone=zone, form=form)), status


@bp.route(f"/orders/settings/shipping/zones/<{ID}:zone_id>", endpoint="shipping_zone")
@require_permission(ORDERS_READ)
def zone_page(zone_id):
    return render_zone_page(shipping.get_zone(zone_id))


@bp.route(
    f"/orders/settings/shipping/zones/<{ID}:zone_id>", methods=["POST"], endpoint="update_shipping_zone"
)
@require_permission(ORDERS_SETTINGS)
def update_zone(zone_id):
    zone = shipping.get_zone(zone_id)
    form = ZoneForm()
    if form.validate_on_submit():
        try:
            with transaction():
                shipping.update_zone(
                    zone,
                    actor=current_user,
                    name=form.name.data,
                    countries=form.destinations(),
                    position=form.position.data if form.position.data is not None else zone.position,
                )
        except (InvalidInput, Conflict) as error:
            place_errors(form, error, form.error_fields())
            zone = shipping.get_zone(zone_id)
        else:
            flash(f"Saved the shipping zone {zone.name}.", "success")
            return redirect(url_for("orders.shipping_zone", zone_id=zone_id))
    return render_zone_page(zone, form=form, status=422)


@bp.route(
    f"/orders/settings/shipping/zones/<{ID}:zone_id>/delete",
    methods=["POST"],
    endpoint="delete_shipping_zone",
)
@require_permission(ORDERS_SETTINGS)
def delete_zone(zone_id):
    zone = shipping.get_zone(zone_id)
    name = zone.name
    with transaction():
        shipping.delete_zone(zone, actor=current_user)
    flash(
        f"Deleted the shipping zone {name} and its methods. Its countries are no longer shipped to.",
        "success",
    )
    return redirect(url_for("orders.shipping"))


# --- Methods -------------------------------------------------------------------------------


def render_method_page(zone: ShippingZone, *, method=None, form: MethodForm | None = None, status: int = 200):
    if form is None:
        form = (
            MethodForm.for_method(method, formdata=None) if method is not None else MethodForm(formdata=None)
        )
        form.add_blank_rows()
    return render_template(METHOD_TEMPLATE, **common_context(zone=zone, method=method, form=form)), status


def save_method(zone: ShippingZone, method=None):
    """Create (no `method`) or change a method from the posted form; the form again on errors."""
    form = MethodForm()
    if form.validate_on_submit():
        try:
            with transaction():
                if method is None:
                    method = shipping_methods.add_method(zone, actor=current_user, **form.method_fields())
                else:
                    shipping_methods.update_method(method, actor=current_user, **form.method_fields())
        except (InvalidInput, Conflict) as error:
            place_errors(form, error, form.error_fields())
            if method is not None:
                method = shipping_methods.get_method(method.id)
            zone = shipping.get_zone(zone.id)
        else:
            flash(f"Saved the shipping method {method.name} of {zone.name}.", "success")
            return redirect(url_for("orders.shipping_zone", zone_id=zone.id, _anchor="methods"))
    form.add_blank_rows()
    return render_method_page(zone, method=method, form=form, status=422)


@bp.route(f"/orders/settings/shipping/zones/<{ID}:zone_id>/methods/new", endpoint="new_shipping_method")
@require_permission(ORDERS_SETTINGS)
def new_method(zone_id):
    return render_method_page(shipping.get_zone(zone_id))


@bp.route(
    f"/orders/settings/shipping/zones/<{ID}:zone_id>/methods",
    methods=["POST"],
    endpoint="create_shipping_method",
)
@require_permission(ORDERS_SETTINGS)
def create_method(zone_id):
    return save_method(shipping.get_zone(zone_id))


@bp.route(f"/orders/settings/shipping/methods/<{ID}:method_id>", endpoint="shipping_method")
@require_permission(ORDERS_READ)
def method_page(method_id):
    method = shipping_methods.get_method(method_id)
    return render_method_page(method.zone, method=method)


@bp.route(
    f"/orders/settings/shipping/methods/<{ID}:method_id>", methods=["POST"], endpoint="update_shipping_method"
)
@require_permission(ORDERS_SETTINGS)
def update_method(method_id):
    method = shipping_methods.get_method(method_id)
    return save_method(method.zone, method)


@bp.route(
    f"/orders/settings/shipping/methods/<{ID}:method_id>/delete",
    methods=["POST"],
    endpoint="delete_shipping_method",
)
@require_permission(ORDERS_SETTINGS)
def delete_method(method_id):
    method = shipping_methods.get_method(method_id)
    name, zone_id = method.name, method.zone_id
    with transaction():
        shipping_methods.delete_method(method, actor=current_user)
    flash(f"Deleted the shipping method {name}. Open carts that chose it must choose again.", "success")
    return redirect(url_for("orders.shipping_zone", zone_id=zone_id, _anchor="methods"))


# --- Tax rates -----------------------------------------------------------------------------


def country_filter() -> str:
    return (request.args.get("country") or "").strip().upper()[:2]


def tax_context(**extra) -> dict:
    country = country_filter()
    defaults = {"editing_id": None, "row_form": None, "form": TaxRateForm(formdata=None)}
    return common_context(
        rates=taxes.list_tax_rates(country or None),
        country=country,
        percent_of=taxes.percent_of,
        percent_label=taxes.percent_label,
        **{**defaults, **extra},
    )


def rate_row_form(rate, **kwargs) -> TaxRateForm:
    form = TaxRateForm.for_rate(rate, prefix=f"r{rate.id}", **kwargs)
    form.label_for_row(rate)
    return form


@bp.route("/orders/settings/tax-rates", endpoint="tax_rates")
@require_permission(ORDERS_READ)
def tax_rates_page():
    return render_template(TAX_TEMPLATE, **tax_context())


@bp.route("/orders/settings/tax-rates", methods=["POST"], endpoint="create_tax_rate")
@require_permission(ORDERS_SETTINGS)
def create_tax_rate():
    form = TaxRateForm()
    if form.validate_on_submit():
        try:
            with transaction():
                rate = taxes.create_tax_rate(actor=current_user, **form.rate_fields())
        except (InvalidInput, Conflict) as error:
            place_errors(form, error)
        else:
            flash(f"Added the tax rate {rate.name} for {rate.country}.", "success")
            return redirect(url_for("orders.tax_rates", _anchor=f"rate-{rate.id}"))
    return render_template(TAX_TEMPLATE, **tax_context(form=form)), 422


@bp.route(f"/orders/settings/tax-rates/<{ID}:rate_id>", endpoint="tax_rate")
@require_permission(ORDERS_READ)
def tax_rate_row(rate_id):
    """The rate's row as shown (what "Cancel" swaps back in); as a page, the rate table."""
    rate = taxes.get_tax_rate(rate_id)
    if wants_fragment(f"rate-{rate_id}"):
        return render_block(TAX_TEMPLATE, "rate_row", **tax_context(), rate=rate)
    return render_template(TAX_TEMPLATE, **tax_context())


@bp.route(f"/orders/settings/tax-rates/<{ID}:rate_id>/edit", endpoint="edit_tax_rate")
@require_permission(ORDERS_SETTINGS)
def edit_tax_rate(rate_id):
    rate = taxes.get_tax_rate(rate_id)
    context = tax_context(editing_id=rate.id, row_form=rate_row_form(rate, formdata=None))
    if wants_fragment(f"rate-{rate_id}"):
        return render_block(TAX_TEMPLATE, "rate_form_row", **context, rate=rate)
    return render_template(TAX_TEMPLATE, **context)


@bp.route(f"/orders/settings/tax-rates/<{ID}:rate_id>", methods=["POST"], endpoint="save_tax_rate")
@require_permission(ORDERS_SETTINGS)
def save_tax_rate(rate_id):
    rate = taxes.get_tax_rate(rate_id)
    form = rate_row_form(rate)
    if form.validate_on_submit():
        try:
            with transaction():
                taxes.update_tax_rate(rate, actor=current_user, **form.rate_fields())
        except (InvalidInput, Conflict) as error:
            place_errors(form, error)
            rate = taxes.get_tax_rate(rate_id)
        else:
            message = f"Saved the tax rate {rate.name} ({rate.country})."
            if not is_htmx():
                flash(message, "success")
                return redirect(url_for("orders.tax_rates", _anchor=f"rate-{rate_id}"))
            return render_blocks(
                TAX_TEMPLATE,
                ["rate_row", "rate_status"],
                **tax_context(),
                rate=rate,
                status_out_of_band=True,
                row_message=message,
            )
    context = tax_context(editing_id=rate.id, row_form=form)
    if is_htmx():
        response = make_response(render_block(TAX_TEMPLATE, "rate_form_row", **context, rate=rate), 422)
        response.headers["HX-Retarget"] = f"#rate-{rate_id}"
        response.headers["HX-Reswap"] = "outerHTML"
        return response
    return render_template(TAX_TEMPLATE, **context), 422


@bp.route(f"/orders/settings/tax-rates/<{ID}:rate_id>/delete", methods=["POST"], endpoint="delete_tax_rate")
@require_permission(ORDERS_SETTINGS)
def delete_tax_rate(rate_id):
    rate = taxes.get_tax_rate(rate_id)
    name, where = rate.name, f"{rate.country} {rate.region}".strip()
    with transaction():
        taxes.delete_tax_rate(rate, actor=current_user)
    flash(f"Deleted the tax rate {name} of {where}.", "success")
    return redirect(url_for("orders.tax_rates"))
