"""Portal pages of products: the list with search and filters, the new-product form, and
the product page (key facts, status actions, details, options). The variant matrix is in
variant_views.py, categories and brands in category_views.py, bulk prices in price_views.py.

Fragments and pages come from one template: an HTMX request that targets a block's element
gets that block, any other request the whole page, so every URL works as a page.
"""

from __future__ import annotations

import math

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from jinja2_fragments.flask import render_block
from markupsafe import Markup
from sqlalchemy import func, select

from app.blueprints.catalog import (
    CATALOG_IMPORT,
    CATALOG_PRICES,
    CATALOG_READ,
    CATALOG_WRITE,
    bp,
    brands,
    categories,
    queries,
    services,
    validation,
)
from app.blueprints.catalog.forms import TAX_CLASS_LABELS, ProductFilterForm, place_errors
from app.blueprints.catalog.inputs import VariantInput
from app.blueprints.catalog.models import Variant
from app.blueprints.catalog.product_forms import (
    GenerateVariantsForm,
    NewProductForm,
    OptionsForm,
    ProductDetailsForm,
    option_error_fields,
)
from app.blueprints.catalog.rendering import markdown_to_safe_html
from app.blueprints.catalog.variant_forms import AddVariantForm
from app.core.errors import Conflict, InvalidInput
from app.core.htmx import wants_fragment
from app.core.navigation import register_nav
from app.core.pagination import paginate
from app.core.permissions import current_identity_can, require_permission
from app.core.transaction import transaction
from app.extensions import db

register_nav("Catalog", "Products", "catalog.products", CATALOG_READ, order=10)

ID = "int(max=2147483647)"  # larger ids cannot exist: a 404, not a database error
LIST_TEMPLATE = "catalog/products.html"
PAGE_TEMPLATE = "catalog/product.html"


# --- Shared by the catalog's views -----------------------------------------------------


@bp.after_request
def vary_on_htmx(response):
    """The same URL answers with a fragment or a page: caches must keep them apart."""
    response.vary.add("HX-Request")
    return response


def currency() -> str:
    return current_app.config["STORE_CURRENCY"]


def list_url(**changes) -> str:
    """The list with the current search and filters, some of them changed (page 1)."""
    args = {key: value for key, value in request.args.items() if key != "page"}
    args.update(changes)
    return url_for("catalog.products", **{key: value for key, value in args.items() if value})


def variant_counts(product_ids: list[int]) -> dict[int, int]:
    """Variants per product for a page of products, in one query."""
    if not product_ids:
        return {}
    rows = db.session.execute(
        select(Variant.product_id, func.count())
        .where(Variant.product_id.in_(product_ids))
        .group_by(Variant.product_id)
    )
    return dict(rows.all())


# --- The list ----------------------------------------------------------------------------


@bp.route("/catalog/products", endpoint="products")
@require_permission(CATALOG_READ)
def product_list():
    form = ProductFilterForm(formdata=request.args)
    form.set_choices(tree=categories.category_tree(), brands=brands.list_brands())
    valid = form.validate()
    page, counts = None, {}
    if valid:
        page = paginate(
            queries.product_list_query(form.to_filter(form.sort_key)), per_page=form.rows_per_page
        )
        counts = variant_counts([product.id for product in page.items])
    context = {
        "form": form,
        "page": page,
        "sort": form.sort_key,
        "list_url": list_url,
        "variant_counts": counts,
        "currency": currency(),
        "can_write": current_identity_can(CATALOG_WRITE),
        "can_prices": current_identity_can(CATALOG_PRICES),
        "can_import": current_identity_can(CATALOG_IMPORT),
    }
    status = 200 if valid else 422
    if wants_fragment("product-results"):
        return render_block(LIST_TEMPLATE, "results", **context), status
    return render_template(LIST_TEMPLATE, **context), status


# --- A new product -----------------------------------------------------------------------


def generated_variants(form: NewProductForm, options: dict[str, list[str]]) -> list[VariantInput]:
    """One variant per combination of option values, named as generate_variants() names
    them ("PREFIX-S-RED"); a SKU that is taken comes back as an error on the prefix."""
    prefix = (form.sku_prefix.data or "").strip() or (form.slug.data or "").strip()
    prefix = validation.sku_part(prefix or validation.slugify(form.name.data or "") or "product")
    combinations = [[]]
    for values in options.values():
        combinations = [[*combo, value] for combo in combinations for value in values]
    names = list(options)
    return [
        VariantInput(
            sku="-".join([prefix, *(validation.sku_part(value) for value in combo)])[: validation.MAX_SKU],
            price=form.base_price.data,
            options=dict(zip(names, combo, strict=True)),
        )
        for combo in combinations
    ]


def show_new_product_error(form: NewProductForm, error) -> None:
    fields = form.error_fields()
    errors = dict(error.errors or {})
    if form.with_options:
        # Generated SKUs are the prefix's doing: say so there.
        sku_messages = [m for name, ms in errors.items() if name.startswith("variants.") for m in ms]
        errors = {name: ms for name, ms in errors.items() if not name.startswith("variants.")}
        if sku_messages:
            errors["sku_prefix"] = [*sku_messages, "Choose another SKU prefix."]
    place_errors(form, InvalidInput(error.detail, errors=errors), option_error_fields(fields, form.options))


@bp.route("/catalog/products/new", methods=["GET", "POST"], endpoint="new_product")
@require_permission(CATALOG_WRITE)
def new_product():
    form = NewProductForm()
    form.set_choices(tree=categories.category_tree(), brands=brands.list_brands())
    if form.validate_on_submit():
        options = form.option_map() if form.with_options else {}
        variants = generated_variants(form, options) if form.with_options else [form.single_variant()]
        try:
            with transaction():
                product = services.create_product(
                    form.product_input(form.status.data),
                    actor=current_user,
                    options=options,
                    variants=variants,
                )
        except (InvalidInput, Conflict) as error:
            show_new_product_error(form, error)
        else:
            count = len(variants)
            flash(f"{product.name} is created with {count} variant{'' if count == 1 else 's'}.", "success")
            return redirect(url_for("catalog.product", product_id=product.id))
    return render_template("catalog/product_new.html", form=form, currency=currency()), (
        422 if form.errors else 200
    )


# --- The product page --------------------------------------------------------------------


def missing_combinations(product) -> int:
    wanted = math.prod(len(option.values) for option in product.options) if product.options else 0
    existing = {variant.option_key for variant in product.variants if variant.option_key}
    return max(wanted - len(existing), 0)


def product_context(product, **overrides) -> dict:
    """What the product page shows; forms not given are fresh (not read from the request,
    which may hold another form's post)."""
    can_write = current_identity_can(CATALOG_WRITE)
    context = {
        "product": product,
        "can_write": can_write,
        "can_prices": current_identity_can(CATALOG_PRICES),
        "currency": currency(),
        "tax_class_label": TAX_CLASS_LABELS.get(product.tax_class, product.tax_class),
        "active_variants": sum(1 for variant in product.variants if variant.is_active),
        "description_html": Markup(markdown_to_safe_html(product.description)),  # noqa: S704 (cleaned by nh3)
        "missing_count": missing_combinations(product),
        "editing_id": None,
        "row_form": None,
    }
    if can_write:
        if "details_form" not in overrides:
            details = ProductDetailsForm.for_product(product, formdata=None)
            details.set_choices(
                tree=categories.category_tree(), brands=brands.list_brands(), brand_id=product.brand_id
            )
            context["details_form"] = details
        context.setdefault("options_form", OptionsForm.for_product(product, formdata=None))
        context.setdefault("generate_form", GenerateVariantsForm(formdata=None))
        context.setdefault("add_form", AddVariantForm.for_product(product, formdata=None))
    context.update(overrides)
    return context


def render_product_page(product, *, status: int = 200, **overrides):
    return render_template(PAGE_TEMPLATE, **product_context(product, **overrides)), status


@bp.route(f"/catalog/products/<{ID}:product_id>", endpoint="product")
@require_permission(CATALOG_READ)
def product_page(product_id):
    return render_product_page(services.get_product(product_id))


@bp.route(f"/catalog/products/<{ID}:product_id>/details", methods=["POST"], endpoint="update_product")
@require_permission(CATALOG_WRITE)
def update_product(product_id):
    product = services.get_product(product_id)
    form = ProductDetailsForm()
    form.set_choices(tree=categories.category_tree(), brands=brands.list_brands(), brand_id=product.brand_id)
    if form.validate_on_submit():
        try:
            with transaction():
                services.update_product(product, form.product_input(product.status), actor=current_user)
        except (InvalidInput, Conflict) as error:
            db.session.expire_all()  # the page shows the product as stored, the form as typed
            product = services.get_product(product_id)
            place_errors(form, error, form.error_fields())
        else:
            flash(f"Saved the details of {product.name}.", "success")
            return redirect(url_for("catalog.product", product_id=product_id, _anchor="details"))
    form.add_blank_rows()
    return render_product_page(product, details_form=form, status=422)


@bp.route(f"/catalog/products/<{ID}:product_id>/status", methods=["POST"], endpoint="product_status")
@require_permission(CATALOG_WRITE)
def change_status(product_id):
    product = services.get_product(product_id)
    status = request.form.get("status", "")
    try:
        with transaction():
            services.set_product_status(product, status, actor=current_user)
    except (InvalidInput, Conflict) as error:
        flash(f"{product.name} stays {product.status}: {error.detail}", "error")
    else:
        messages = {
            "active": f"{product.name} is active: it is on sale on the storefront.",
            "archived": f"{product.name} is archived: it is no longer on the storefront.",
            "draft": f"{product.name} is a draft again: it is no longer on the storefront.",
        }
        flash(messages.get(status, f"{product.name} is {status}."), "success")
    return redirect(url_for("catalog.product", product_id=product_id))


@bp.route(f"/catalog/products/<{ID}:product_id>/delete", methods=["GET", "POST"], endpoint="delete_product")
@require_permission(CATALOG_WRITE)
def delete_product(product_id):
    product = services.get_product(product_id)
    if request.method == "POST":  # the CSRF token was checked before the view ran
        name = product.name
        try:
            with transaction():
                services.delete_product(product, actor=current_user)
        except Conflict as error:
            flash(f"{name} is not deleted. {error.detail}", "error")
            return redirect(url_for("catalog.product", product_id=product_id))
        flash(f"{name} and its variants are deleted.", "success")
        return redirect(url_for("catalog.products"))
    if product.status != "draft":
        flash("Only drafts can be deleted; archive the product to take it off the storefront.", "error")
        return redirect(url_for("catalog.product", product_id=product_id))
    return render_template("catalog/product_delete.html", product=product)


@bp.route(f"/catalog/products/<{ID}:product_id>/options", methods=["POST"], endpoint="save_options")
@require_permission(CATALOG_WRITE)
def save_options(product_id):
    product = services.get_product(product_id)
    form = OptionsForm()
    if form.validate_on_submit():
        try:
            with transaction():
                services.set_options(product, form.option_map(), actor=current_user)
        except (InvalidInput, Conflict) as error:
            db.session.expire_all()
            product = services.get_product(product_id)
            place_errors(form, error, option_error_fields(form.error_fields(), form.options))
        else:
            flash(f"Saved the options of {product.name}.", "success")
            return redirect(url_for("catalog.product", product_id=product_id, _anchor="options"))
    form.add_blank_rows()
    return render_product_page(product, options_form=form, status=422)
