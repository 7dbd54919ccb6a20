"""Variants and options of a product: adding, generating, changing and removing variants,
the price ledger they write, and the product summary (price range, search text) they keep.

Every price a variant gets or changes to is recorded in `price_changes` (who, when, old,
new), starting with its first price, so reports can read the price in force at any date.
"""

from __future__ import annotations

import html
import itertools
from decimal import Decimal

import nh3
from markdown_it import MarkdownIt
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.blueprints.catalog import validation
from app.blueprints.catalog.inputs import VARIANT_FIELDS, VariantInput
from app.blueprints.catalog.models import (
    PRICE_FIELDS,
    Product,
    ProductOption,
    ProductOptionValue,
    Variant,
)
from app.blueprints.catalog.pricing import record_first_prices, record_price_change
from app.blueprints.catalog.stock import stock_view
from app.blueprints.catalog.validation import FieldErrors
from app.core import audit, events
from app.core.errors import Conflict, InvalidInput
from app.core.transaction import savepoint
from app.extensions import db

_markdown = MarkdownIt("commonmark", {"html": False})
MAX_DESCRIPTION_WORDS_CHARS = 10_000  # of the plain description kept for search
AUDITED_VARIANT_FIELDS = VARIANT_FIELDS


# ---- the product summary -----------------------------------------------------------------


def plain_text(markdown: str) -> str:
    """Markdown as the words a reader sees (no markup, no link targets)."""
    rendered = nh3.clean(_markdown.render(markdown or ""), tags=set())
    return " ".join(html.unescape(rendered).split())


def search_text_of(product: Product) -> str:
    parts = [product.name]
    for variant in product.variants:
        parts.append(variant.sku)
        if variant.barcode:
            parts.append(variant.barcode)
    if product.brand is not None:
        parts.append(product.brand.name)
    parts.append(plain_text(product.description)[:MAX_DESCRIPTION_WORDS_CHARS])
    parts.extend(attribute.value for attribute in product.attributes)
    # Option values too, so "red shirt" finds the shirt that comes in red.
    parts.extend(value.value for option in product.options for value in option.values)
    return " ".join(" ".join(part.split()) for part in parts if part).lower()


def refresh_product_summary(product: Product) -> None:
    """Keep min/max price (of active variants) and search_text in step with the product."""
    prices = [
        variant.price for variant in product.variants if variant.is_active and variant.price is not None
    ]
    product.min_price = min(prices) if prices else None
    product.max_price = max(prices) if prices else None
    product.search_text = search_text_of(product)


# ---- checks shared by create_product and the variant use cases ----------------------------


def option_pairs(product: Product) -> list[tuple[str, list[str]]]:
    return [(option.name, [value.value for value in option.values]) for option in product.options]


def resolve_options(
    pairs: list[tuple[str, list[str]]], chosen: dict[str, str], field: str, errors: FieldErrors
) -> tuple[str, list[tuple[str, str]]]:
    """The option key of a variant's option values: they must name exactly the product's
    options, each with one of its values."""
    chosen = {str(name).strip(): str(value).strip() for name, value in (chosen or {}).items()}
    names = [name for name, _ in pairs]
    if set(chosen) != set(names):
        expected = ", ".join(names) if names else "no options (this product has none)"
        errors.add(field, f"Give a value for exactly these options: {expected}.")
        return "", []
    resolved = []
    for name, values in pairs:
        if chosen[name] not in values:
            errors.add(field, f"“{chosen[name]}” is not a value of {name}.")
        resolved.append((name, chosen[name]))
    return validation.option_key(resolved), resolved


def check_unique_identifiers(
    candidates: list[tuple[str, str | None, str | None]], errors: FieldErrors, *, exclude_ids=()
) -> None:
    """SKUs and barcodes unique within the input and against every other variant:
    `candidates` are (field prefix, sku, barcode); one query per kind."""
    for kind in ("sku", "barcode"):
        position = 1 if kind == "sku" else 2
        values = [(item[0], item[position]) for item in candidates if item[position]]
        seen: dict[str, str] = {}
        for prefix, value in values:
            if value in seen:
                errors.add(validation.prefixed(prefix, kind), f"“{value}” is given twice.")
            seen.setdefault(value, prefix)
        if not seen:
            continue
        column = getattr(Variant, kind)
        query = select(column).where(column.in_(list(seen)))
        if exclude_ids:
            query = query.where(Variant.id.not_in(list(exclude_ids)))
        for taken in db.session.scalars(query):
            label = "SKU" if kind == "sku" else "barcode"
            errors.add(validation.prefixed(seen[taken], kind), f"Another variant has the {label} “{taken}”.")


def variant_values(data: VariantInput) -> dict:
    return {name: getattr(data, name) for name in VARIANT_FIELDS}


def build_variant(product: Product, clean: dict, resolved: list[tuple[str, str]], key: str) -> Variant:
    values_by_pair = {
        (option.name, value.value): value for option in product.options for value in option.values
    }
    variant = Variant(
        option_key=key,
        position=max((v.position for v in product.variants), default=-1) + 1,
        **{name: clean[name] for name in VARIANT_FIELDS},
    )
    variant.option_values = [values_by_pair[pair] for pair in resolved]
    product.variants.append(variant)
    return variant


def product_changed(product: Product) -> None:
    events.emit("catalog.product_changed", product_id=product.id)


# ---- removing what was never stocked -------------------------------------------------------


def has_stock(variant_ids: list[int]) -> bool:
    availability = stock_view().availability(variant_ids)
    return any(item.available > 0 for item in availability.values())


def delete_if_never_stocked(obj, variant_ids: list[int]) -> bool:
    """Delete `obj` (a product or variant) unless its variants were ever stocked: the
    inventory ledger, backorders and receipts refer to variants with RESTRICT foreign keys,
    so the database itself tells us, without this domain reading inventory tables."""
    if has_stock(variant_ids):
        return False
    try:
        with savepoint():
            db.session.delete(obj)
            db.session.flush()
    except IntegrityError:
        return False
    return True


def retire_default_variant(product: Product, *, actor) -> None:
    """Once a product has option variants, its default variant (no options) goes; one that
    was ever stocked stays for its history, deactivated."""
    default = next((v for v in product.variants if v.option_key == ""), None)
    if default is None or not any(v.option_key for v in product.variants):
        return
    sku = default.sku
    default_id = default.id
    if delete_if_never_stocked(default, [default.id]):
        if default in product.variants:
            product.variants.remove(default)
        audit.record(
            "catalog.variant.deleted",
            actor=actor,
            target_type="Variant",
            target_id=default_id,
            summary=f"Removed default variant {sku} of {product.name}",
        )
    elif default.is_active:
        default.is_active = False
        audit.record(
            "catalog.variant.deactivated",
            actor=actor,
            target=default,
            summary=f"Deactivated default variant {sku} of {product.name}",
        )


# ---- use cases ---------------------------------------------------------------------------


def set_options(product: Product, options: dict[str, list[str]], *, actor) -> Product:
    """Make the product's option types and values these (in this order). New types and
    values are added; renaming is not a thing (add the new, remove the old); removing a
    value or type that a variant uses is a Conflict. When a type is added to a product that
    already has option variants, they take its first value."""
    errors = FieldErrors()
    wanted = validation.option_definitions(options, errors)
    errors.raise_if_any()
    before = option_pairs(product)
    used_value_ids = {value.id for variant in product.variants for value in variant.option_values}
    wanted_names = {name for name, _ in wanted}
    for option in list(product.options):
        keep = dict(wanted).get(option.name)
        gone = [value for value in option.values if keep is None or value.value not in keep]
        in_use = [value.value for value in gone if value.id in used_value_ids]
        if in_use:
            # Deactivating does not free a value (an inactive variant keeps its options), so
            # the message names the one thing that does.
            raise Conflict(
                f"Variants use {option.name} “{in_use[0]}”: delete those variants first "
                "(a deactivated variant still uses it).",
                code="option_value_in_use",
            )
        if option.name not in wanted_names:
            product.options.remove(option)
        else:
            for value in gone:
                option.values.remove(value)
    existing = {option.name: option for option in product.options}
    option_variants = [v for v in product.variants if v.option_key]
    for position, (name, values) in enumerate(wanted):
        option = existing.get(name)
        if option is None:
            option = ProductOption(name=name)
            product.options.append(option)
            option.values = [ProductOptionValue(value=value, position=i) for i, value in enumerate(values)]
            for variant in option_variants:
                variant.option_values.append(option.values[0])
        else:
            known = {value.value: value for value in option.values}
            option.values = [known.get(value) or ProductOptionValue(value=value) for value in values]
            for index, value in enumerate(option.values):
                value.position = index
        option.position = position
    product.options.sort(key=lambda option: option.position)
    db.session.flush()
    _rekey(product)
    refresh_product_summary(product)
    db.session.flush()
    audit.record_change(
        "catalog.product.options_changed",
        actor=actor,
        target=product,
        before={"options": before},
        after={"options": option_pairs(product)},
        summary=f"Changed the options of {product.name}",
    )
    product_changed(product)
    return product


def _rekey(product: Product) -> None:
    """Recompute option keys after the option order changed (values themselves did not)."""
    order = {option.id: option.position for option in product.options}
    for variant in product.variants:
        if not variant.option_values:
            continue
        values = sorted(variant.option_values, key=lambda value: order[value.option_id])
        variant.option_key = validation.option_key([(value.option.name, value.value) for value in values])


def generate_variants(
    product: Product, *, actor, price: Decimal, sku_prefix: str | None = None
) -> list[Variant]:
    """Create a variant for every missing combination of option values, priced `price`,
    with SKUs "<PREFIX>-<VALUE1>-<VALUE2>" made unique; returns the new variants."""
    errors = FieldErrors()
    amount = validation.money(price, "price", errors, required=True)
    prefix = validation.sku_part(sku_prefix.strip() if sku_prefix and sku_prefix.strip() else product.slug)
    if not product.options:
        errors.add("options", "Add options with values before generating variants.")
    errors.raise_if_any()
    existing_keys = {variant.option_key for variant in product.variants}
    combinations = itertools.product(*[[(o.name, v.value) for v in o.values] for o in product.options])
    missing = [
        list(combo) for combo in combinations if validation.option_key(list(combo)) not in existing_keys
    ]
    skus = _unique_skus([_generated_sku(prefix, combo) for combo in missing])
    created = []
    for combo, sku in zip(missing, skus, strict=True):
        clean = variant_values(VariantInput(sku=sku, price=amount))
        created.append(build_variant(product, clean, combo, validation.option_key(combo)))
    db.session.flush()
    record_first_prices(created, actor=actor)
    retire_default_variant(product, actor=actor)
    refresh_product_summary(product)
    db.session.flush()
    if created:
        audit.record(
            "catalog.variants.generated",
            actor=actor,
            target=product,
            summary=f"Generated {len(created)} variants of {product.name}",
            skus=[variant.sku for variant in created],
        )
        product_changed(product)
    return created


def _generated_sku(prefix: str, combo: list[tuple[str, str]]) -> str:
    return "-".join([prefix, *(validation.sku_part(value) for _, value in combo)])[: validation.MAX_SKU]


def _unique_skus(wanted: list[str]) -> list[str]:
    """`wanted`, with "-2", "-3"... added where a SKU is taken (in the database or earlier
    in the list); one query for the candidates."""
    if not wanted:
        return []
    taken = set(db.session.scalars(select(Variant.sku).where(Variant.sku.in_(wanted))))
    result = []
    for sku in wanted:
        candidate, number = sku, 2
        while candidate in taken:
            suffix = f"-{number}"
            candidate = sku[: validation.MAX_SKU - len(suffix)] + suffix
            number += 1
            if number % 50 == 0:  # rare: refresh what is taken with this stem
                taken |= set(db.session.scalars(select(Variant.sku).where(Variant.sku.like(f"{sku}-%"))))
        taken.add(candidate)
        result.append(candidate)
    return result


def add_variant(product: Product, data: VariantInput, *, actor) -> Variant:
    """One more variant: its option values name exactly the product's options, its
    combination is new, its SKU and barcode are unique."""
    errors = FieldErrors()
    clean = validation.variant_fields(variant_values(data), "", errors)
    key, resolved = resolve_options(option_pairs(product), data.options, "options", errors)
    if not errors.errors.get("options") and key in {variant.option_key for variant in product.variants}:
        errors.add("options", "A variant with these option values exists already.")
    check_unique_identifiers([("", clean.get("sku"), clean.get("barcode"))], errors)
    errors.raise_if_any()
    variant = build_variant(product, clean, resolved, key)
    db.session.flush()
    record_first_prices([variant], actor=actor)
    retire_default_variant(product, actor=actor)
    refresh_product_summary(product)
    db.session.flush()
    audit.record(
        "catalog.variant.created",
        actor=actor,
        target=variant,
        summary=f"Added variant {variant.sku} ({variant.title}) to {product.name}",
    )
    product_changed(product)
    return variant


def update_variant(variant: Variant, changes: dict, *, actor, reason: str = "") -> Variant:
    """Change the fields given (any VariantInput field but options). Each price field that
    changes gets a price_changes row; the product's price range follows."""
    unknown = sorted(set(changes) - set(VARIANT_FIELDS))
    if unknown:
        raise InvalidInput(
            "Some fields cannot be changed here.",
            errors={name: ["Unknown or read-only field."] for name in unknown},
        )
    errors = FieldErrors()
    current = {name: getattr(variant, name) for name in VARIANT_FIELDS}
    clean = validation.variant_fields({**current, **changes}, "", errors)
    if "sku" in changes or "barcode" in changes:
        check_unique_identifiers(
            [
                (
                    "",
                    clean["sku"] if "sku" in changes else None,
                    clean["barcode"] if "barcode" in changes else None,
                )
            ],
            errors,
            exclude_ids=[variant.id],
        )
    errors.raise_if_any()
    product = variant.product
    if (
        clean["is_active"] is False
        and variant.is_active
        and product.status == "active"
        and not any(v.is_active for v in product.variants if v is not variant)
    ):
        raise Conflict(
            "An active product needs an active variant: archive the product first.",
            code="last_active_variant",
        )
    before = {name: current[name] for name in changes}
    for name in changes:
        setattr(variant, name, clean[name])
    changed_prices = [name for name in PRICE_FIELDS if name in changes and current[name] != clean[name]]
    for name in changed_prices:
        record_price_change(variant, name, current[name], clean[name], actor=actor, reason=reason)
    refresh_product_summary(product)
    db.session.flush()
    entry = audit.record_change(
        "catalog.variant.updated",
        actor=actor,
        target=variant,
        before=before,
        after={name: getattr(variant, name) for name in changes},
        summary=f"Updated variant {variant.sku} of {product.name}",
    )
    if entry is not None:
        product_changed(product)
    if changed_prices:
        events.emit("catalog.price_changed", variant_ids=[variant.id])
    return variant


def delete_variant(variant: Variant, *, actor) -> None:
    """Remove a variant that was never stocked and is not its product's last one;
    otherwise Conflict: deactivate it instead."""
    product = variant.product
    if len(product.variants) <= 1:
        raise Conflict(
            "A product keeps at least one variant: deactivate it or archive the product instead.",
            code="last_variant",
        )
    if (
        product.status == "active"
        and variant.is_active
        and not any(v.is_active for v in product.variants if v is not variant)
    ):
        raise Conflict(
            "An active product needs an active variant: archive the product first.",
            code="last_active_variant",
        )
    sku, variant_id = variant.sku, variant.id
    if not delete_if_never_stocked(variant, [variant.id]):
        raise Conflict(f"Variant {sku} has stock history: deactivate it instead.", code="variant_was_stocked")
    if variant in product.variants:
        product.variants.remove(variant)
    refresh_product_summary(product)
    db.session.flush()
    audit.record(
        "catalog.variant.deleted",
        actor=actor,
        target_type="Variant",
        target_id=variant_id,
        summary=f"Deleted variant {sku} of {product.name}",
    )
    product_changed(product)
