"""A customer merge moves the duplicate's orders and carts to the customer who stays, and
both customers' purchase figures then follow the orders they have."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.blueprints.customers import merge as merging
from app.blueprints.orders import carts, customer_merge, payments
from app.blueprints.orders.models import Cart
from app.blueprints.orders.order_models import Order
from app.core.transaction import transaction
from app.extensions import db
from tests.factories.auth import UserFactory
from tests.factories.customers import CustomerFactory
from tests.orders.checkout_helpers import make_shop, place_order_directly


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def staff(db):
    return UserFactory(roles=["admin"])


def paid_order(shop, customer, staff, variant, quantity=1) -> Order:
    order = place_order_directly([(variant, quantity)], customer=customer, email=customer.email)
    with transaction():
        payments.mark_paid(order, actor=staff)
    return order


def orders_of(customer) -> set[int]:
    return set(db.session.scalars(select(Order.id).where(Order.customer_id == customer.id)))


def test_merging_moves_the_duplicates_orders_and_carts_and_recomputes_the_figures(db, shop, staff):
    survivor = CustomerFactory(email="ann@example.org")
    duplicate = CustomerFactory(email="ann+shop@example.org")
    kept = paid_order(shop, survivor, staff, shop.teapot)  # 17.05
    moved = paid_order(shop, duplicate, staff, shop.cup, 2)  # 11.95
    unpaid = place_order_directly([(shop.cup, 1)], customer=duplicate, email=duplicate.email)
    with transaction():
        open_cart = carts.create_cart(customer=duplicate, email=duplicate.email)

    with transaction():
        merging.merge_customers(survivor, duplicate, actor=staff)

    assert orders_of(survivor) == {kept.id, moved.id, unpaid.id}
    assert orders_of(duplicate) == set()
    assert db.session.get(Cart, open_cart.id).customer_id == survivor.id
    db.session.refresh(survivor)
    db.session.refresh(duplicate)
    assert (survivor.order_count, survivor.total_spent, survivor.average_order_value) == (
        2,
        Decimal("29.00"),
        Decimal("14.50"),
    )
    assert (survivor.first_order_at, survivor.last_order_at) == (kept.placed_at, moved.placed_at)
    assert (duplicate.order_count, duplicate.total_spent, duplicate.last_order_at) == (
        0,
        Decimal("0.00"),
        None,
    )


def test_moving_the_history_again_changes_nothing(db, shop, staff):
    survivor, duplicate = CustomerFactory(), CustomerFactory()
    order = paid_order(shop, duplicate, staff, shop.teapot)
    with transaction():
        merging.merge_customers(survivor, duplicate, actor=staff)

    again = customer_merge.move_history_job(survivor.id, duplicate.id)

    assert again == {"orders": 0, "carts": 0}
    assert orders_of(survivor) == {order.id}
    db.session.refresh(survivor)
    assert (survivor.order_count, survivor.total_spent) == (1, Decimal("17.05"))
