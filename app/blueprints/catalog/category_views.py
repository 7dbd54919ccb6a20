"""Portal pages of the category tree and of brands.

The tree page shows every category with its product count (one query for all counts);
the arrows move a category among its siblings with HTMX. A category's own page edits it,
moves it anywhere (with its subtree) and deletes it. Brands are rows renamed in place.
"""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from jinja2_fragments.flask import render_block, render_blocks
from sqlalchemy import func, select

from app.blueprints.catalog import CATALOG_READ, CATALOG_WRITE, bp, brands, categories
from app.blueprints.catalog.forms import (
    BrandForm,
    CategoryEditForm,
    CategoryForm,
    CategoryMoveForm,
    optional_int,
    place_errors,
)
from app.blueprints.catalog.models import Category, Product, ProductCategory
from app.blueprints.catalog.views import ID
from app.core.errors import Conflict, InvalidInput
from app.core.htmx import is_htmx, wants_fragment
from app.core.navigation import register_nav
from app.core.permissions import current_identity_can, require_permission
from app.core.transaction import transaction
from app.extensions import db

register_nav("Catalog", "Categories", "catalog.categories", CATALOG_READ, order=20)
register_nav("Catalog", "Brands", "catalog.brands", CATALOG_READ, order=30)

TREE_TEMPLATE = "catalog/categories.html"
BRANDS_TEMPLATE = "catalog/brands.html"


# --- The tree ------------------------------------------------------------------------------


def product_counts() -> dict[int, int]:
    """Products directly in each category, for the whole tree in one query."""
    rows = db.session.execute(
        select(ProductCategory.category_id, func.count()).group_by(ProductCategory.category_id)
    )
    return dict(rows.all())


def tree_context(form: CategoryForm | None = None, **extra) -> dict:
    """The tree page's context; the add form's parent choices come from the same tree."""
    tree = categories.category_tree()
    form = form if form is not None else CategoryForm(formdata=None)
    form.set_choices(tree)
    return {
        "tree": tree,
        "form": form,
        "counts": product_counts(),
        "total": db.session.scalar(select(func.count()).select_from(Category)),
        "can_write": current_identity_can(CATALOG_WRITE),
        **extra,
    }


@bp.route("/catalog/categories", endpoint="categories")
@require_permission(CATALOG_READ)
def category_tree_page():
    return render_template(TREE_TEMPLATE, **tree_context())


@bp.route("/catalog/categories", methods=["POST"], endpoint="create_category")
@require_permission(CATALOG_WRITE)
def create_category():
    form = CategoryForm()
    form.set_choices(categories.category_tree())
    if form.validate_on_submit():
        try:
            with transaction():
                category = categories.create_category(
                    actor=current_user, name=form.name.data, parent_id=optional_int(form.parent.data)
                )
        except (InvalidInput, Conflict) as error:
            place_errors(form, error, form.error_fields())
        else:
            flash(f"Added the category {category.name}.", "success")
            return redirect(url_for("catalog.categories"))
    return render_template(TREE_TEMPLATE, **tree_context(form)), 422


def sibling_position(category: Category, direction: str) -> int:
    return max(category.position - 1, 0) if direction == "up" else category.position + 1


@bp.route(f"/catalog/categories/<{ID}:category_id>/move", methods=["POST"], endpoint="move_category")
@require_permission(CATALOG_WRITE)
def move_category(category_id):
    """Up/down among its siblings (the tree's arrows), or to a parent and position (the
    category page's form, whose position counts from 1)."""
    category = categories.get_category(category_id)
    direction = request.form.get("direction")
    form = None
    if direction in ("up", "down"):
        parent_id, position = category.parent_id, sibling_position(category, direction)
    else:
        form = CategoryMoveForm()
        form.set_choices(categories.category_tree(), category)
        if not form.validate_on_submit():
            return render_category_page(category, move_form=form, status=422)
        parent_id, position = optional_int(form.parent.data), form.position.data - 1
    name = category.name
    try:
        with transaction():
            categories.move_category(category, actor=current_user, parent_id=parent_id, position=position)
    except (InvalidInput, Conflict) as error:
        if form is not None:
            place_errors(form, error, form.error_fields())
            return render_category_page(categories.get_category(category_id), move_form=form, status=422)
        message, kind = f"{name} did not move: {error.detail}", "error"
    else:
        message, kind = f"Moved {name}.", "success"
    if direction and wants_fragment("category-tree"):
        return render_block(
            TREE_TEMPLATE, "tree", **tree_context(tree_message=message, tree_message_kind=kind)
        )
    flash(message, kind)
    if direction:
        return redirect(url_for("catalog.categories"))
    return redirect(url_for("catalog.category", category_id=category_id))


# --- One category --------------------------------------------------------------------------


def ancestors_trail(category: Category) -> list[tuple[str, str]]:
    ids = category.ancestor_ids
    if not ids:
        return []
    by_id = {c.id: c for c in db.session.scalars(select(Category).where(Category.id.in_(ids)))}
    return [(by_id[i].name, url_for("catalog.category", category_id=i)) for i in ids if i in by_id]


def render_category_page(category: Category, *, form=None, move_form=None, status: int = 200):
    if form is None:
        form = CategoryEditForm(formdata=None, obj=category)
    if move_form is None:
        move_form = CategoryMoveForm(
            formdata=None, data={"parent": str(category.parent_id or ""), "position": category.position + 1}
        )
        move_form.set_choices(categories.category_tree(), category)
    children = list(
        db.session.scalars(
            select(Category).where(Category.parent_id == category.id).order_by(Category.position)
        )
    )
    product_count = db.session.scalar(
        select(func.count()).select_from(ProductCategory).where(ProductCategory.category_id == category.id)
    )
    page = render_template(
        "catalog/category.html",
        category=category,
        form=form,
        move_form=move_form,
        children=children,
        product_count=product_count,
        trail=ancestors_trail(category),
        can_write=current_identity_can(CATALOG_WRITE),
    )
    return page, status


@bp.route(f"/catalog/categories/<{ID}:category_id>", endpoint="category")
@require_permission(CATALOG_READ)
def category_page(category_id):
    return render_category_page(categories.get_category(category_id))


@bp.route(f"/catalog/categories/<{ID}:category_id>", methods=["POST"], endpoint="update_category")
@require_permission(CATALOG_WRITE)
def update_category(category_id):
    category = categories.get_category(category_id)
    form = CategoryEditForm()
    if form.validate_on_submit():
        try:
            with transaction():
                categories.update_category(
                    category,
                    actor=current_user,
                    name=form.name.data,
                    slug=form.slug.data,
                    description=form.description.data or "",
                    is_active=form.is_active.data,
                )
        except (InvalidInput, Conflict) as error:
            place_errors(form, error)
            category = categories.get_category(category_id)
        else:
            flash(f"Saved the category {category.name}.", "success")
            return redirect(url_for("catalog.category", category_id=category_id))
    return render_category_page(category, form=form, status=422)


@bp.route(f"/catalog/categories/<{ID}:category_id>/delete", methods=["POST"], endpoint="delete_category")
@require_permission(CATALOG_WRITE)
def delete_category(category_id):
    category = categories.get_category(category_id)
    name = category.name
    try:
        with transaction():
            categories.delete_category(category, actor=current_user)
    except Conflict as error:
        flash(f"{name} is not deleted. {error.detail}", "error")
        return redirect(url_for("catalog.category", category_id=category_id))
    flash(f"Deleted the category {name}. Its products stay in the catalog.", "success")
    return redirect(url_for("catalog.categories"))


# --- Brands --------------------------------------------------------------------------------


def brand_counts() -> dict[int, int]:
    rows = db.session.execute(
        select(Product.brand_id, func.count()).where(Product.brand_id.is_not(None)).group_by(Product.brand_id)
    )
    return dict(rows.all())


def brands_context(**extra) -> dict:
    return {
        "brands": brands.list_brands(),
        "counts": brand_counts(),
        "can_write": current_identity_can(CATALOG_WRITE),
        "editing_id": None,
        "row_form": None,
        "form": BrandForm(formdata=None),
        **extra,
    }


def brand_row_form(brand, **kwargs) -> BrandForm:
    form = BrandForm(prefix=f"b{brand.id}", obj=brand, **kwargs)
    form.name.label.text, form.slug.label.text = f"Name of {brand.name}", f"Slug of {brand.name}"
    return form


@bp.route("/catalog/brands", endpoint="brands")
@require_permission(CATALOG_READ)
def brand_list():
    return render_template(BRANDS_TEMPLATE, **brands_context())


@bp.route("/catalog/brands", methods=["POST"], endpoint="create_brand")
@require_permission(CATALOG_WRITE)
def create_brand():
    form = BrandForm()
    if form.validate_on_submit():
        try:
            with transaction():
                brand = brands.create_brand(
                    actor=current_user, name=form.name.data, slug=form.slug.data or None
                )
        except (InvalidInput, Conflict) as error:
            place_errors(form, error)
        else:
            flash(f"Added the brand {brand.name}.", "success")
            return redirect(url_for("catalog.brands"))
    return render_template(BRANDS_TEMPLATE, **brands_context(form=form)), 422


@bp.route(f"/catalog/brands/<{ID}:brand_id>", endpoint="brand")
@require_permission(CATALOG_READ)
def brand_row(brand_id):
    """The brand's row as shown (what "Cancel" swaps back in); as a page, the brand list."""
    brand = brands.get_brand(brand_id)
    if wants_fragment(f"brand-{brand_id}"):
        return render_block(BRANDS_TEMPLATE, "brand_row", **brands_context(), brand=brand)
    return render_template(BRANDS_TEMPLATE, **brands_context())


@bp.route(f"/catalog/brands/<{ID}:brand_id>/edit", endpoint="edit_brand")
@require_permission(CATALOG_WRITE)
def edit_brand(brand_id):
    brand = brands.get_brand(brand_id)
    form = brand_row_form(brand, formdata=None)
    context = brands_context(editing_id=brand.id, row_form=form)
    if wants_fragment(f"brand-{brand_id}"):
        return render_block(BRANDS_TEMPLATE, "brand_form_row", **context, brand=brand)
    return render_template(BRANDS_TEMPLATE, **context)


@bp.route(f"/catalog/brands/<{ID}:brand_id>", methods=["POST"], endpoint="save_brand")
@require_permission(CATALOG_WRITE)
def save_brand(brand_id):
    brand = brands.get_brand(brand_id)
    form = brand_row_form(brand)
    if form.validate_on_submit():
        try:
            with transaction():
                brands.update_brand(brand, actor=current_user, name=form.name.data, slug=form.slug.data or "")
        except (InvalidInput, Conflict) as error:
            place_errors(form, error)
            brand = brands.get_brand(brand_id)
        else:
            message = f"Saved the brand {brand.name}."
            if not is_htmx():
                flash(message, "success")
                return redirect(url_for("catalog.brands", _anchor=f"brand-{brand_id}"))
            return render_blocks(
                BRANDS_TEMPLATE,
                ["brand_row", "brand_status"],
                **brands_context(),
                brand=brand,
                status_out_of_band=True,
                row_message=message,
            )
    context = brands_context(editing_id=brand.id, row_form=form)
    if is_htmx():
        response = make_response(render_block(BRANDS_TEMPLATE, "brand_form_row", **context, brand=brand), 422)
        response.headers["HX-Retarget"] = f"#brand-{brand_id}"
        response.headers["HX-Reswap"] = "outerHTML"
        return response
    return render_template(BRANDS_TEMPLATE, **context), 422


@bp.route(f"/catalog/brands/<{ID}:brand_id>/active", methods=["POST"], endpoint="brand_active")
@require_permission(CATALOG_WRITE)
def set_brand_active(brand_id):
    brand = brands.get_brand(brand_id)
    active = request.form.get("active") == "1"
    with transaction():
        brands.update_brand(brand, actor=current_user, is_active=active)
    if active:
        flash(f"{brand.name} is active again: it can be chosen for products.", "success")
    else:
        flash(f"{brand.name} is deactivated: it is no longer offered for products.", "success")
    return redirect(url_for("catalog.brands", _anchor=f"brand-{brand_id}"))


@bp.route(f"/catalog/brands/<{ID}:brand_id>/delete", methods=["POST"], endpoint="delete_brand")
@require_permission(CATALOG_WRITE)
def delete_brand(brand_id):
    brand = brands.get_brand(brand_id)
    name = brand.name
    with transaction():
        brands.delete_brand(brand, actor=current_user)
    flash(f"Deleted the brand {name}. Its products stay in the catalog without a brand.", "success")
    return redirect(url_for("catalog.brands"))
