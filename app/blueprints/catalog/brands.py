"""Brands: a unique name and slug each. Products name their brand in their search text,
so renaming or deleting a brand refreshes the search text of its products."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.blueprints.catalog import validation
from app.blueprints.catalog.models import Brand, Product, ProductOption
from app.blueprints.catalog.validation import FieldErrors
from app.blueprints.catalog.variants import refresh_product_summary
from app.core import audit, events
from app.core.errors import NotFound
from app.extensions import db

MAX_NAME = 120
MAX_SLUG = 140


def get_brand(brand_id: int) -> Brand:
    brand = db.session.get(Brand, brand_id) if 0 < brand_id < 2**31 else None
    if brand is None:
        raise NotFound("No such brand.")
    return brand


def list_brands() -> list[Brand]:
    return list(db.session.scalars(select(Brand).order_by(func.lower(Brand.name), Brand.id)))


def _name(raw, errors: FieldErrors, exclude_id: int | None = None) -> str:
    name = validation.text(raw, "name", errors, max_length=MAX_NAME, required=True)
    if name:
        query = select(Brand.id).where(func.lower(Brand.name) == name.lower())
        if exclude_id is not None:
            query = query.where(Brand.id != exclude_id)
        if db.session.scalar(query.limit(1)) is not None:
            errors.add("name", "Another brand has this name.")
    return name


def _slug(raw, name: str, errors: FieldErrors, exclude_id: int | None = None) -> str:
    if not (raw or "").strip():
        return validation.unique_slug(
            Brand, validation.slugify(name, MAX_SLUG - 10), exclude_id=exclude_id, fallback="brand"
        )
    slug = validation.slug_format(raw, "slug", errors, max_length=MAX_SLUG)
    if "slug" not in errors.errors and validation.slug_taken(Brand, slug, exclude_id=exclude_id):
        errors.add("slug", "Another brand has this slug.")
    return slug


def _products_of(brand_id: int) -> list[Product]:
    """The brand's products with what their search text is made of (one round of queries)."""
    return db.session.scalars(
        select(Product)
        .where(Product.brand_id == brand_id)
        .options(
            selectinload(Product.variants),
            selectinload(Product.attributes),
            selectinload(Product.options).selectinload(ProductOption.values),
            selectinload(Product.brand),
        )
    ).all()


def _refresh_products_of(brand_id: int) -> list[int]:
    products = _products_of(brand_id)
    for product in products:
        refresh_product_summary(product)
    return [product.id for product in products]


def create_brand(*, actor, name: str, slug: str | None = None) -> Brand:
    errors = FieldErrors()
    name = _name(name, errors)
    slug = _slug(slug, name, errors)
    errors.raise_if_any()
    brand = Brand(name=name, slug=slug, is_active=True)
    db.session.add(brand)
    db.session.flush()
    audit.record("catalog.brand.created", actor=actor, target=brand, summary=f"Created brand {name}")
    return brand


def update_brand(brand: Brand, *, actor, name=None, slug=None, is_active=None) -> Brand:
    """Change what is given (None: unchanged); a new name is refreshed into product search."""
    errors = FieldErrors()
    before = audit.snapshot(brand, ["name", "slug", "is_active"])
    new_name = _name(name, errors, exclude_id=brand.id) if name is not None else brand.name
    new_slug = _slug(slug, new_name, errors, exclude_id=brand.id) if slug is not None else brand.slug
    errors.raise_if_any()
    brand.name, brand.slug = new_name, new_slug
    if is_active is not None:
        brand.is_active = bool(is_active)
    db.session.flush()
    if new_name != before["name"]:
        for product_id in _refresh_products_of(brand.id):
            events.emit("catalog.product_changed", product_id=product_id)
        db.session.flush()
    audit.record_change(
        "catalog.brand.updated",
        actor=actor,
        target=brand,
        before=before,
        after=audit.snapshot(brand, before),
        summary=f"Updated brand {brand.name}",
    )
    return brand


def delete_brand(brand: Brand, *, actor) -> None:
    """Delete a brand; its products keep no brand."""
    brand_id, name = brand.id, brand.name
    products = _products_of(brand_id)
    for product in products:
        product.brand = None
        refresh_product_summary(product)
    db.session.flush()
    db.session.delete(brand)
    db.session.flush()
    product_ids = [product.id for product in products]
    audit.record(
        "catalog.brand.deleted",
        actor=actor,
        target_type="Brand",
        target_id=brand_id,
        summary=f"Deleted brand {name} ({len(product_ids)} products keep no brand)",
    )
    for product_id in product_ids:
        events.emit("catalog.product_changed", product_id=product_id)
