"""A customer merge moves the duplicate's returns to the customer who stays."""

from __future__ import annotations

import pytest

from app.blueprints.customers import merge as merging
from app.blueprints.fulfilment import customer_merge
from app.blueprints.fulfilment.models import ReturnRequest
from app.core.transaction import transaction
from app.extensions import db
from tests.factories.auth import UserFactory
from tests.factories.customers import CustomerFactory
from tests.fulfilment.return_helpers import Staff, delivered_order, line_of, open_return
from tests.orders.checkout_helpers import make_shop

STAFF = Staff()


@pytest.fixture
def shop(db):
    return make_shop()


def test_merging_customers_moves_the_duplicates_returns_to_the_survivor(shop):
    survivor = CustomerFactory(email="ann@example.org")
    duplicate = CustomerFactory(email="ann+shop@example.org")
    order = delivered_order(shop, [(shop.teapot, 1)], staff=STAFF, customer=duplicate, email=duplicate.email)
    ret = open_return(order, {line_of(order, shop.teapot): 1}, actor=STAFF, staff=True)

    with transaction():
        merging.merge_customers(survivor, duplicate, actor=UserFactory(roles=["admin"]))

    assert db.session.get(ReturnRequest, ret.id).customer_id == survivor.id
    assert customer_merge.move_returns_job(survivor.id, duplicate.id) == 0  # a second run moves nothing
