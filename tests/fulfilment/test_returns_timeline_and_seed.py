"""Returns on the customer timeline (kind "return", its own filter, a link to the return
and to the customer's returns, only for staff who see fulfilment), and the demo returns
seeder (a few returns in different states; nothing without delivered orders; once)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.blueprints.customers import timeline
from app.blueprints.fulfilment import return_timeline, seed_returns
from app.blueprints.fulfilment.models import ReturnRequest
from app.core.transaction import transaction
from app.extensions import db
from tests.catalog.views_support import role_with, signed_in
from tests.factories.customers import CustomerFactory, InteractionFactory
from tests.fulfilment.return_helpers import Staff, delivered_order, open_return, return_in_state
from tests.orders.checkout_helpers import make_shop, place_order_directly

STAFF = Staff()


@pytest.fixture
def shop(db):
    return make_shop()


# ---- the customer timeline -----------------------------------------------------------------


def test_returns_are_timeline_entries_of_their_own_kind(shop):
    ada, bob = CustomerFactory(), CustomerFactory()
    order = delivered_order(shop, [(shop.cup, 2)], staff=STAFF, customer=ada)
    ret = open_return(order, {order.lines[0].id: 1}, actor=ada)
    call = InteractionFactory(customer=ada, occurred_at=ret.requested_at - timedelta(minutes=5))

    page = timeline.timeline(ada.id)
    kinds = [(entry.kind, entry.item.id) for entry in page.entries]
    assert ("return", ret.id) in kinds and ("phone", call.id) in kinds
    assert kinds.index(("return", ret.id)) < kinds.index(("phone", call.id))  # newest first

    only_returns = timeline.timeline(ada.id, kind="return")
    assert [(entry.kind, entry.item.number) for entry in only_returns.entries] == [("return", ret.number)]
    assert only_returns.entries[0].item.order_number == order.number
    assert timeline.timeline(bob.id, kind="return").entries == []
    assert "return" in timeline.timeline_kinds()


def test_the_return_source_is_only_for_staff_who_see_fulfilment():
    source = timeline.SOURCES[return_timeline.RETURN_SOURCE]
    assert (source.kind, source.label, source.permission) == ("return", "Return", "fulfilment.read")
    assert timeline.visible_sources(lambda code: code != "fulfilment.read") == [
        s for s in timeline.SOURCES.values() if s.kind != "return"
    ]


def test_the_customer_page_shows_returns_with_links_and_a_return_filter(portal, shop):
    ada = CustomerFactory()
    order = delivered_order(shop, [(shop.cup, 2)], staff=STAFF, customer=ada)
    ret = return_in_state(order, "approved", actor=STAFF, location=shop.location)
    signed_in(portal, "support", "sales")

    page = portal.get(f"/customers/{ada.id}?kind=return").text

    assert f'href="/returns/{ret.number}"' in page and f"Return {ret.number}" in page
    assert f"order {order.number}" in page and "Approved" in page
    assert 'value="return"' in page  # the "Show" filter offers returns
    assert f"/returns?customer={ada.id}&amp;status=all" in page  # "All returns"


def test_without_fulfilment_read_the_customer_page_shows_no_returns(portal, shop):
    ada = CustomerFactory()
    order = delivered_order(shop, [(shop.cup, 2)], staff=STAFF, customer=ada)
    ret = open_return(order, {order.lines[0].id: 1}, actor=ada)
    signed_in(portal, role_with("Customers only", "customers.read"))

    page = portal.get(f"/customers/{ada.id}").text

    assert ret.number not in page and "All returns" not in page


# ---- the demo seeder -----------------------------------------------------------------------


def returns_count() -> int:
    return db.session.scalar(select(func.count()).select_from(ReturnRequest))


def test_without_delivered_orders_the_seeder_makes_nothing(shop):
    place_order_directly([(shop.cup, 1)], customer=CustomerFactory())
    with transaction():
        assert seed_returns.seed_demo_returns() is None
    assert returns_count() == 0


def test_the_seeder_makes_returns_in_different_states_once(shop):
    for _ in range(4):
        delivered_order(shop, [(shop.cup, 2)], staff=STAFF, customer=CustomerFactory())
    delivered_order(shop, [(shop.teapot, 1)], staff=STAFF, email="guest@example.org")  # no customer: skipped

    with transaction():
        note = seed_returns.seed_demo_returns()

    assert note == "Demo returns: 3 returns (requested, approved, received)"
    returns = db.session.scalars(select(ReturnRequest).order_by(ReturnRequest.id)).all()
    assert [ret.status for ret in returns] == ["requested", "approved", "received"]
    assert all(ret.customer_id is not None and ret.customer_note for ret in returns)
    assert returns[2].restock_location_id == shop.location.id and returns[2].lines[0].restocked_quantity == 1
    with transaction():
        assert seed_returns.seed_demo_returns() is None
    assert returns_count() == 3
