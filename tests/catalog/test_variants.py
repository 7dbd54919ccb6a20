"""Options and variants: adding option types and values, generating the missing
combinations, the default variant giving way, price history of single edits."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.blueprints.catalog import services
from app.blueprints.catalog.inputs import ProductInput, VariantInput
from app.blueprints.catalog.models import PriceChange, Variant
from app.blueprints.catalog.queries import price_history
from app.blueprints.inventory.models import InventoryMovement
from app.core import events
from app.core.errors import Conflict, InvalidInput
from app.core.transaction import transaction
from tests.factories.auth import UserFactory
from tests.factories.catalog import LocationFactory


def simple(name="Mug", sku="MUG", price="8.00"):
    return services.create_product(
        ProductInput(name=name), actor=None, variants=[VariantInput(sku=sku, price=Decimal(price))]
    )


def receive(db, variant):
    db.session.add(
        InventoryMovement(
            variant_id=variant.id, location_id=LocationFactory().id, kind="receipt", on_hand_delta=1
        )
    )
    db.session.flush()


def test_generate_creates_every_missing_combination_and_removes_the_default(db):
    product = simple()
    services.set_options(product, {"Size": ["S", "M"], "Colour": ["Dark blue", "Red"]}, actor=None)
    created = services.generate_variants(product, actor=None, price=Decimal("9.5"), sku_prefix="mug")
    assert sorted(v.sku for v in created) == ["MUG-M-DARK-BLUE", "MUG-M-RED", "MUG-S-DARK-BLUE", "MUG-S-RED"]
    assert all(v.option_key for v in product.variants) and len(product.variants) == 4
    assert product.min_price == product.max_price == Decimal("9.50")
    assert services.generate_variants(product, actor=None, price=Decimal("9.5")) == []


def test_generated_skus_are_made_unique(db):
    simple(name="Other", sku="CUP-S")
    product = simple(name="Cup", sku="CUP")
    services.set_options(product, {"Size": ["S"]}, actor=None)
    (created,) = services.generate_variants(product, actor=None, price=Decimal(1), sku_prefix="cup")
    assert created.sku == "CUP-S-2"


def test_a_stocked_default_variant_is_deactivated_not_removed(db):
    product = simple()
    default = product.variants[0]
    receive(db, default)
    services.set_options(product, {"Size": ["S"]}, actor=None)
    services.generate_variants(product, actor=None, price=Decimal(1))
    assert default in product.variants and default.is_active is False
    assert product.min_price == Decimal("1.00")


def test_adding_an_option_type_gives_existing_variants_its_first_value(db):
    product = simple()
    services.set_options(product, {"Size": ["S", "M"]}, actor=None)
    services.generate_variants(product, actor=None, price=Decimal(1))
    services.set_options(product, {"Colour": ["Red", "Blue"], "Size": ["S", "M", "L"]}, actor=None)
    assert sorted(v.option_key for v in product.variants) == ["Colour=Red|Size=M", "Colour=Red|Size=S"]
    new = services.generate_variants(product, actor=None, price=Decimal(2))
    assert len(new) == 4 and len(product.variants) == 6


def test_removing_a_used_option_value_is_a_conflict(db):
    product = simple()
    services.set_options(product, {"Size": ["S", "M"]}, actor=None)
    services.generate_variants(product, actor=None, price=Decimal(1))
    with pytest.raises(Conflict):
        services.set_options(product, {"Size": ["S"]}, actor=None)
    with pytest.raises(Conflict):
        services.set_options(product, {}, actor=None)
    services.set_options(product, {"Size": ["S", "M", "L"]}, actor=None)
    services.set_options(product, {"Size": ["M", "S"]}, actor=None)  # an unused value may go
    assert [v.value for v in product.options[0].values] == ["M", "S"]


def test_a_value_a_deactivated_variant_uses_stays_and_the_message_says_delete(db):
    product = simple()
    services.set_options(product, {"Size": ["S", "M"]}, actor=None)
    medium = next(
        v for v in services.generate_variants(product, actor=None, price=Decimal(1)) if "M" in v.title
    )
    services.update_variant(medium, {"is_active": False}, actor=None)
    with pytest.raises(Conflict) as refused:
        services.set_options(product, {"Size": ["S"]}, actor=None)
    assert refused.value.code == "option_value_in_use"
    assert (
        str(refused.value)
        == "Variants use Size “M”: delete those variants first (a deactivated variant still uses it)."
    )


def test_option_names_and_values_are_checked(db):
    product = simple()
    with pytest.raises(InvalidInput) as error:
        services.set_options(product, {"Size": ["S", "S"], "size": [], "A|B": ["x"]}, actor=None)
    assert set(error.value.errors) >= {
        "options.0.values.1",
        "options.1.name",
        "options.1.values",
        "options.2.name",
    }


def test_add_variant_refuses_a_colliding_combination_and_a_taken_sku(db):
    product = simple()
    services.set_options(product, {"Size": ["S", "M"]}, actor=None)
    services.add_variant(
        product, VariantInput(sku="MUG-S", price=Decimal(3), options={"Size": "S"}), actor=None
    )
    assert [v.sku for v in product.variants] == ["MUG-S"]  # the default went
    with pytest.raises(InvalidInput) as error:
        services.add_variant(
            product, VariantInput(sku="NEW", price=Decimal(3), options={"Size": "S"}), actor=None
        )
    assert "options" in error.value.errors
    with pytest.raises(InvalidInput) as error:
        services.add_variant(
            product, VariantInput(sku="MUG-S", price=Decimal(3), options={"Size": "M"}), actor=None
        )
    assert "sku" in error.value.errors


def test_price_edits_record_who_when_old_and_new_and_emit_after_commit(db):
    user = UserFactory()
    product = simple()
    variant = product.variants[0]
    heard = []
    listener = events.subscribe("catalog.price_changed")(lambda event: heard.append(event.payload))
    try:
        with transaction():
            services.update_variant(
                variant, {"price": Decimal("7.25"), "compare_at_price": Decimal("9")}, actor=user
            )
    finally:
        events.LISTENERS["catalog.price_changed"].remove(listener)
    assert heard == [{"variant_ids": [variant.id]}]
    latest = price_history(variant.id)
    assert [(c.field, c.old_amount, c.new_amount) for c in latest[:2]] == [
        ("compare_at_price", None, Decimal("9.00")),
        ("price", Decimal("8.00"), Decimal("7.25")),
    ] or [(c.field, c.old_amount, c.new_amount) for c in latest[:2]] == [
        ("price", Decimal("8.00"), Decimal("7.25")),
        ("compare_at_price", None, Decimal("9.00")),
    ]
    assert all(c.changed_by_id == user.id for c in latest[:2])
    assert product.min_price == Decimal("7.25")


def test_non_price_edits_write_no_price_history(db):
    variant = simple().variants[0]
    services.update_variant(variant, {"weight_grams": 250, "barcode": "123"}, actor=None)
    rows = db.session.scalars(select(PriceChange).where(PriceChange.variant_id == variant.id)).all()
    assert len(rows) == 1  # the opening price only
    assert "123" in variant.product.search_text


def test_update_variant_checks_fields_together(db):
    variant = simple().variants[0]
    simple(name="Other", sku="TAKEN")
    with pytest.raises(InvalidInput) as error:
        services.update_variant(variant, {"compare_at_price": Decimal("1")}, actor=None)
    assert "compare_at_price" in error.value.errors
    with pytest.raises(InvalidInput) as error:
        services.update_variant(variant, {"sku": "TAKEN", "options": {}}, actor=None)
    assert "options" in error.value.errors
    with pytest.raises(InvalidInput) as error:
        services.update_variant(variant, {"sku": "TAKEN"}, actor=None)
    assert "sku" in error.value.errors
    assert variant.sku == "MUG"


def test_delete_variant_refuses_the_last_and_the_stocked(db):
    product = simple()
    with pytest.raises(Conflict):
        services.delete_variant(product.variants[0], actor=None)
    services.set_options(product, {"Size": ["S", "M"]}, actor=None)
    first, second = services.generate_variants(product, actor=None, price=Decimal(1))
    receive(db, first)
    with pytest.raises(Conflict) as error:
        services.delete_variant(first, actor=None)
    assert error.value.code == "variant_was_stocked"
    second_id = second.id
    services.delete_variant(second, actor=None)
    assert db.session.get(Variant, second_id) is None
    assert [v.sku for v in product.variants] == [first.sku]
