"""Product rules: unique slugs and SKUs, valid money, options and variants that do not
collide, nothing half-saved, audited changes, events after commit, the kept summary."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.blueprints.catalog import services
from app.blueprints.catalog.inputs import AttributeInput, ImageInput, ProductInput, VariantInput
from app.blueprints.catalog.models import PriceChange, Product, Variant
from app.core import events
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.models import AuditEntry
from app.core.transaction import transaction
from tests.factories.auth import UserFactory
from tests.factories.catalog import BrandFactory, CategoryFactory, LocationFactory, ProductFactory


def simple(name="Blue shirt", *, sku="SHIRT-1", price="19.90", actor=None, **fields):
    return services.create_product(
        ProductInput(name=name, **fields), actor=actor, variants=[VariantInput(sku=sku, price=Decimal(price))]
    )


def with_options(name="Tee", *, actor=None, **fields):
    return services.create_product(
        ProductInput(name=name, **fields),
        actor=actor,
        options={"Size": ["S", "M"], "Colour": ["Red", "Blue"]},
        variants=[
            VariantInput(sku="TEE-S-RED", price=Decimal("10"), options={"Size": "S", "Colour": "Red"}),
            VariantInput(sku="TEE-M-BLUE", price=Decimal("12.5"), options={"Colour": "Blue", "Size": "M"}),
        ],
    )


def errors_of(call, *args, **kwargs) -> dict:
    with pytest.raises(InvalidInput) as error:
        call(*args, **kwargs)
    return error.value.errors


def product_count() -> int:
    from app.extensions import db

    return db.session.scalar(select(func.count()).select_from(Product))


# ---- creating ----------------------------------------------------------------------------


def test_a_simple_product_gets_one_default_variant_and_its_summary(db):
    brand = BrandFactory(name="Acme")
    product = simple(
        description="Soft **cotton**, [see](http://x.example)",
        brand_id=brand.id,
        attributes=[AttributeInput("Material", "Organic Cotton")],
    )
    (variant,) = product.variants
    assert variant.option_key == "" and variant.title == "Default"
    assert product.min_price == product.max_price == Decimal("19.90")
    assert product.slug == "blue-shirt"
    text = product.search_text
    assert "blue shirt" in text and "shirt-1" in text and "acme" in text
    assert "soft cotton, see" in text and "organic cotton" in text
    assert "**" not in text and "http" not in text


def test_slug_is_generated_from_the_name_with_a_suffix_when_taken(db):
    first = simple("Crème Brûlée", sku="A1")
    second = simple("Crème Brûlée", sku="A2")
    third = simple("Crème Brûlée", sku="A3")
    assert [first.slug, second.slug, third.slug] == ["creme-brulee", "creme-brulee-2", "creme-brulee-3"]


def test_a_given_slug_must_be_free_and_well_formed(db):
    simple(slug="taken", sku="A1")
    assert "slug" in errors_of(simple, slug="taken", sku="A2")
    assert "slug" in errors_of(simple, slug="Not A Slug!", sku="A3")


def test_sku_must_be_unique_against_the_database_and_within_the_input(db):
    simple(sku="SKU-1")
    assert errors_of(simple, "Other", sku="SKU-1") == {
        "variants.0.sku": ["Another variant has the SKU “SKU-1”."]
    }
    errors = errors_of(
        services.create_product,
        ProductInput(name="Two"),
        actor=None,
        options={"Size": ["S", "M"]},
        variants=[
            VariantInput(sku="DUP", price=Decimal(1), options={"Size": "S"}),
            VariantInput(sku="DUP", price=Decimal(1), options={"Size": "M"}),
        ],
    )
    assert "variants.1.sku" in errors


def test_barcodes_are_unique(db):
    services.create_product(
        ProductInput(name="A"), actor=None, variants=[VariantInput(sku="A", price=Decimal(1), barcode="871")]
    )
    errors = errors_of(
        services.create_product,
        ProductInput(name="B"),
        actor=None,
        variants=[VariantInput(sku="B", price=Decimal(1), barcode="871")],
    )
    assert "variants.0.barcode" in errors


@pytest.mark.parametrize(
    ("variant", "field"),
    [
        (VariantInput(sku="X", price=Decimal("-1")), "variants.0.price"),
        (
            VariantInput(sku="X", price=Decimal("10"), compare_at_price=Decimal("9.99")),
            "variants.0.compare_at_price",
        ),
        (VariantInput(sku="X", price=Decimal("10"), cost_price=Decimal("-0.01")), "variants.0.cost_price"),
        (VariantInput(sku="", price=Decimal("10")), "variants.0.sku"),
        (VariantInput(sku="HAS SPACE", price=Decimal("10")), "variants.0.sku"),
        (VariantInput(sku="X", price=Decimal("10"), backorder_policy="maybe"), "variants.0.backorder_policy"),
        (VariantInput(sku="X", price=Decimal("10"), backorder_limit=-1), "variants.0.backorder_limit"),
    ],
)
def test_bad_variant_fields_are_field_errors_and_nothing_is_saved(db, variant, field):
    errors = errors_of(services.create_product, ProductInput(name="Bad"), actor=None, variants=[variant])
    assert field in errors
    assert product_count() == 0


def test_prices_are_rounded_half_up_to_cents(db):
    product = simple(price="10.005")
    assert product.variants[0].price == Decimal("10.01")


def test_unknown_category_brand_and_tax_class_are_field_errors(db):
    errors = errors_of(simple, category_ids=[987654], brand_id=987654, tax_class="luxury")
    assert set(errors) >= {"category_ids", "brand_id", "tax_class"}
    assert product_count() == 0


def test_a_product_needs_a_variant_and_without_options_exactly_one(db):
    assert "variants" in errors_of(services.create_product, ProductInput(name="None"), actor=None)
    errors = errors_of(
        services.create_product,
        ProductInput(name="Two"),
        actor=None,
        variants=[VariantInput(sku="A", price=Decimal(1)), VariantInput(sku="B", price=Decimal(1))],
    )
    assert "variants" in errors


def test_variants_must_name_exactly_the_options_with_known_values(db):
    def create(*variants):
        return services.create_product(
            ProductInput(name="Tee"), actor=None, options={"Size": ["S", "M"]}, variants=list(variants)
        )

    assert "variants.0.options" in errors_of(create, VariantInput(sku="A", price=Decimal(1)))
    assert "variants.0.options" in errors_of(
        create, VariantInput(sku="A", price=Decimal(1), options={"Size": "XL"})
    )
    assert "variants.0.options" in errors_of(
        create, VariantInput(sku="A", price=Decimal(1), options={"Size": "S", "Colour": "Red"})
    )


def test_colliding_option_combinations_are_refused(db):
    errors = errors_of(
        services.create_product,
        ProductInput(name="Tee"),
        actor=None,
        options={"Size": ["S"]},
        variants=[
            VariantInput(sku="A", price=Decimal(1), options={"Size": "S"}),
            VariantInput(sku="B", price=Decimal(1), options={"Size": "S"}),
        ],
    )
    assert "variants.1.options" in errors
    assert product_count() == 0


def test_option_keys_follow_the_product_option_order(db):
    product = with_options()
    assert [v.option_key for v in product.variants] == ["Size=S|Colour=Red", "Size=M|Colour=Blue"]
    assert product.variants[1].title == "M / Blue"
    assert (product.min_price, product.max_price) == (Decimal("10.00"), Decimal("12.50"))


def test_creating_records_the_first_prices_and_audits(db):
    user = UserFactory()
    product = simple(actor=user, sku="AUD-1")
    (change,) = db.session.scalars(
        select(PriceChange).where(PriceChange.variant_id == product.variants[0].id)
    )
    assert (change.old_amount, change.new_amount, change.changed_by_id) == (None, Decimal("19.90"), user.id)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "catalog.product.created"))
    assert entry.actor_id == user.id and entry.target_id == str(product.id)


def test_first_activation_sets_published_at_and_needs_an_active_variant(db):
    product = simple()
    assert product.status == "draft" and product.published_at is None
    services.set_product_status(product, "active", actor=None)
    published = product.published_at
    assert published is not None
    services.set_product_status(product, "archived", actor=None)
    services.set_product_status(product, "active", actor=None)
    assert product.published_at == published
    inactive = services.create_product(
        ProductInput(name="Off"),
        actor=None,
        variants=[VariantInput(sku="OFF", price=Decimal(1), is_active=False)],
    )
    with pytest.raises(Conflict):
        services.set_product_status(inactive, "active", actor=None)
    with pytest.raises(InvalidInput):
        services.set_product_status(product, "gone", actor=None)


def test_events_are_emitted_only_after_commit(db):
    heard = []
    listener = events.subscribe("catalog.product_changed")(lambda event: heard.append(event.payload))
    try:
        with transaction():
            product = simple()
            assert heard == []
        assert heard == [{"product_id": product.id}]
    finally:
        events.LISTENERS["catalog.product_changed"].remove(listener)


# ---- updating and deleting -------------------------------------------------------------


def test_update_replaces_categories_images_and_attributes_and_keeps_the_slug(db):
    shoes, boots = CategoryFactory(), CategoryFactory()
    product = simple(
        category_ids=[shoes.id],
        attributes=[AttributeInput("Material", "Leather"), AttributeInput("Sole", "Rubber")],
        images=[ImageInput("https://img.example/1.jpg", "front")],
    )
    services.update_product(
        product,
        ProductInput(
            name="Blue shirt v2",
            category_ids=[boots.id, shoes.id],
            attributes=[AttributeInput("material", "Suede")],
            images=[ImageInput("/static/a.jpg"), ImageInput("https://img.example/2.jpg", "back")],
        ),
        actor=None,
    )
    db.session.expire_all()
    product = services.get_product(product.id)
    assert product.slug == "blue-shirt"
    assert [link.category_id for link in product.category_links] == [boots.id, shoes.id]
    assert [(a.name, a.value) for a in product.attributes] == [("material", "Suede")]
    assert [i.url for i in product.images] == ["/static/a.jpg", "https://img.example/2.jpg"]
    assert "suede" in product.search_text and "v2" in product.search_text
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "catalog.product.updated"))
    assert set(entry.data["changes"]) >= {"name", "category_ids", "attributes", "images"}


def test_update_with_bad_input_changes_nothing(db):
    product = simple()
    errors = errors_of(services.update_product, product, ProductInput(name="", tax_class="x"), actor=None)
    assert set(errors) == {"name", "tax_class"}
    assert product.name == "Blue shirt"


def test_only_drafts_never_stocked_can_be_deleted(db):
    active = ProductFactory()
    with pytest.raises(Conflict):
        services.delete_product(active, actor=None)
    draft = simple()
    product_id = draft.id
    services.delete_product(draft, actor=None)
    with pytest.raises(NotFound):
        services.get_product(product_id)


def test_a_stocked_draft_cannot_be_deleted(db):
    from app.blueprints.inventory.models import InventoryMovement

    draft = simple()
    location = LocationFactory()
    db.session.add(
        InventoryMovement(
            variant_id=draft.variants[0].id, location_id=location.id, kind="receipt", on_hand_delta=3
        )
    )
    db.session.flush()
    with pytest.raises(Conflict) as error:
        services.delete_product(draft, actor=None)
    assert error.value.code == "product_was_stocked"
    assert services.get_product(draft.id).variants


def test_lookups_raise_not_found(db):
    for call, arg in (
        (services.get_product, 999999),
        (services.get_product_by_slug, "nope"),
        (services.get_variant, 999999),
        (services.get_variant_by_sku, "NOPE"),
    ):
        with pytest.raises(NotFound):
            call(arg)
    product = simple(sku="FIND-ME")
    assert services.get_variant_by_sku("FIND-ME").product_id == product.id
    assert services.get_product_by_slug("blue-shirt") is product


def test_summary_follows_variant_activity(db):
    product = with_options()
    cheap = product.variants[0]
    services.update_variant(cheap, {"is_active": False}, actor=None)
    assert product.min_price == product.max_price == Decimal("12.50")
    assert db.session.scalar(select(Variant.is_active).where(Variant.id == cheap.id)) is False
