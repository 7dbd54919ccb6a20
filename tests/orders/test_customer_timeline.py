"""The customer's orders on the customer timeline: kind "order", merged with interactions,
consents and profile changes in one cursor-paged list, a fixed number of statements a
page, links to each order and to all of them, only for staff who may read orders."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from app.blueprints.customers import timeline
from app.blueprints.customers.models import ConsentEvent, Interaction
from app.blueprints.orders import customer_timeline
from app.blueprints.orders.order_models import Order
from app.core.timeutil import utcnow
from app.extensions import db
from tests.factories.auth import PASSWORD, UserFactory
from tests.factories.customers import CustomerFactory, InteractionFactory
from tests.statements import counted_statements

ADDRESS = {
    "recipient": "Ada",
    "line1": "Damrak 1",
    "postal_code": "1012 LG",
    "city": "Amsterdam",
    "country": "NL",
}


def an_order(customer, placed_at, *, total="17.05", status="paid", number=None) -> Order:
    """An order row as checkout leaves it (the timeline reads only the order itself)."""
    order = Order(
        number=number,
        tracking_token_encrypted="x",
        customer_id=customer.id if customer is not None else None,
        email=customer.email if customer is not None else "guest@example.org",
        status=status,
        payment_method="manual",
        currency="EUR",
        prices_include_tax=True,
        subtotal=Decimal(total),
        discount_total=Decimal("0"),
        shipping_total=Decimal("0"),
        shipping_tax=Decimal("0"),
        tax_total=Decimal("0"),
        total=Decimal(total),
        shipping_address=ADDRESS,
        billing_address=ADDRESS,
        shipping_method_code="standard",
        shipping_method_name="Standard",
        placed_at=placed_at,
    )
    db.session.add(order)
    db.session.flush()
    order.number = order.number or f"T{order.id:06d}"
    db.session.flush()
    return order


def test_orders_are_timeline_entries_of_kind_order_among_the_others(db):
    customer, other = CustomerFactory(), CustomerFactory()
    now = utcnow()
    call = InteractionFactory(customer=customer, occurred_at=now - timedelta(hours=2))
    order = an_order(customer, now - timedelta(hours=1))
    an_order(other, now)
    an_order(None, now)  # a guest's

    page = timeline.timeline(customer.id)

    assert [(entry.kind, entry.item) for entry in page.entries] == [("order", order), ("phone", call)]
    assert page.entries[0].source == customer_timeline.ORDER_SOURCE
    assert page.entries[0].registered.label == "Order"


def test_the_order_kind_shows_only_orders(db):
    customer = CustomerFactory()
    InteractionFactory(customer=customer, occurred_at=utcnow() - timedelta(hours=1))
    order = an_order(customer, utcnow())

    assert [entry.item for entry in timeline.timeline(customer.id, kind="order").entries] == [order]
    assert [entry.kind for entry in timeline.timeline(customer.id, kind="phone").entries] == ["phone"]


def test_without_the_orders_source_the_kind_is_unknown_and_orders_stay_out(db):
    customer = CustomerFactory()
    InteractionFactory(customer=customer, occurred_at=utcnow() - timedelta(hours=1))
    an_order(customer, utcnow())

    page = timeline.timeline(customer.id, kind="order", sources=[])

    assert [entry.kind for entry in page.entries] == ["phone"]


def test_paging_visits_orders_and_interactions_once_each_in_order_even_on_ties(db):
    customer = CustomerFactory()
    at = utcnow() - timedelta(days=1)
    for minute in range(7):
        InteractionFactory(customer=customer, occurred_at=at + timedelta(minutes=minute))
        an_order(customer, at + timedelta(minutes=minute))  # the same instant as the call
    seen, cursor = [], None
    while True:
        page = timeline.timeline(customer.id, before=cursor, limit=3)
        seen.extend(page.entries)
        cursor = page.next_cursor
        if cursor is None:
            break

    assert len(seen) == len({(entry.source, entry.item.id) for entry in seen}) == 14
    keys = [(entry.occurred_at, entry.source, entry.item.id) for entry in seen]
    assert keys == sorted(keys, reverse=True)
    assert seen[0].kind == "order"  # an order before a call of the same instant


def test_a_timeline_page_with_orders_costs_a_fixed_number_of_statements(db):
    customer = CustomerFactory()
    staff = UserFactory(roles=["sales"])

    def add(count):
        start = utcnow() - timedelta(hours=count + 1)
        db.session.add_all(
            Interaction(
                customer_id=customer.id,
                kind="phone",
                staff_id=staff.id,
                occurred_at=start + timedelta(hours=n),
            )
            for n in range(count)
        )
        db.session.add_all(
            ConsentEvent(
                customer_id=customer.id,
                purpose="profiling",
                granted=True,
                source="portal",
                wording_version="v1",
                occurred_at=start + timedelta(hours=n, minutes=20),
            )
            for n in range(0, count, 10)
        )
        for n in range(0, count, 3):
            an_order(customer, start + timedelta(hours=n, minutes=40))

    def statements_for_two_pages():
        customer_id = customer.id
        db.session.expire_all()
        with counted_statements() as statements:
            page = timeline.timeline(customer_id, limit=25)
            timeline.timeline(customer_id, before=page.next_cursor, limit=25)
        return len(statements)

    add(30)
    few = statements_for_two_pages()
    add(300)
    # Per page: the merged select, then interactions, consent events and orders by id.
    assert statements_for_two_pages() == few == 8


# --- The customer page ------------------------------------------------------------------------


def signed_in(portal, role):
    portal.login(UserFactory(roles=[role]).email, PASSWORD)
    return portal


@pytest.fixture
def customer_with_order(db):
    customer = CustomerFactory(first_name="Ada", last_name="Lovelace")
    order = an_order(customer, utcnow() - timedelta(hours=1), total="39.65", status="partially_shipped")
    return customer, order


def test_the_customer_page_shows_orders_with_number_total_status_and_links(portal, customer_with_order):
    customer, order = customer_with_order
    html = signed_in(portal, "sales").get(f"/customers/{customer.id}").text

    assert f'<a href="/orders/{order.number}">Order {order.number}</a>' in html
    assert "€39.65" in html and "Partially shipped" in html
    assert f'<a href="/orders?customer={customer.id}">All orders</a>' in html
    assert '<option value="order">Order</option>' in html


def test_the_timeline_filters_to_orders_with_htmx(portal, customer_with_order):
    customer, order = customer_with_order
    InteractionFactory(customer=customer, subject="A call about tea", occurred_at=utcnow())
    response = signed_in(portal, "sales").get(
        f"/customers/{customer.id}?kind=order", headers={"HX-Request": "true", "HX-Target": "timeline"}
    )

    assert response.status_code == 200
    assert f"Order {order.number}" in response.text and "A call about tea" not in response.text
    assert '<option value="order" selected>Order</option>' in response.text


def test_staff_who_may_not_read_orders_do_not_see_them(portal, customer_with_order):
    customer, order = customer_with_order
    html = signed_in(portal, "marketing").get(f"/customers/{customer.id}?kind=order").text

    assert order.number not in html
    assert "All orders" not in html and '<option value="order"' not in html
