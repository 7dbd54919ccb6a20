"""The category tree editor and the brand list: the tree with product counts, adding,
editing, moving (arrows with HTMX, or to another parent), deleting (refused while it has
sub-categories), and brands added, renamed in place, deactivated and deleted."""

import re

from sqlalchemy import func, select

from app.blueprints.catalog.models import Brand, Category, Product
from tests.catalog.views_support import field_error, flashes, htmx, input_value, signed_in
from tests.factories.catalog import BrandFactory, CategoryFactory, ProductFactory


def tree_order(page: str, *names: str) -> list[str]:
    """`names` in the order the page shows them."""
    return sorted(names, key=lambda name: page.index(f">{name}</a>"))


def children_of(parent_id):
    return db_names(select(Category.name).where(Category.parent_id == parent_id).order_by(Category.position))


def db_names(query):
    from app.extensions import db

    return list(db.session.scalars(query))


# --- The tree ------------------------------------------------------------------------------


def test_the_tree_shows_every_level_with_product_counts_in_few_queries(portal, db):
    signed_in(portal, "sales")
    clothes = CategoryFactory(name="Clothes")
    shirts = CategoryFactory(name="Shirts", parent=clothes)
    CategoryFactory(name="Flannel", parent=shirts, is_active=False)
    ProductFactory(categories=[shirts])
    ProductFactory(categories=[shirts, clothes])
    page = portal.get("/catalog/categories").text
    assert tree_order(page, "Clothes", "Shirts", "Flannel") == ["Clothes", "Shirts", "Flannel"]
    assert re.search(r">Shirts</a>.*?>2 products<", page, re.S)
    assert re.search(r">Clothes</a>.*?>1 product<", page, re.S)
    assert re.search(r">Flannel</a>.*?Inactive", page, re.S)
    # Nested lists: Flannel sits two levels below the top.
    assert page.count("<ul>") >= 2
    assert "Move up" not in page  # a reader gets no arrows


def test_adding_a_category_under_a_parent(portal, db):
    signed_in(portal, "marketing")
    parent = CategoryFactory(name="Home")
    response = portal.post("/catalog/categories", data={"name": "Kitchen", "parent": str(parent.id)})
    assert response.status_code == 302
    assert children_of(parent.id) == ["Kitchen"]
    assert "Added the category Kitchen." in flashes(portal.get("/catalog/categories").text)


def test_a_category_without_a_name_is_refused_next_to_the_field(portal, db):
    signed_in(portal, "marketing")
    response = portal.post("/catalog/categories", data={"name": "", "parent": ""})
    assert response.status_code == 422
    assert field_error(response.text, "name")
    assert db.session.scalar(select(func.count()).select_from(Category)) == 0


def test_arrows_move_a_category_among_its_siblings_with_htmx(portal, db):
    signed_in(portal, "marketing")
    for name in ("A", "B", "C"):
        portal.post("/catalog/categories", data={"name": name, "parent": ""})
    c = db.session.scalar(select(Category).where(Category.name == "C"))
    response = portal.post(
        f"/catalog/categories/{c.id}/move", data={"direction": "up"}, headers=htmx("category-tree")
    )
    assert response.status_code == 200
    fragment = response.text.strip()
    assert fragment.startswith('<section id="category-tree"') and "<html" not in fragment
    assert "Moved C." in fragment
    assert tree_order(fragment, "A", "B", "C") == ["A", "C", "B"]
    assert children_of(None) == ["A", "C", "B"]

    a = db.session.scalar(select(Category).where(Category.name == "A"))
    plain = portal.post(f"/catalog/categories/{a.id}/move", data={"direction": "down"})
    assert plain.status_code == 302
    assert children_of(None) == ["C", "A", "B"]


def test_moving_to_another_parent_and_position(portal, db):
    signed_in(portal, "marketing")
    home = CategoryFactory(name="Home")
    CategoryFactory(name="Bath", parent=home, position=0)
    garden = CategoryFactory(name="Garden", position=1)
    CategoryFactory(name="Tools", parent=garden)
    response = portal.post(
        f"/catalog/categories/{garden.id}/move", data={"parent": str(home.id), "position": "1"}
    )
    assert response.status_code == 302
    assert children_of(home.id) == ["Garden", "Bath"]
    tools = db.session.scalar(select(Category).where(Category.name == "Tools"))
    assert tools.path == f"{home.path}{garden.id}/{tools.id}/" and tools.depth == 2


def test_a_category_cannot_move_under_its_own_sub_category(portal, db):
    signed_in(portal, "marketing")
    home = CategoryFactory(name="Home")
    bath = CategoryFactory(name="Bath", parent=home)
    page = portal.get(f"/catalog/categories/{home.id}").text
    assert f'<option value="{bath.id}"' not in page  # not offered
    response = portal.post(
        f"/catalog/categories/{home.id}/move", data={"parent": str(bath.id), "position": "1"}
    )
    assert response.status_code == 422
    assert field_error(response.text, "parent")
    assert db.session.get(Category, home.id).parent_id is None


def test_editing_a_category_and_a_taken_slug(portal, db):
    signed_in(portal, "marketing")
    CategoryFactory(slug="taken")
    category = CategoryFactory(name="Old", slug="old")
    response = portal.post(
        f"/catalog/categories/{category.id}", data={"name": "New", "slug": "taken", "description": "Typed"}
    )
    assert response.status_code == 422
    assert "Another category has this slug." in field_error(response.text, "slug")
    assert input_value(response.text, "name") == "New"
    ok = portal.post(
        f"/catalog/categories/{category.id}", data={"name": "New", "slug": "new", "description": ""}
    )
    assert ok.status_code == 302
    db.session.refresh(category)
    assert (category.name, category.slug, category.is_active) == ("New", "new", False)


def test_deleting_is_refused_while_it_has_children_and_explained(portal, db):
    signed_in(portal, "marketing")
    home = CategoryFactory(name="Home")
    bath = CategoryFactory(name="Bath", parent=home)
    product = ProductFactory(categories=[bath])
    page = portal.get(f"/catalog/categories/{home.id}").text
    assert "Move or delete them first" in page and "Delete Home" not in page
    refused = portal.post(f"/catalog/categories/{home.id}/delete", follow_redirects=True)
    assert any("has sub-categories" in message for message in flashes(refused.text))
    assert db.session.get(Category, home.id) is not None

    confirm = portal.get(f"/catalog/categories/{bath.id}").text
    assert 'data-confirm="Delete the category Bath? 1 product(s) lose this category' in confirm
    deleted = portal.post(f"/catalog/categories/{bath.id}/delete", follow_redirects=True)
    assert any("Deleted the category Bath" in message for message in flashes(deleted.text))
    assert db.session.scalar(select(func.count()).select_from(Category).where(Category.name == "Bath")) == 0
    assert db.session.scalar(select(func.count()).select_from(Product).where(Product.id == product.id)) == 1


# --- Brands --------------------------------------------------------------------------------


def test_brands_list_with_product_counts_and_adding_one(portal, db):
    signed_in(portal, "marketing")
    acme = BrandFactory(name="Acme")
    ProductFactory(brand=acme)
    page = portal.get("/catalog/brands").text
    assert ">Acme</a>" in page and '<td class="num">1</td>' in page
    response = portal.post("/catalog/brands", data={"name": "Zenith", "slug": ""})
    assert response.status_code == 302
    assert db.session.scalar(select(Brand.slug).where(Brand.name == "Zenith")) == "zenith"
    duplicate = portal.post("/catalog/brands", data={"name": "acme", "slug": ""})
    assert duplicate.status_code == 422
    assert "Another brand has this name." in field_error(duplicate.text, "name")


def test_renaming_a_brand_in_place_with_htmx(portal, db):
    signed_in(portal, "marketing")
    brand = BrandFactory(name="Acme", slug="acme")
    BrandFactory(name="Other")
    form = portal.get(f"/catalog/brands/{brand.id}/edit", headers=htmx(f"brand-{brand.id}")).text.strip()
    assert form.startswith(f'<tr id="brand-{brand.id}" class="editing')
    assert input_value(form, f"b{brand.id}-name") == "Acme"

    clash = portal.post(
        f"/catalog/brands/{brand.id}",
        data={f"b{brand.id}-name": "Other", f"b{brand.id}-slug": "acme"},
        headers=htmx(f"brand-{brand.id}"),
    )
    assert clash.status_code == 422
    assert "Another brand has this name." in field_error(clash.text, f"b{brand.id}-name")

    saved = portal.post(
        f"/catalog/brands/{brand.id}",
        data={f"b{brand.id}-name": "Acme Co", f"b{brand.id}-slug": "acme"},
        headers=htmx(f"brand-{brand.id}"),
    )
    assert saved.status_code == 200
    assert saved.text.strip().startswith(f'<tr id="brand-{brand.id}">') and "Acme Co" in saved.text
    assert "Saved the brand Acme Co." in saved.text
    assert db.session.get(Brand, brand.id).name == "Acme Co"


def test_deactivating_and_deleting_a_brand(portal, db):
    signed_in(portal, "marketing")
    brand = BrandFactory(name="Acme")
    product = ProductFactory(brand=brand)
    page = portal.get("/catalog/brands").text
    assert (
        'data-confirm="Delete the brand Acme? Its 1 product(s) stay in the catalog without a brand.' in page
    )
    portal.post(f"/catalog/brands/{brand.id}/active", data={"active": "0"})
    assert db.session.get(Brand, brand.id).is_active is False
    new_product_page = portal.get("/catalog/products/new").text
    assert ">Acme<" not in new_product_page  # no longer offered
    response = portal.post(f"/catalog/brands/{brand.id}/delete", follow_redirects=True)
    assert any("Deleted the brand Acme" in message for message in flashes(response.text))
    assert db.session.scalar(select(Product.brand_id).where(Product.id == product.id)) is None
