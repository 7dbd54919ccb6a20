"""Writing one product of a CSV import through the catalog services, all or nothing.

import_checks finds what is wrong before anything is written; the caller runs
`import_group()` in a savepoint, so an error the services raise while writing (their
checks are the last word) rolls the whole product back. Writing compares first and calls a
service only for what differs, so importing the same file twice changes nothing; price
changes go through update_variant, which records them with who and when.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.blueprints.catalog import brands, services
from app.blueprints.catalog.import_checks import (
    GroupFailed,
    Lookup,
    Problems,
    category_ids,
    check_new_product,
    check_rows,
    find_product,
    lookup_for,
    option_map,
    option_names_of,
    plan_variants,
)
from app.blueprints.catalog.import_files import ProductGroup, ProductValues, RowInput
from app.blueprints.catalog.inputs import AttributeInput, ImageInput, ProductInput, VariantInput
from app.blueprints.catalog.models import Product, Variant
from app.core.csv_import import ROW
from app.core.errors import DomainError

__all__ = ["GroupFailed", "GroupResult", "Lookup", "import_group", "lookup_for"]


@dataclass
class GroupResult:
    product: Product
    outcomes: dict[int, str]  # row number -> "created" | "updated" | "unchanged"


def import_group(group: ProductGroup, lookup: Lookup, *, actor) -> GroupResult:
    """Create or update the group's product and variants; GroupFailed when any row is wrong.
    Run it in a savepoint: a failure may come after some writes."""
    problems = Problems(group)
    merged = check_rows(group, problems)
    categories = category_ids(group, merged, lookup, problems)
    product = find_product(group, merged, lookup, problems)
    if product is None:
        return create_product(group, merged, categories, lookup, problems, actor=actor)
    return update_product(group, product, merged, categories, lookup, problems, actor=actor)


def variant_input(row: RowInput) -> VariantInput:
    fields = {name: value for name, value in row.variant.items() if name != "price"}
    return VariantInput(sku=row.sku, price=row.variant.get("price"), options=dict(row.options), **fields)


def resolve_brand(merged: ProductValues, lookup: Lookup, problems: Problems, *, actor, current=None):
    """The brand's id, by name or slug; a brand not known yet is created (brands are a flat
    list of names, unlike categories, whose place in the tree a file cannot tell)."""
    if merged.brand is None:
        return current
    brand = lookup.brands.get(merged.brand.lower()) or lookup.brands.get(merged.brand)
    if brand is None:
        try:
            brand = brands.create_brand(actor=actor, name=merged.brand)
        except DomainError as error:
            for messages in (error.errors or {ROW: [error.detail]}).values():
                for message in messages:
                    problems.add(problems.group.rows[0], "brand", message)
            problems.raise_if_any()
    return brand.id


def create_product(group, merged: ProductValues, categories, lookup, problems: Problems, *, actor):
    check_new_product(group, merged, problems)
    problems.raise_if_any()
    data = ProductInput(
        name=merged.name,
        slug=merged.slug,
        description=merged.description or "",
        status=merged.status or "draft",
        brand_id=resolve_brand(merged, lookup, problems, actor=actor),
        tax_class=merged.tax_class or "standard",
        seo_title=merged.seo_title or "",
        seo_description=merged.seo_description or "",
        category_ids=categories or [],
        images=[ImageInput(url, alt) for url, alt in merged.images or ()],
        attributes=[AttributeInput(name, value) for name, value in merged.attributes or ()],
    )
    names = option_names_of(group)
    try:
        product = services.create_product(
            data,
            actor=actor,
            options=option_map(group, names) if names else None,
            variants=[variant_input(row) for row in group.rows],
        )
    except DomainError as error:
        problems.add_error(group.rows[0], error, rows=group.rows)
        problems.raise_if_any()
        raise
    return GroupResult(product, dict.fromkeys((row.number for row in group.rows), "created"))


def input_of(product: Product) -> ProductInput:
    """The product as it is, in the shape update_product takes."""
    return ProductInput(
        name=product.name,
        slug=product.slug,
        description=product.description,
        status=product.status,
        brand_id=product.brand_id,
        tax_class=product.tax_class,
        seo_title=product.seo_title,
        seo_description=product.seo_description,
        category_ids=[link.category_id for link in product.category_links],
        images=[ImageInput(image.url, image.alt_text) for image in product.images],
        attributes=[AttributeInput(attribute.name, attribute.value) for attribute in product.attributes],
    )


def wanted_input(current: ProductInput, merged: ProductValues, categories, brand_id) -> ProductInput:
    """The product as the file wants it: the columns it gives over what the product is."""
    given = {
        name: value
        for name, value in (
            ("name", merged.name),
            ("description", merged.description),
            ("status", merged.status),
            ("tax_class", merged.tax_class),
            ("seo_title", merged.seo_title),
            ("seo_description", merged.seo_description),
            ("category_ids", categories),
        )
        if value is not None
    }
    if merged.images is not None:
        given["images"] = [ImageInput(url, alt) for url, alt in merged.images]
    if merged.attributes is not None:
        given["attributes"] = [AttributeInput(name, value) for name, value in merged.attributes]
    return replace(current, brand_id=brand_id, **given)


def update_product(group, product: Product, merged, categories, lookup, problems: Problems, *, actor):
    planned = plan_variants(group, product, lookup, problems)
    problems.raise_if_any()
    current = input_of(product)
    wanted = wanted_input(
        current,
        merged,
        categories,
        resolve_brand(merged, lookup, problems, actor=actor, current=product.brand_id),
    )
    order = [option.name for option in product.options] or option_names_of(group)
    current_options = {option.name: [value.value for value in option.values] for option in product.options}
    options = option_map(group, order, current_options)
    options_differ = options != {name: current_options.get(name, []) for name in order}
    outcomes: dict[int, str] = {}
    try:
        # A product that is not to be active may lose its last active variant first; one
        # that is to be active needs its variants in place before it is (re)activated.
        if wanted != current and wanted.status != "active":
            services.update_product(product, wanted, actor=actor)
        if options_differ:
            services.set_options(product, options, actor=actor)
        for row, variant in planned:
            outcomes[row.number] = write_variant(row, variant, product, problems, actor=actor)
        if wanted != current and wanted.status == "active":
            services.update_product(product, wanted, actor=actor)
    except DomainError as error:
        problems.add_error(group.rows[0], error)
        problems.raise_if_any()
        raise
    if (wanted != current or options_differ) and outcomes.get(group.rows[0].number) == "unchanged":
        outcomes[group.rows[0].number] = "updated"  # the product's own change counts on its first row
    return GroupResult(product, outcomes)


def write_variant(row: RowInput, variant: Variant | None, product: Product, problems: Problems, *, actor):
    """ "created", "updated" or "unchanged"; a service's refusal fails the product."""
    try:
        if variant is None:
            services.add_variant(product, variant_input(row), actor=actor)
            return "created"
        changes = {name: value for name, value in row.variant.items() if getattr(variant, name) != value}
        if not changes:
            return "unchanged"
        services.update_variant(variant, changes, actor=actor, reason="CSV import")
        return "updated"
    except DomainError as error:
        problems.add_error(row, error)
        problems.raise_if_any()
        raise
