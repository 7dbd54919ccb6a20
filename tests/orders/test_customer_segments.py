"""Segment rules over purchase history: "bought a product" and "bought in a category"
(with its sub-categories), within N days or ever, counting paid orders that were not
cancelled; unknown products and categories are field errors in the API and the builder."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.blueprints.catalog.models import ProductCategory, Variant
from app.blueprints.customers import segment_rules, segments
from app.blueprints.customers.models import Customer
from app.blueprints.customers.segment_models import Segment
from app.blueprints.orders import customer_segments, lifecycle, payments
from app.core.errors import InvalidInput
from app.core.timeutil import utcnow
from app.core.transaction import transaction
from app.extensions import db
from tests.factories.auth import PASSWORD, UserFactory, make_token
from tests.factories.catalog import CategoryFactory, ProductFactory
from tests.factories.customers import CustomerFactory
from tests.orders.checkout_helpers import make_shop, place_order_directly

assert customer_segments.OPERATORS  # the fields are registered at import
HTMX = {"HX-Request": "true"}


@pytest.fixture
def staff(db):
    return UserFactory(roles=["admin"])


@pytest.fixture
def shop(db):
    """Teapots (Kitchen > Tea) and cups (Kitchen > Tableware), both 'Kitchen'; a book elsewhere."""
    shop = make_shop()
    shop.kitchen = CategoryFactory(name="Kitchen")
    shop.tea = CategoryFactory(name="Tea", parent=shop.kitchen)
    shop.tableware = CategoryFactory(name="Tableware", parent=shop.kitchen)
    shop.books = CategoryFactory(name="Books")
    link(shop.teapot.product, shop.tea)
    link(shop.cup.product, shop.tableware)
    return shop


def link(product, category):
    product.category_links.append(ProductCategory(category_id=category.id))
    db.session.flush()


def order(shop, customer, staff, variant, *, paid=True, days_ago=0, cancelled=False):
    placed = place_order_directly([(variant, 1)], customer=customer, email=customer.email)
    with transaction():
        if paid:
            payments.mark_paid(placed, actor=staff)
        if cancelled:
            lifecycle.cancel_order(placed, actor=staff, reason="Changed their mind")
    if days_ago:
        placed.placed_at = utcnow() - timedelta(days=days_ago)
        db.session.flush()
    return placed


def members(rule) -> set[str]:
    """Emails of the live customers one rule selects (compiled as the segment's query is)."""
    condition = segment_rules.compile_rules({"op": "and", "rules": [rule]}) & Customer.merged_into_id.is_(
        None
    )
    return set(db.session.scalars(select(Customer.email).where(condition)))


def bought_product(items, days=None, operator="any_of"):
    return {"field": "bought_product", "operator": operator, "value": {"products": items, "days": days}}


def bought_in(categories, days=None, operator="any_of"):
    return {
        "field": "bought_in_category",
        "operator": operator,
        "value": {"categories": categories, "days": days},
    }


@pytest.fixture
def buyers(shop, staff):
    """ann: teapot now; bob: cup 100 days ago; cat: teapot unpaid; dan: teapot cancelled;
    eve: nothing. A guest bought a cup."""
    people = {
        name: CustomerFactory(email=f"{name}@example.org") for name in ("ann", "bob", "cat", "dan", "eve")
    }
    order(shop, people["ann"], staff, shop.teapot)
    order(shop, people["bob"], staff, shop.cup, days_ago=100)
    order(shop, people["cat"], staff, shop.teapot, paid=False)
    order(shop, people["dan"], staff, shop.teapot, cancelled=True)
    place_order_directly([(shop.cup, 1)], email="guest@example.org")
    return people


# --- Who matches ------------------------------------------------------------------------------


def test_bought_a_product_counts_paid_orders_that_were_not_cancelled(db, shop, buyers):
    assert members(bought_product([shop.teapot.product.id])) == {"ann@example.org"}
    assert members(bought_product([shop.teapot.product.id, shop.cup.product.id])) == {
        "ann@example.org",
        "bob@example.org",
    }


def test_a_sku_names_its_product(db, shop, buyers):
    assert members(bought_product([shop.cup.sku])) == {"bob@example.org"}


def test_within_days_leaves_older_purchases_out(db, shop, buyers):
    products = [shop.teapot.product.id, shop.cup.product.id]
    assert members(bought_product(products, days=90)) == {"ann@example.org"}
    assert members(bought_product(products, days=101)) == {"ann@example.org", "bob@example.org"}


def test_none_of_finds_those_who_never_bought_them(db, shop, buyers):
    assert members(bought_product([shop.teapot.product.id], operator="none_of")) == {
        "bob@example.org",
        "cat@example.org",
        "dan@example.org",
        "eve@example.org",
    }


def test_a_category_includes_its_sub_categories(db, shop, buyers):
    assert members(bought_in([shop.kitchen.id])) == {"ann@example.org", "bob@example.org"}
    assert members(bought_in([shop.tea.id])) == {"ann@example.org"}
    assert members(bought_in([shop.tableware.id, shop.books.id])) == {"bob@example.org"}
    assert members(bought_in([shop.books.id])) == set()
    assert members(bought_in([shop.kitchen.id], days=90)) == {"ann@example.org"}
    assert members(bought_in([shop.kitchen.id], days=90, operator="none_of")) == {
        "bob@example.org",
        "cat@example.org",
        "dan@example.org",
        "eve@example.org",
    }


def test_purchase_rules_combine_with_the_others_in_one_query(db, shop, buyers):
    buyers["bob"].country = "BE"
    db.session.flush()
    tree = {
        "op": "and",
        "rules": [
            {"field": "country", "operator": "in", "value": ["NL", "BE"]},
            {"field": "total_spent", "operator": "gt", "value": "8"},  # bob spent 8.45
            bought_in([shop.kitchen.id], days=365),
        ],
    }
    assert segments.count_members(tree) == 2


# --- Checking values --------------------------------------------------------------------------


def value_errors(rule) -> dict:
    with pytest.raises(InvalidInput) as caught:
        segment_rules.validate_rules({"op": "and", "rules": [rule]})
    return caught.value.errors


def test_unknown_products_and_categories_are_named_in_a_field_error(db, shop):
    assert value_errors(bought_product([shop.cup.sku, "NOPE-1", 999999])) == {
        "rules.0.value": ["No product with the id or SKU NOPE-1, 999999."]
    }
    assert value_errors(bought_in([shop.kitchen.id, 999999])) == {
        "rules.0.value": ["No category with the id 999999."]
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([1], 'Give {"products": [...]} and optionally "days".'),
        ({"products": []}, "Give at least one of the products."),
        ({"products": [1.5]}, "Give product ids (whole numbers) or SKUs."),
        ({"products": [True]}, "Give product ids (whole numbers) or SKUs."),
        ({"products": ["X"], "days": 0}, "Enter a number from 1 to 36500."),
        ({"products": ["X"], "when": 3}, "Unknown keys: when."),
    ],
)
def test_malformed_values_say_what_to_give(db, value, message):
    rule = {"field": "bought_product", "operator": "any_of", "value": value}
    assert value_errors(rule) == {"rules.0.value": [message]}


def test_values_are_normalized_ids_and_skus_once_each(db, shop):
    checked = segment_rules.validate_rules(
        {
            "op": "and",
            "rules": [bought_product([shop.cup.sku, shop.teapot.product.id, f" {shop.cup.sku} "], 30)],
        }
    )
    assert checked["rules"][0]["value"] == {"products": [shop.cup.sku, shop.teapot.product.id], "days": 30}


def test_a_number_that_is_no_product_id_but_a_sku_is_that_sku(db, shop):
    product = ProductFactory(name="Numbered", default_variant=False)
    product.variants.append(Variant(sku="99999991", price=shop.cup.price))
    db.session.flush()
    checked = segment_rules.validate_rules({"op": "and", "rules": [bought_product([99999991])]})
    assert checked["rules"][0]["value"]["products"] == ["99999991"]


def test_the_rule_reads_in_words(db, shop):
    tree = segment_rules.validate_rules(
        {
            "op": "and",
            "rules": [bought_product([shop.cup.sku], 90), bought_in([shop.kitchen.id], operator="none_of")],
        }
    )
    assert segment_rules.describe(tree)[1] == [
        f"Bought a product any of {shop.cup.sku} in the last 90 days",
        f"Bought in a category none of #{shop.kitchen.id} (with sub-categories)",
    ]


# --- API and builder --------------------------------------------------------------------------


def bearer(scopes):
    return {"Authorization": f"Bearer {make_token(UserFactory(roles=['admin']), list(scopes))}"}


def test_the_api_counts_purchase_rules_and_answers_422_for_an_unknown_category(client, db, shop, buyers):
    headers = bearer(["customers.read"])
    rules = {"op": "and", "rules": [bought_in([shop.kitchen.id])]}

    counted = client.post("/api/v1/admin/segments/evaluate", json={"rules": rules}, headers=headers)
    unknown = client.post(
        "/api/v1/admin/segments/evaluate",
        json={"rules": {"op": "and", "rules": [bought_in([999999])]}},
        headers=headers,
    )

    assert counted.status_code == 200 and counted.get_json() == {"count": 2}
    assert unknown.status_code == 422 and unknown.mimetype == "application/problem+json"
    assert unknown.get_json()["errors"] == {"rules.rules.0.value": ["No category with the id 999999."]}


@pytest.fixture
def marketer(portal, db):
    user = UserFactory(roles=["marketing"])
    portal.login(user.email, PASSWORD)
    return portal


def builder_form(**fields):
    data = {"name": "Tea lovers", "description": "", "kind": "dynamic", "op": "and", "action": "save"}
    data.update(fields)
    return data


def test_the_builder_offers_the_purchase_fields_with_a_category_picker(marketer, shop):
    form = builder_form(**{"r0-field": "bought_in_category", "r0-operator": "any_of", "action": "refresh"})
    response = marketer.post("/customers/segments/new", data=form, headers=HTMX)

    assert response.status_code == 200
    assert '<option value="bought_product"' in response.text
    assert re.search(r'<select id="r0-value" name="r0-value" multiple', response.text)
    assert f'<option value="{shop.tea.id}">— Tea</option>' in response.text
    assert '<label for="r0-days">Within (days)</label>' in response.text


def test_the_builder_saves_a_purchase_rule(marketer, db, shop):
    form = builder_form(
        **{
            "r0-field": "bought_in_category",
            "r0-operator": "any_of",
            "r0-value": str(shop.tea.id),
            "r0-days": "90",
        }
    )
    response = marketer.post("/customers/segments/new", data=form)

    assert response.status_code == 302, response.text
    segment = db.session.scalar(select(Segment))
    assert segment.rules["rules"] == [bought_in([shop.tea.id], days=90)]
    edit = marketer.get(f"/customers/segments/{segment.id}/edit")
    assert f'<option value="{shop.tea.id}" selected>' in edit.text and 'value="90"' in edit.text


def test_the_builder_shows_an_unknown_sku_next_to_the_rule(marketer, db, shop):
    form = builder_form(
        **{"r0-field": "bought_product", "r0-operator": "any_of", "r0-value": f"{shop.cup.sku}, NOPE-1"}
    )
    response = marketer.post("/customers/segments/new", data=form)

    assert response.status_code == 422
    assert re.search(r'id="r0-value-error">No product with the id or SKU NOPE-1', response.text)
    assert f'value="{shop.cup.sku}, NOPE-1"' in response.text
    assert db.session.scalar(select(Segment)) is None
