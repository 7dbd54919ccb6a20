"""The category tree (materialized paths, ordered siblings, unique slugs) and brands."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.blueprints.catalog import brands, categories, services
from app.blueprints.catalog.inputs import ProductInput, VariantInput
from app.blueprints.catalog.models import Category, ProductCategory
from app.core.errors import Conflict, InvalidInput, NotFound


def create(name, parent=None, **kwargs):
    return categories.create_category(
        actor=None, name=name, parent_id=parent.id if parent else None, **kwargs
    )


def test_paths_depths_and_positions_of_new_categories(db):
    clothes = create("Clothes")
    shirts = create("Shirts", clothes)
    polos = create("Polo shirts", shirts)
    trousers = create("Trousers", clothes)
    assert (clothes.path, clothes.depth) == (f"/{clothes.id}/", 0)
    assert (polos.path, polos.depth) == (f"/{clothes.id}/{shirts.id}/{polos.id}/", 2)
    assert polos.ancestor_ids == [clothes.id, shirts.id]
    assert (shirts.position, trousers.position) == (0, 1)
    assert set(db.session.scalars(categories.descendant_ids(shirts))) == {shirts.id, polos.id}


def test_slugs_are_generated_unique_and_given_ones_must_be_free(db):
    assert [create("Sale").slug, create("Sale").slug] == ["sale", "sale-2"]
    with pytest.raises(InvalidInput) as error:
        create("Other", slug="sale")
    assert "slug" in error.value.errors
    with pytest.raises(InvalidInput) as error:
        categories.create_category(actor=None, name="", parent_id=987654)
    assert set(error.value.errors) == {"name", "parent_id"}


def test_moving_a_subtree_rewrites_every_path_below_it(db):
    a, b = create("A"), create("B")
    a1 = create("A1", a)
    a1x = create("A1x", a1)
    a1y = create("A1y", a1)
    a1x_deep = create("deep", a1x)
    categories.move_category(a1, actor=None, parent_id=b.id, position=0)
    db.session.expire_all()
    assert a1.path == f"/{b.id}/{a1.id}/" and a1.depth == 1 and a1.parent_id == b.id
    assert a1x.path == f"/{b.id}/{a1.id}/{a1x.id}/" and a1x.depth == 2
    assert a1y.path == f"/{b.id}/{a1.id}/{a1y.id}/"
    assert a1x_deep.path == f"/{b.id}/{a1.id}/{a1x.id}/{a1x_deep.id}/" and a1x_deep.depth == 3
    categories.move_category(a1x, actor=None, parent_id=None, position=0)
    db.session.expire_all()
    assert a1x_deep.path == f"/{a1x.id}/{a1x_deep.id}/" and a1x_deep.depth == 1
    roots = [node.category.name for node in categories.category_tree()]
    assert roots == ["A1x", "A", "B"]


def test_moving_under_itself_or_a_descendant_is_refused(db):
    a = create("A")
    child = create("child", a)
    for target in (a, child):
        with pytest.raises(InvalidInput) as error:
            categories.move_category(a, actor=None, parent_id=target.id, position=0)
        assert "parent_id" in error.value.errors


def test_reordering_siblings(db):
    first, second, third = create("1"), create("2"), create("3")
    categories.move_category(third, actor=None, parent_id=None, position=0)
    db.session.expire_all()
    assert [n.category.id for n in categories.category_tree()] == [third.id, first.id, second.id]
    categories.move_category(third, actor=None, parent_id=None, position=99)
    db.session.expire_all()
    assert [n.category.id for n in categories.category_tree()] == [first.id, second.id, third.id]


def test_tree_without_inactive_hides_their_subtrees(db):
    shown = create("Shown")
    hidden = create("Hidden", is_active=False)
    create("Under hidden", hidden)
    create("Under shown", shown)
    tree = categories.category_tree(include_inactive=False)
    assert [n.category.name for n in tree] == ["Shown"]
    assert [n.category.name for n in tree[0].children] == ["Under shown"]
    assert len(categories.category_tree()) == 2


def test_delete_refuses_a_parent_and_drops_product_links(db):
    parent = create("Parent")
    leaf = create("Leaf", parent)
    with pytest.raises(Conflict):
        categories.delete_category(parent, actor=None)
    product = services.create_product(
        ProductInput(name="P", category_ids=[leaf.id]),
        actor=None,
        variants=[VariantInput(sku="P", price=Decimal(1))],
    )
    leaf_id = leaf.id
    categories.delete_category(leaf, actor=None)
    assert db.session.get(Category, leaf_id) is None
    assert (
        db.session.scalars(select(ProductCategory).where(ProductCategory.product_id == product.id)).all()
        == []
    )
    assert product.category_links == []
    categories.delete_category(parent, actor=None)


def test_update_category_fields(db):
    category = create("Old")
    categories.update_category(category, actor=None, name="New", slug="", is_active=False)
    assert (category.name, category.slug, category.is_active) == ("New", "new", False)
    with pytest.raises(NotFound):
        categories.get_category(987654)
    assert categories.get_category_by_slug("new") is category


# ---- brands ------------------------------------------------------------------------------


def test_brand_names_and_slugs_are_unique(db):
    acme = brands.create_brand(actor=None, name="Acme")
    assert acme.slug == "acme"
    with pytest.raises(InvalidInput) as error:
        brands.create_brand(actor=None, name="ACME", slug="acme")
    assert set(error.value.errors) == {"name", "slug"}


def test_renaming_or_deleting_a_brand_refreshes_product_search(db):
    acme = brands.create_brand(actor=None, name="Acme")
    product = services.create_product(
        ProductInput(name="Anvil", brand_id=acme.id),
        actor=None,
        variants=[VariantInput(sku="AN", price=Decimal(1))],
    )
    brands.update_brand(acme, actor=None, name="Roadrunner Co")
    assert "roadrunner co" in product.search_text and "acme" not in product.search_text
    brands.delete_brand(acme, actor=None)
    assert product.brand is None and "roadrunner" not in product.search_text
    assert brands.list_brands() == []
