"""A customer's purchase figures: the only code that writes them.

Customers cannot see orders (orders sit to the right of customers), so the orders domain
sums one customer's orders whenever one of them is paid, cancelled or refunded and hands
the sums here (`set_purchase_figures`); everything else is derived from them here:

- average order value = total spent / orders;
- lifetime value = total spent (net of refunds);
- predicted lifetime value = max(lifetime value, average order value x orders a year x
  CUSTOMER_LIFESPAN_YEARS), where orders a year = orders / years since the first order,
  counting at least one year (a customer who bought three times in their first week is
  not taken to buy 150 times a year).

RFM bands compare customers with each other, so one customer's order cannot place them:
`recompute_rfm_bands` ranks everyone at once, set-based (the nightly job and
`flask crm recompute-rfm`). A customer whose last counted order goes away loses the bands
at once; a first order gets them at the next recompute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, or_, select, update

from app.blueprints.customers.models import Customer
from app.core.money import CENT
from app.core.timeutil import utcnow
from app.extensions import db

BANDS = 5
DEFAULT_LIFESPAN_YEARS = 3
# Less history than this is read as this much, so a new customer's rate is not extrapolated.
MIN_TENURE_YEARS = Decimal(1)
DAYS_A_YEAR = Decimal("365.25")
ZERO = Decimal("0.00")
RFM_COLUMNS = ("rfm_recency", "rfm_frequency", "rfm_monetary")


@dataclass(frozen=True)
class PurchaseTotals:
    """What a customer's counted orders add up to (the orders domain decides what counts)."""

    order_count: int = 0
    total_spent: Decimal = ZERO  # net of refunds
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None


def customer_for_update(customer_id: int) -> Customer | None:
    """The customer with its row locked to the end of the transaction (PostgreSQL), so two
    recomputes of one customer run one after the other and the later one sums every order
    the earlier one saw. None when there is no such customer."""
    query = (
        select(Customer)
        .where(Customer.id == customer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return db.session.scalar(query)


def lifespan_years() -> int:
    return int(current_app.config.get("CUSTOMER_LIFESPAN_YEARS", DEFAULT_LIFESPAN_YEARS))


def predicted_lifetime_value(totals: PurchaseTotals, *, now: datetime, years: int) -> Decimal:
    """max(spent so far, average order value x orders a year x `years`): see the module."""
    spent = Decimal(totals.total_spent)
    if not totals.order_count or totals.first_order_at is None:
        return spent.quantize(CENT)
    tenure = Decimal((now - totals.first_order_at).total_seconds()) / 86400 / DAYS_A_YEAR
    orders_a_year = totals.order_count / max(tenure, MIN_TENURE_YEARS)
    average = spent / totals.order_count
    return max(spent, average * orders_a_year * years).quantize(CENT)


def set_purchase_figures(
    customer: Customer, totals: PurchaseTotals, *, now: datetime | None = None
) -> Customer:
    """Write the figures `totals` imply (only what changed is written). A customer without
    counted orders has no RFM bands; otherwise the bands wait for the next recompute."""
    now = now or utcnow()
    count = totals.order_count or 0
    spent = Decimal(totals.total_spent or 0).quantize(CENT)
    values = {
        "order_count": count,
        "total_spent": spent,
        "average_order_value": (spent / count).quantize(CENT) if count else ZERO,
        "first_order_at": totals.first_order_at if count else None,
        "last_order_at": totals.last_order_at if count else None,
        "lifetime_value": spent,
        "predicted_lifetime_value": predicted_lifetime_value(totals, now=now, years=lifespan_years())
        if count
        else ZERO,
    }
    if not count:
        values.update(dict.fromkeys(RFM_COLUMNS))
    for name, value in values.items():
        if getattr(customer, name) != value:
            setattr(customer, name, value)
    db.session.flush()
    return customer


def _band(*order_by):
    """1..5 by position among the ranked customers; ties share the band of the first of
    them (rank(), not ntile(): two customers with the same figure never get different bands)."""
    position = func.rank().over(order_by=order_by)
    return 1 + (position - 1) * BANDS // func.count().over()


def recompute_rfm_bands() -> int:
    """Recency, frequency and monetary bands (1..5, 5 the most recent / most frequent /
    highest spending) of every live customer with orders, as quintiles among them: one
    UPDATE from a window over the customers (UPDATE ... FROM, PostgreSQL and SQLite 3.33+),
    writing only rows whose bands change; then the bands of customers without orders go.
    Returns how many customers changed."""
    ranked = (
        select(
            Customer.id.label("id"),
            _band(Customer.last_order_at.asc().nulls_first()).label("recency"),
            _band(Customer.order_count.asc()).label("frequency"),
            _band(Customer.total_spent.asc()).label("monetary"),
        )
        .where(Customer.merged_into_id.is_(None), Customer.order_count > 0)
        .subquery("ranked")
    )
    banded = (
        update(Customer)
        .where(
            Customer.id == ranked.c.id,
            or_(
                Customer.rfm_recency.is_distinct_from(ranked.c.recency),
                Customer.rfm_frequency.is_distinct_from(ranked.c.frequency),
                Customer.rfm_monetary.is_distinct_from(ranked.c.monetary),
            ),
        )
        .values(
            rfm_recency=ranked.c.recency, rfm_frequency=ranked.c.frequency, rfm_monetary=ranked.c.monetary
        )
    )
    cleared = (
        update(Customer)
        .where(
            or_(Customer.order_count == 0, Customer.merged_into_id.is_not(None)),
            or_(*(getattr(Customer, column).is_not(None) for column in RFM_COLUMNS)),
        )
        .values(dict.fromkeys(RFM_COLUMNS))
    )
    changed = 0
    for statement in (banded, cleared):
        changed += db.session.execute(statement.execution_options(synchronize_session=False)).rowcount
    db.session.expire_all()
    return changed
