"""Customers' purchase figures follow their orders: an order counts once paid, refunds
reduce what was spent, a cancelled order stops counting; RFM bands rank everyone at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.blueprints.customers import purchase_figures
from app.blueprints.customers.purchase_figures import PurchaseTotals
from app.blueprints.orders import customer_figures, lifecycle, payments
from app.blueprints.orders.order_models import Order
from app.core.timeutil import utcnow
from app.core.transaction import transaction
from tests.factories.auth import UserFactory
from tests.factories.customers import CustomerFactory
from tests.orders.checkout_helpers import make_shop, place_order_directly

TEAPOT_ORDER = Decimal("17.05")  # 12.10 + 4.95 shipping
CUPS_ORDER = Decimal("11.95")  # 2 x 3.50 + 4.95 shipping


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def staff(db):
    return UserFactory(roles=["admin"])


def paid_order(shop, customer, staff, lines=None, **kwargs) -> Order:
    order = place_order_directly(
        lines or [(shop.teapot, 1)], customer=customer, email=customer.email, **kwargs
    )
    with transaction():
        payments.mark_paid(order, actor=staff)
    return order


def refund(order, staff, amount):
    with transaction():
        payment = payments.payments_of(order)[0]
        payments.refund_payment(payment, order, Decimal(amount), actor=staff, idempotency_key=f"r-{amount}")


def figures(customer):
    purchase_figures.db.session.refresh(customer)
    return (customer.order_count, customer.total_spent, customer.average_order_value, customer.lifetime_value)


# --- Kept current from order events ---------------------------------------------------------


def test_an_order_counts_once_it_is_paid(db, shop, staff):
    customer = CustomerFactory()
    order = place_order_directly([(shop.teapot, 1)], customer=customer, email=customer.email)
    assert figures(customer) == (0, Decimal("0.00"), Decimal("0.00"), Decimal("0.00"))

    with transaction():
        payments.mark_paid(order, actor=staff)

    assert figures(customer) == (1, TEAPOT_ORDER, TEAPOT_ORDER, TEAPOT_ORDER)
    assert customer.first_order_at == customer.last_order_at == order.placed_at
    assert customer.predicted_lifetime_value == TEAPOT_ORDER * 3  # one order a year, three years


def test_the_average_is_over_every_paid_order_and_the_dates_span_them(db, shop, staff):
    customer = CustomerFactory()
    first = paid_order(shop, customer, staff)
    second = paid_order(shop, customer, staff, [(shop.cup, 2)])
    place_order_directly([(shop.teapot, 3)], customer=customer, email=customer.email)  # not paid

    total = TEAPOT_ORDER + CUPS_ORDER
    assert figures(customer) == (2, total, total / 2, total)
    assert (customer.first_order_at, customer.last_order_at) == (first.placed_at, second.placed_at)


def test_a_refund_reduces_total_spent_but_the_order_still_counts(db, shop, staff):
    customer = CustomerFactory()
    order = paid_order(shop, customer, staff)

    refund(order, staff, "5.00")

    assert figures(customer) == (1, Decimal("12.05"), Decimal("12.05"), Decimal("12.05"))


def test_a_cancelled_order_stops_counting_and_takes_the_rfm_bands_with_it(db, shop, staff):
    customer = CustomerFactory()
    order = paid_order(shop, customer, staff)
    with transaction():
        purchase_figures.recompute_rfm_bands()
    assert customer.rfm_recency is not None

    with transaction():
        lifecycle.cancel_order(order, actor=staff, reason="Customer changed their mind")

    assert figures(customer) == (0, Decimal("0.00"), Decimal("0.00"), Decimal("0.00"))
    assert (customer.first_order_at, customer.last_order_at, customer.rfm_recency) == (None, None, None)
    assert customer.predicted_lifetime_value == Decimal("0.00")


def test_guest_orders_change_no_customer(db, shop, staff):
    bystander = CustomerFactory(email="ada@example.org")  # same address, but the order is a guest's
    order = place_order_directly([(shop.teapot, 1)], email="ada@example.org")
    with transaction():
        payments.mark_paid(order, actor=staff)

    assert order.customer_id is None
    assert figures(bystander) == (0, Decimal("0.00"), Decimal("0.00"), Decimal("0.00"))


def test_the_refresh_is_idempotent_and_sums_only_that_customers_orders(db, shop, staff):
    customer, other = CustomerFactory(), CustomerFactory()
    order = paid_order(shop, customer, staff)
    paid_order(shop, other, staff, [(shop.cup, 2)])

    for _ in range(2):
        customer_figures.refresh_figures_of_order(order.id)

    assert figures(customer) == (1, TEAPOT_ORDER, TEAPOT_ORDER, TEAPOT_ORDER)
    assert figures(other)[:2] == (1, CUPS_ORDER)


def test_purchase_totals_is_one_aggregate_over_counted_orders(db, shop, staff):
    customer = CustomerFactory()
    paid_order(shop, customer, staff)
    place_order_directly([(shop.cup, 1)], customer=customer, email=customer.email)
    totals = customer_figures.purchase_totals(customer.id)
    assert (totals.order_count, totals.total_spent) == (1, TEAPOT_ORDER)


# --- Predicted lifetime value -----------------------------------------------------------------

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("orders", "spent", "first_days_ago", "expected"),
    [
        (1, "100.00", 1, "300.00"),  # a new customer: one order a year at least, three years
        (3, "90.00", 7, "270.00"),  # three orders in a week are not 150 a year
        (4, "200.00", 730.5, "300.00"),  # two a year at 50.00, three years
        (10, "1000.00", 3650, "1000.00"),  # never less than what they spent already
        (0, "0.00", None, "0.00"),
    ],
)
def test_predicted_lifetime_value_is_average_times_yearly_orders_times_lifespan(
    orders, spent, first_days_ago, expected
):
    first = NOW - timedelta(days=first_days_ago) if first_days_ago is not None else None
    totals = PurchaseTotals(orders, Decimal(spent), first, first)
    assert purchase_figures.predicted_lifetime_value(totals, now=NOW, years=3) == Decimal(expected)


def test_the_expected_lifespan_is_a_setting(app, db):
    customer = CustomerFactory()
    app.config["CUSTOMER_LIFESPAN_YEARS"] = 5
    try:
        totals = PurchaseTotals(1, Decimal("10.00"), utcnow(), utcnow())
        purchase_figures.set_purchase_figures(customer, totals)
    finally:
        app.config.pop("CUSTOMER_LIFESPAN_YEARS")
    assert customer.predicted_lifetime_value == Decimal("50.00")


# --- RFM bands --------------------------------------------------------------------------------


def buyer(days_ago: int, orders: int, spent: str, **fields):
    at = utcnow() - timedelta(days=days_ago)
    return CustomerFactory(
        order_count=orders, total_spent=Decimal(spent), first_order_at=at, last_order_at=at, **fields
    )


def bands(customer):
    purchase_figures.db.session.refresh(customer)
    return (customer.rfm_recency, customer.rfm_frequency, customer.rfm_monetary)


def recompute() -> int:
    with transaction():
        return purchase_figures.recompute_rfm_bands()


def test_rfm_bands_are_quintiles_among_customers_with_orders(db):
    # Ten buyers: the most recent, most frequent and highest spending rank highest.
    buyers = [buyer(days_ago=100 - n * 10, orders=n + 1, spent=f"{(n + 1) * 10}.00") for n in range(10)]
    never = CustomerFactory()

    recompute()

    assert [bands(b) for b in buyers] == [(band, band, band) for band in (1, 1, 2, 2, 3, 3, 4, 4, 5, 5)]
    assert bands(never) == (None, None, None)


def test_customers_with_the_same_figure_share_a_band(db):
    # Eight of ten bought once: all of them band 1 for frequency, none split off by chance.
    once = [buyer(days_ago=n + 1, orders=1, spent="10.00") for n in range(8)]
    twice = [buyer(days_ago=20 + n, orders=2, spent="10.00") for n in range(2)]

    recompute()

    assert {bands(c)[1] for c in once} == {1}
    assert {bands(c)[1] for c in twice} == {5}
    assert {bands(c)[2] for c in once + twice} == {1}  # everyone spent the same


def test_merged_and_orderless_customers_have_no_bands(db):
    survivor = buyer(days_ago=3, orders=2, spent="50.00")
    merged = buyer(days_ago=1, orders=0, spent="0.00", rfm_recency=5, rfm_frequency=5, rfm_monetary=5)
    merged.merged_into_id = survivor.id
    stale = CustomerFactory(rfm_recency=2, rfm_frequency=2, rfm_monetary=2)

    recompute()

    assert bands(survivor) == (1, 1, 1)  # the only ranked customer
    assert bands(merged) == bands(stale) == (None, None, None)


def test_recomputing_again_changes_nothing(db):
    for n in range(6):
        buyer(days_ago=n * 7, orders=n + 1, spent=f"{n * 25}.00")
    CustomerFactory(rfm_recency=3)

    assert recompute() == 7
    assert recompute() == 0


def test_the_cli_recomputes_the_bands(app, db):
    customer = buyer(days_ago=2, orders=1, spent="10.00")

    result = app.test_cli_runner().invoke(args=["crm", "recompute-rfm"], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert "1 customer changed" in result.output
    assert bands(customer) == (1, 1, 1)
