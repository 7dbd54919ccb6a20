"""Use cases of products and variants (the staff side of the catalog).

Services check every rule before writing, collect field problems into one InvalidInput
(nothing half-saved), audit each change, flush, and emit `catalog.product_changed` /
`catalog.price_changed`, delivered after the caller's commit. They never commit.
Variant and option use cases live in `variants.py` and are importable from here.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.blueprints.catalog import validation
from app.blueprints.catalog.inputs import ProductInput, VariantInput
from app.blueprints.catalog.models import (
    PRODUCT_STATUSES,
    TAX_CLASSES,
    Brand,
    Category,
    Product,
    ProductAttribute,
    ProductCategory,
    ProductImage,
    ProductOption,
    ProductOptionValue,
    Variant,
)
from app.blueprints.catalog.pricing import record_first_prices
from app.blueprints.catalog.validation import FieldErrors
from app.blueprints.catalog.variants import (
    add_variant,
    build_variant,
    check_unique_identifiers,
    delete_if_never_stocked,
    delete_variant,
    generate_variants,
    product_changed,
    refresh_product_summary,
    resolve_options,
    set_options,
    update_variant,
    variant_values,
)
from app.core import audit, events
from app.core.errors import Conflict, NotFound
from app.core.timeutil import utcnow
from app.extensions import db

__all__ = [
    "add_variant",
    "create_product",
    "delete_product",
    "delete_variant",
    "generate_variants",
    "get_product",
    "get_product_by_slug",
    "get_variant",
    "get_variant_by_sku",
    "refresh_product_summary",
    "set_options",
    "set_product_status",
    "update_product",
    "update_variant",
]

MAX_NAME = 200
MAX_SLUG = 200
MAX_DESCRIPTION = 50_000
IMAGE_URL_PREFIXES = ("https://", "http://", "/")


# ---- reads -------------------------------------------------------------------------------


def _product_query():
    return select(Product).options(
        selectinload(Product.variants).selectinload(Variant.option_values),
        selectinload(Product.options).selectinload(ProductOption.values),
        selectinload(Product.images),
        selectinload(Product.attributes),
        selectinload(Product.category_links).joinedload(ProductCategory.category),
        selectinload(Product.brand),
    )


def get_product(product_id: int) -> Product:
    product = db.session.scalar(_product_query().where(Product.id == product_id))
    if product is None:
        raise NotFound("No such product.")
    return product


def get_product_by_slug(slug: str) -> Product:
    product = db.session.scalar(_product_query().where(Product.slug == slug))
    if product is None:
        raise NotFound("No such product.")
    return product


def get_variant(variant_id: int) -> Variant:
    variant = db.session.get(Variant, variant_id)
    if variant is None:
        raise NotFound("No such variant.")
    return variant


def get_variant_by_sku(sku: str) -> Variant:
    variant = db.session.scalar(select(Variant).where(Variant.sku == (sku or "").strip()))
    if variant is None:
        raise NotFound("No variant has this SKU.")
    return variant


# ---- product fields ----------------------------------------------------------------------


def _clean_product(data: ProductInput, errors: FieldErrors, product: Product | None = None) -> dict:
    """The product's own fields, checked; brand and categories loaded (unknown ones are
    field errors, not a 404: they are part of the input)."""
    clean = {
        "name": validation.text(data.name, "name", errors, max_length=MAX_NAME, required=True),
        "description": validation.text(data.description, "description", errors, max_length=MAX_DESCRIPTION),
        "seo_title": validation.text(data.seo_title, "seo_title", errors, max_length=200),
        "seo_description": validation.text(data.seo_description, "seo_description", errors, max_length=320),
    }
    if data.status not in PRODUCT_STATUSES:
        errors.add("status", f"Choose one of: {', '.join(PRODUCT_STATUSES)}.")
    clean["status"] = data.status
    if data.tax_class not in TAX_CLASSES:
        errors.add("tax_class", f"Choose one of: {', '.join(TAX_CLASSES)}.")
    clean["tax_class"] = data.tax_class
    clean["slug"] = _clean_slug(data.slug, clean["name"], errors, product)
    clean["brand"] = None
    if data.brand_id is not None:
        clean["brand"] = db.session.get(Brand, data.brand_id) if _db_int(data.brand_id) else None
        if clean["brand"] is None:
            errors.add("brand_id", "No such brand.")
    clean["category_ids"] = _clean_category_ids(data.category_ids, errors)
    clean["images"] = []
    for index, image in enumerate(data.images or ()):
        url = validation.text(image.url, f"images.{index}.url", errors, max_length=2000, required=True)
        if url and not url.startswith(IMAGE_URL_PREFIXES):
            errors.add(f"images.{index}.url", "Give an http(s) URL or a path starting with /.")
        alt = validation.text(image.alt_text, f"images.{index}.alt_text", errors, max_length=300)
        clean["images"].append((url, alt))
    clean["attributes"] = []
    seen: set[str] = set()
    for index, attribute in enumerate(data.attributes or ()):
        name = validation.text(
            attribute.name, f"attributes.{index}.name", errors, max_length=100, required=True
        )
        value = validation.text(
            attribute.value, f"attributes.{index}.value", errors, max_length=500, required=True
        )
        if name.lower() in seen:
            errors.add(f"attributes.{index}.name", f"“{name}” is listed twice.")
        seen.add(name.lower())
        clean["attributes"].append((name, value))
    return clean


def _db_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31


def _clean_slug(raw: str | None, name: str, errors: FieldErrors, product: Product | None) -> str:
    exclude = product.id if product is not None else None
    if not (raw or "").strip():
        if product is not None:
            return product.slug  # a public identifier: kept unless a new one is given
        return validation.unique_slug(Product, validation.slugify(name, MAX_SLUG - 10), fallback="product")
    slug = validation.slug_format(raw, "slug", errors, max_length=MAX_SLUG)
    if "slug" not in errors.errors and validation.slug_taken(Product, slug, exclude_id=exclude):
        errors.add("slug", "Another product has this slug.")
    return slug


def _clean_category_ids(category_ids, errors: FieldErrors) -> list[int]:
    wanted = list(dict.fromkeys(category_ids or ()))
    valid = [cid for cid in wanted if _db_int(cid)]
    known = set(db.session.scalars(select(Category.id).where(Category.id.in_(valid)))) if valid else set()
    unknown = [str(cid) for cid in wanted if cid not in known]
    if unknown:
        errors.add("category_ids", f"Unknown categories: {', '.join(unknown)}.")
    return [cid for cid in wanted if cid in known]


def _apply_product(product: Product, clean: dict) -> None:
    for name in ("name", "slug", "description", "tax_class", "seo_title", "seo_description"):
        setattr(product, name, clean[name])
    product.brand = clean["brand"]
    links = {link.category_id: link for link in product.category_links}
    # Links and attributes are matched to the rows they replace: deleting and re-inserting
    # the same key in one flush would trip the unique constraints (inserts run first).
    product.category_links = [
        links.get(cid) or ProductCategory(category_id=cid) for cid in clean["category_ids"]
    ]
    for position, link in enumerate(product.category_links):
        link.position = position
    product.images = [
        ProductImage(url=url, alt_text=alt, position=position)
        for position, (url, alt) in enumerate(clean["images"])
    ]
    attributes = {attribute.name.lower(): attribute for attribute in product.attributes}
    kept = []
    for position, (name, value) in enumerate(clean["attributes"]):
        attribute = attributes.get(name.lower()) or ProductAttribute(name=name)
        attribute.name, attribute.value, attribute.position = name, value, position
        kept.append(attribute)
    product.attributes = kept


def _apply_status(product: Product, status: str) -> None:
    product.status = status
    if status == "active" and product.published_at is None:
        product.published_at = utcnow()


def _has_active_variant(product: Product) -> bool:
    return any(variant.is_active for variant in product.variants)


def snapshot(product: Product) -> dict:
    return {
        "name": product.name,
        "slug": product.slug,
        "description": product.description,
        "status": product.status,
        "brand_id": product.brand.id if product.brand is not None else None,
        "tax_class": product.tax_class,
        "seo_title": product.seo_title,
        "seo_description": product.seo_description,
        "category_ids": [link.category_id for link in product.category_links],
        "images": [image.url for image in product.images],
        "attributes": [f"{a.name}: {a.value}" for a in product.attributes],
    }


# ---- use cases ---------------------------------------------------------------------------


def create_product(
    data: ProductInput,
    *,
    actor,
    options: dict[str, list[str]] | None = None,
    variants: list[VariantInput] | None = None,
) -> Product:
    """A new product with its options and variants. Without options it has exactly one
    (default) variant, so a price and SKU are required. Each variant names exactly the
    product's options with known values; combinations, SKUs and barcodes are unique;
    prices are not negative and compare-at is not below price. All or nothing."""
    errors = FieldErrors()
    clean = _clean_product(data, errors)
    pairs = validation.option_definitions(options or {}, errors)
    variants = list(variants or ())
    if not variants:
        errors.add("variants", "Give at least one variant with its SKU and price.")
    elif not pairs and len(variants) > 1:
        errors.add("variants", "A product without options has exactly one variant.")
    prepared, keys = [], set()
    for index, item in enumerate(variants):
        prefix = f"variants.{index}"
        values = validation.variant_fields(variant_values(item), prefix, errors)
        key, resolved = resolve_options(pairs, item.options, f"{prefix}.options", errors)
        if key in keys and f"{prefix}.options" not in errors.errors:
            errors.add(f"{prefix}.options", "Another variant has the same option values.")
        keys.add(key)
        prepared.append((values, resolved, key))
    check_unique_identifiers(
        [
            (f"variants.{i}", values.get("sku"), values.get("barcode"))
            for i, (values, _, _) in enumerate(prepared)
        ],
        errors,
    )
    if clean["status"] == "active" and variants and not any(item.is_active for item in variants):
        errors.add("status", "An active product needs an active variant.")
    errors.raise_if_any()

    product = Product(status="draft")
    db.session.add(product)
    _apply_product(product, clean)
    product.options = [
        ProductOption(
            name=name,
            position=position,
            values=[ProductOptionValue(value=value, position=i) for i, value in enumerate(values)],
        )
        for position, (name, values) in enumerate(pairs)
    ]
    new_variants = [build_variant(product, values, resolved, key) for values, resolved, key in prepared]
    _apply_status(product, clean["status"])
    db.session.flush()
    record_first_prices(new_variants, actor=actor)
    refresh_product_summary(product)
    db.session.flush()
    audit.record(
        "catalog.product.created",
        actor=actor,
        target=product,
        summary=f"Created product {product.name} ({len(new_variants)} variants)",
        slug=product.slug,
    )
    product_changed(product)
    return product


def update_product(product: Product, data: ProductInput, *, actor) -> Product:
    """Change the product's fields; categories, images and attributes are replaced by
    those given. The slug stays unless a new one is given."""
    errors = FieldErrors()
    clean = _clean_product(data, errors, product)
    if clean["status"] == "active" and not _has_active_variant(product):
        errors.add("status", "An active product needs an active variant.")
    errors.raise_if_any()
    before = snapshot(product)
    _apply_product(product, clean)
    _apply_status(product, clean["status"])
    refresh_product_summary(product)
    db.session.flush()
    entry = audit.record_change(
        "catalog.product.updated",
        actor=actor,
        target=product,
        before=before,
        after=snapshot(product),
        summary=f"Updated product {product.name}",
    )
    if entry is not None:
        product_changed(product)
    return product


def set_product_status(product: Product, status: str, *, actor) -> Product:
    """Draft, active or archived. Only a product with an active variant can be active;
    the first activation sets published_at."""
    if status not in PRODUCT_STATUSES:
        raise validation.invalid("status", f"Choose one of: {', '.join(PRODUCT_STATUSES)}.")
    if status == "active" and not _has_active_variant(product):
        raise Conflict("An active product needs an active variant.", code="no_active_variant")
    old = product.status
    if old == status:
        return product
    _apply_status(product, status)
    db.session.flush()
    audit.record_change(
        "catalog.product.status_changed",
        actor=actor,
        target=product,
        before={"status": old},
        after={"status": status},
        summary=f"{product.name}: {old} -> {status}",
    )
    product_changed(product)
    return product


def delete_product(product: Product, *, actor) -> None:
    """Only a draft that was never stocked can be deleted; anything else is archived."""
    if product.status != "draft":
        raise Conflict("Only draft products can be deleted: archive it instead.", code="product_not_draft")
    product_id, name = product.id, product.name
    if not delete_if_never_stocked(product, [variant.id for variant in product.variants]):
        raise Conflict("The product has stock history: archive it instead.", code="product_was_stocked")
    audit.record(
        "catalog.product.deleted",
        actor=actor,
        target_type="Product",
        target_id=product_id,
        summary=f"Deleted draft product {name}",
    )
    events.emit("catalog.product_changed", product_id=product_id)
