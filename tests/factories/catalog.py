"""Factories for the catalog and inventory: rows as the services would leave them
(a default variant, the product's price range and search text filled in)."""

from __future__ import annotations

from decimal import Decimal

import factory

from app.blueprints.catalog.models import Brand, Category, Product, ProductCategory, Variant
from app.blueprints.inventory.models import StockLevel, StockLocation
from app.core.timeutil import utcnow
from app.extensions import db


class _Factory(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class CategoryFactory(_Factory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")

    @factory.post_generation
    def fill_path(obj, create, extracted, **kwargs):
        """The materialized path the category services keep: ancestors' ids, then its own."""
        if create:
            db.session.flush()
            prefix = obj.parent.path if obj.parent is not None else "/"
            obj.path = f"{prefix}{obj.id}/"
            obj.depth = prefix.count("/") - 1
            db.session.flush()


class BrandFactory(_Factory):
    class Meta:
        model = Brand

    name = factory.Sequence(lambda n: f"Brand {n}")
    slug = factory.Sequence(lambda n: f"brand-{n}")


class ProductFactory(_Factory):
    """An active product with one default variant priced `price` (SKU from the slug)."""

    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    status = "active"
    description = "A fine product."
    published_at = factory.LazyFunction(utcnow)

    @factory.post_generation
    def categories(obj, create, extracted, **kwargs):
        for position, category in enumerate(extracted or ()):
            obj.category_links.append(ProductCategory(category_id=category.id, position=position))

    @factory.post_generation
    def default_variant(obj, create, extracted, **kwargs):
        if extracted is False:
            return
        price = obj._price
        obj.variants.append(Variant(sku=f"SKU-{obj.slug}".upper(), price=price))
        obj.min_price = obj.max_price = price
        obj.search_text = f"{obj.name} SKU-{obj.slug} {obj.description}".lower()
        if create:
            db.session.flush()

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # `price` is the default variant's, not a product column.
        price = kwargs.pop("price", Decimal("19.90"))
        obj = super()._create(model_class, *args, **kwargs)
        obj._price = price
        return obj


class LocationFactory(_Factory):
    class Meta:
        model = StockLocation

    code = factory.Sequence(lambda n: f"WH{n}")
    name = factory.Sequence(lambda n: f"Warehouse {n}")


def stock(variant: Variant, location: StockLocation, on_hand: int, reserved: int = 0) -> StockLevel:
    """A stock level without its ledger: for read-side tests only (services write both)."""
    level = StockLevel(variant_id=variant.id, location_id=location.id, on_hand=on_hand, reserved=reserved)
    db.session.add(level)
    db.session.flush()
    return level


def product_with_variants(
    options: dict[str, list[str]],
    *,
    price: Decimal = Decimal("10.00"),
    prices: dict[tuple[str, ...], Decimal] | None = None,
    inactive: tuple[tuple[str, ...], ...] = (),
    sku_prefix: str | None = None,
    **product_fields,
) -> Product:
    """An active product with `options` (name -> values) and one variant per combination
    of their values, as the services leave it: option key "Colour=Red|Size=M", SKU
    "<PREFIX>-RED-M", the price from `prices` (keyed by the combination's values) or
    `price`, combinations in `inactive` not for sale; price range and search text set."""
    import itertools

    from app.blueprints.catalog.models import ProductOption, ProductOptionValue

    product = ProductFactory(default_variant=False, **product_fields)
    for position, (name, values) in enumerate(options.items()):
        product.options.append(
            ProductOption(
                name=name,
                position=position,
                values=[ProductOptionValue(value=value, position=i) for i, value in enumerate(values)],
            )
        )
    db.session.flush()
    prefix = sku_prefix or product.slug.upper()
    choices = [[(option.name, value) for value in option.values] for option in product.options]
    for position, combination in enumerate(itertools.product(*choices)):
        values = tuple(value.value for _, value in combination)
        product.variants.append(
            Variant(
                sku="-".join([prefix, *values]).upper(),
                price=(prices or {}).get(values, price),
                option_key="|".join(f"{name}={value.value}" for name, value in combination),
                option_values=[value for _, value in combination],
                position=position,
                is_active=values not in inactive,
            )
        )
    for_sale = [variant.price for variant in product.variants if variant.is_active]
    product.min_price, product.max_price = min(for_sale), max(for_sale)
    skus = " ".join(variant.sku for variant in product.variants)
    product.search_text = f"{product.name} {skus} {product.description}".lower()
    db.session.flush()
    return product
