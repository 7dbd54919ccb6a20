"""The product page's variant matrix: rows edited in place with HTMX (each row's form is a
fragment of the product page), generating the missing variants, adding, deactivating and
deleting one, and a variant's price history.

Prices in a row are editable only with catalog.prices; without it the row form has no
price inputs, and a request that sends prices anyway is refused.
"""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from jinja2_fragments.flask import render_block, render_blocks
from sqlalchemy import select

from app.blueprints.auth.models import User
from app.blueprints.catalog import CATALOG_PRICES, CATALOG_READ, CATALOG_WRITE, bp, queries, services
from app.blueprints.catalog.forms import PRICE_FIELD_LABELS, place_errors
from app.blueprints.catalog.models import PRICE_FIELDS
from app.blueprints.catalog.product_forms import GenerateVariantsForm
from app.blueprints.catalog.variant_forms import AddVariantForm, VariantRowForm, variant_error_fields
from app.blueprints.catalog.views import (
    ID,
    PAGE_TEMPLATE,
    product_context,
    render_product_page,
)
from app.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from app.core.htmx import is_htmx, wants_fragment
from app.core.permissions import current_identity_can, require_permission
from app.core.transaction import transaction
from app.extensions import db

HISTORY_TEMPLATE = "catalog/price_history.html"


def product_and_variant(product_id: int, variant_id: int):
    product = services.get_product(product_id)
    variant = next((v for v in product.variants if v.id == variant_id), None)
    if variant is None:
        raise NotFound("This product has no such variant.")
    return product, variant


def row_anchor(product_id: int, variant_id: int) -> str:
    return url_for("catalog.product", product_id=product_id, _anchor=f"variant-{variant_id}")


# --- One row: shown, edited, saved ---------------------------------------------------------


@bp.route(f"/catalog/products/<{ID}:product_id>/variants/<{ID}:variant_id>", endpoint="variant")
@require_permission(CATALOG_READ)
def variant_row(product_id, variant_id):
    """The row as shown (what "Cancel" swaps back in); as a page, the product page."""
    product, variant = product_and_variant(product_id, variant_id)
    if wants_fragment(f"variant-{variant_id}"):
        return render_block(PAGE_TEMPLATE, "variant_row", **product_context(product, variant=variant))
    return render_product_page(product)


@bp.route(f"/catalog/products/<{ID}:product_id>/variants/<{ID}:variant_id>/edit", endpoint="edit_variant")
@require_permission(CATALOG_WRITE)
def edit_variant(product_id, variant_id):
    """The row as a form; as a page, the product page with that row open for editing."""
    product, variant = product_and_variant(product_id, variant_id)
    form = VariantRowForm.for_variant(variant, formdata=None, can_price=current_identity_can(CATALOG_PRICES))
    if wants_fragment(f"variant-{variant_id}"):
        return render_block(
            PAGE_TEMPLATE, "variant_form_row", **product_context(product, variant=variant, row_form=form)
        )
    return render_product_page(product, editing_id=variant.id, row_form=form)


@bp.route(
    f"/catalog/products/<{ID}:product_id>/variants/<{ID}:variant_id>",
    methods=["POST"],
    endpoint="save_variant",
)
@require_permission(CATALOG_WRITE)
def save_variant(product_id, variant_id):
    product, variant = product_and_variant(product_id, variant_id)
    can_price = current_identity_can(CATALOG_PRICES)
    prefix = f"v{variant.id}-"
    if not can_price and any(f"{prefix}{name}" in request.form for name in PRICE_FIELDS):
        raise PermissionDenied(f"Changing prices needs the permission “{CATALOG_PRICES}”.")
    form = VariantRowForm.for_variant(variant, can_price=can_price)
    if form.validate_on_submit():
        try:
            with transaction():
                services.update_variant(
                    variant, form.changes(), actor=current_user, reason="edited in the portal"
                )
        except (InvalidInput, Conflict) as error:
            product, variant = product_and_variant(product_id, variant_id)
            place_errors(form, error, variant_error_fields(form))
        else:
            message = f"Saved {variant.title} ({variant.sku})."
            if not is_htmx():
                flash(message, "success")
                return redirect(row_anchor(product_id, variant_id))
            # The row as shown, with the product's facts (its price range may have moved)
            # and a status line swapped in beside it.
            product = services.get_product(product_id)
            variant = next(v for v in product.variants if v.id == variant_id)
            return render_blocks(
                PAGE_TEMPLATE,
                ["variant_row", "product_facts", "variant_status"],
                **product_context(
                    product,
                    variant=variant,
                    facts_out_of_band=True,
                    status_out_of_band=True,
                    row_message=message,
                ),
            )
    if is_htmx():
        response = make_response(
            render_block(
                PAGE_TEMPLATE, "variant_form_row", **product_context(product, variant=variant, row_form=form)
            ),
            422,
        )
        response.headers["HX-Retarget"] = f"#variant-{variant_id}"
        response.headers["HX-Reswap"] = "outerHTML"
        return response
    return render_product_page(product, editing_id=variant.id, row_form=form, status=422)


# --- Whole-variant actions -----------------------------------------------------------------


@bp.route(
    f"/catalog/products/<{ID}:product_id>/variants/generate", methods=["POST"], endpoint="generate_variants"
)
@require_permission(CATALOG_WRITE)
def generate_variants(product_id):
    product = services.get_product(product_id)
    form = GenerateVariantsForm()
    if form.validate_on_submit():
        try:
            with transaction():
                created = services.generate_variants(
                    product,
                    actor=current_user,
                    price=form.price.data,
                    sku_prefix=form.sku_prefix.data or None,
                )
        except (InvalidInput, Conflict) as error:
            product = services.get_product(product_id)
            place_errors(form, error)
        else:
            if created:
                flash(
                    f"Generated {len(created)} variant{'' if len(created) == 1 else 's'} of {product.name}.",
                    "success",
                )
            else:
                flash(f"Every combination of options of {product.name} has its variant already.", "info")
            return redirect(url_for("catalog.product", product_id=product_id, _anchor="variants"))
    return render_product_page(product, generate_form=form, status=422)


@bp.route(f"/catalog/products/<{ID}:product_id>/variants", methods=["POST"], endpoint="add_variant")
@require_permission(CATALOG_WRITE)
def add_variant(product_id):
    product = services.get_product(product_id)
    form = AddVariantForm.for_product(product)
    if form.validate_on_submit():
        try:
            with transaction():
                variant = services.add_variant(product, form.variant_input(), actor=current_user)
        except (InvalidInput, Conflict) as error:
            product = services.get_product(product_id)
            place_errors(form, error, form.error_fields())
        else:
            flash(f"Added {variant.title} ({variant.sku}) to {product.name}.", "success")
            return redirect(row_anchor(product_id, variant.id))
    return render_product_page(product, add_form=form, status=422)


@bp.route(
    f"/catalog/products/<{ID}:product_id>/variants/<{ID}:variant_id>/deactivate",
    methods=["POST"],
    endpoint="deactivate_variant",
)
@require_permission(CATALOG_WRITE)
def deactivate_variant(product_id, variant_id):
    _product, variant = product_and_variant(product_id, variant_id)
    label = f"{variant.title} ({variant.sku})"
    try:
        with transaction():
            services.update_variant(variant, {"is_active": False}, actor=current_user)
    except (InvalidInput, Conflict) as error:
        flash(f"{label} stays active: {error.detail}", "error")
    else:
        flash(f"{label} is deactivated: customers can no longer buy it.", "success")
    return redirect(row_anchor(product_id, variant_id))


@bp.route(
    f"/catalog/products/<{ID}:product_id>/variants/<{ID}:variant_id>/delete",
    methods=["POST"],
    endpoint="delete_variant",
)
@require_permission(CATALOG_WRITE)
def delete_variant(product_id, variant_id):
    product, variant = product_and_variant(product_id, variant_id)
    label = f"{variant.title} ({variant.sku})"
    try:
        with transaction():
            services.delete_variant(variant, actor=current_user)
    except Conflict as error:
        flash(f"{label} is not deleted. {error.detail}", "error")
        return redirect(row_anchor(product_id, variant_id))
    flash(f"Deleted {label} from {product.name}.", "success")
    return redirect(url_for("catalog.product", product_id=product_id, _anchor="variants"))


# --- Price history -------------------------------------------------------------------------


@bp.route(f"/catalog/products/<{ID}:product_id>/variants/<{ID}:variant_id>/prices", endpoint="variant_prices")
@require_permission(CATALOG_READ)
def variant_prices(product_id, variant_id):
    """Who changed the variant's prices, when, from what to what: a page, or the panel
    on the product page."""
    product, variant = product_and_variant(product_id, variant_id)
    changes = queries.price_history(variant.id)
    user_ids = {change.changed_by_id for change in changes if change.changed_by_id is not None}
    who = (
        dict(db.session.execute(select(User.id, User.name).where(User.id.in_(user_ids))).all())
        if user_ids
        else {}
    )
    context = {
        "product": product,
        "variant": variant,
        "changes": changes,
        "who": who,
        "field_labels": PRICE_FIELD_LABELS,
    }
    if wants_fragment("price-history"):
        return render_block(HISTORY_TEMPLATE, "history", **context)
    return render_template(HISTORY_TEMPLATE, **context)
