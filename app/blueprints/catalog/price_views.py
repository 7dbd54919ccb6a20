"""The bulk price change: the product filter plus an adjustment, a preview of what
changes (HTMX), then "Apply to N variants" after a confirmation.

The apply form carries what was previewed and the count it showed; when the filter now
matches a different number of variants (someone changed prices meanwhile), nothing is
applied and the new preview is shown instead.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from jinja2_fragments.flask import render_block

from app.blueprints.catalog import CATALOG_PRICES, bp, brands, categories, pricing
from app.blueprints.catalog.forms import PRICE_FIELD_LABELS, PriceChangeForm, ProductFilterForm, place_errors
from app.core.errors import InvalidInput
from app.core.htmx import wants_fragment
from app.core.navigation import register_nav
from app.core.permissions import require_permission
from app.core.transaction import transaction

register_nav("Catalog", "Bulk price change", "catalog.prices", CATALOG_PRICES, order=40)

TEMPLATE = "catalog/prices.html"
PREVIEW_ROWS = 50
CARRIED = (*ProductFilterForm.FILTER_FIELDS, "field", "mode", "value", "reason")


def price_form(**kwargs) -> PriceChangeForm:
    form = PriceChangeForm(**kwargs)
    form.set_choices(tree=categories.category_tree(), brands=brands.list_brands())
    return form


def render_page(form: PriceChangeForm, *, preview=None, notice: str = "", status: int = 200):
    context = {
        "form": form,
        "preview": preview,
        "notice": notice,
        "currency": current_app.config["STORE_CURRENCY"],
        "field_label": PRICE_FIELD_LABELS.get(form.field.data, "Price"),
        # What the apply form sends back: exactly what was previewed.
        "applied": {name: request.form.get(name, "") for name in CARRIED if request.form.get(name)},
    }
    if wants_fragment("price-workspace"):
        return render_block(TEMPLATE, "workspace", **context), status
    return render_template(TEMPLATE, **context), status


def run_preview(form: PriceChangeForm):
    """The preview of a valid form, or None with the service's complaints on the form."""
    try:
        return pricing.preview_price_change(form.to_filter(), form.adjustment(), limit=PREVIEW_ROWS)
    except InvalidInput as error:
        place_errors(form, error)
        return None


@bp.route("/catalog/prices", endpoint="prices")
@require_permission(CATALOG_PRICES)
def price_change_page():
    """The form, its filter filled in from the URL (the product list links here with its own)."""
    filters = ProductFilterForm(formdata=request.args)
    filters.set_choices(tree=categories.category_tree(), brands=brands.list_brands())
    data = {}
    if request.args and filters.validate():
        data = {name: filters[name].data for name in ProductFilterForm.FILTER_FIELDS}
    return render_page(price_form(formdata=None, data=data))


@bp.route("/catalog/prices/preview", methods=["POST"], endpoint="preview_prices")
@require_permission(CATALOG_PRICES)
def preview_prices():
    form = price_form()
    if not form.validate_on_submit():
        return render_page(form, status=422)
    preview = run_preview(form)
    if preview is None:
        return render_page(form, status=422)
    return render_page(form, preview=preview)


@bp.route("/catalog/prices/apply", methods=["POST"], endpoint="apply_prices")
@require_permission(CATALOG_PRICES)
def apply_prices():
    form = price_form()
    if not form.validate_on_submit():
        return render_page(form, status=422)
    preview = run_preview(form)
    if preview is None:
        return render_page(form, status=422)
    if str(preview.count) != (form.expected_count.data or ""):
        notice = (
            f"Nothing was changed: this filter now matches {preview.count} variants, not the "
            f"{form.expected_count.data or 'unknown number'} you previewed. Check the new preview."
        )
        return render_page(form, preview=preview, notice=notice, status=409)
    try:
        with transaction():
            changed = pricing.apply_price_change(form.to_filter(), form.adjustment(), actor=current_user)
    except InvalidInput as error:
        place_errors(form, error)
        return render_page(form, preview=run_preview(form), status=422)
    label = PRICE_FIELD_LABELS.get(form.field.data, "price").lower()
    flash(f"Changed the {label} of {changed} variant{'' if changed == 1 else 's'}.", "success")
    return redirect(url_for("catalog.products", **form.filter_args()))
