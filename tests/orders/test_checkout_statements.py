"""The checkout's SQL statement budget (the issue: "a checkout issues at most 30 SQL
statements for a 5-line cart; a test counts them").

Counted: every statement the storefront checkout request sends, from the request's start
to its response, as SQLAlchemy's `before_cursor_execute` sees them: the idempotency claim
and the stored answer, pricing, the order, the stock reservation, the payment start with
the manual gateway, and what the `order.placed` listeners do inside the request. Real
transactions (`committed_db`), so the test's rollback-savepoints do not count.

- Background jobs are queued as in production (a worker runs them), not run inline as the
  test app otherwise does.
- SQLite's BEGIN is not a statement of the checkout: the app issues it by hand
  (app/__init__.py) where PostgreSQL's driver sends its own unseen, so it is left out and
  the transactions are counted apart, on both databases alike.
- PostgreSQL reserves every line in one statement (`ledger.reserve_lines_first_fit`), so
  a checkout costs the same whatever its number of lines. SQLite has no data-modifying
  CTE: there the ledger reserves line by line and writes each movement in a statement of
  its own (`ledger._change_and_record`). The budget is the same on both (14 on PostgreSQL
  and 25 on SQLite for five lines when last measured, in one transaction).
"""

from __future__ import annotations

from contextlib import contextmanager
from decimal import Decimal

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine.interfaces import CacheStats

from app.blueprints.orders.order_models import Order
from app.core import jobs
from app.core.timeutil import utcnow
from app.core.transaction import transaction
from tests.factories.catalog import LocationFactory, ProductFactory, stock
from tests.factories.customers import CustomerFactory
from tests.factories.orders import tax_rates, zone_with_methods
from tests.orders.checkout_helpers import checkout_call, ready_cart
from tests.orders.test_customer_timeline import an_order

BUDGET = 30  # statements for a five-line cart


@pytest.fixture
def queued_jobs(monkeypatch):
    queued = []

    def queue(func, args, kwargs, queue, retries):
        queued.append(func.__qualname__)

    monkeypatch.setattr(jobs, "_enqueue_now", queue)
    return queued


@pytest.fixture
def skus(committed_db):
    """Five products (one variant each) with plenty of stock in one location."""
    with transaction():
        tax_rates("NL", {"standard": 21, "reduced": 9})
        zone_with_methods("Netherlands", ["NL"], [{"code": "standard", "flat_rate": Decimal("4.95")}])
        location = LocationFactory()
        variants = [ProductFactory(price=Decimal("12.50")).variants[0] for _ in range(5)]
        for variant in variants:
            stock(variant, location, on_hand=100)
        return [variant.sku for variant in variants]


@contextmanager
def counted_statements(engine):
    statements: list[str] = []
    transactions: list[bool] = []

    def on_statement(_connection, _cursor, statement, *_args):
        if statement.strip().upper() != "BEGIN":
            statements.append(" ".join(statement.split()))

    def on_begin(_connection):
        transactions.append(True)

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "begin", on_begin)
    try:
        yield statements, transactions
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "begin", on_begin)


def budget_for(engine, lines: int) -> int:
    # The same on both databases (SQLite reserves line by line, and still fits: 25 against
    # PostgreSQL's 14).
    return BUDGET


def report(statements: list[str], transactions: list, budget: int, lines: int) -> str:
    listing = "\n".join(f"{number:3}. {sql[:110]}" for number, sql in enumerate(statements, start=1))
    return (
        f"a {lines}-line checkout sent {len(statements)} statements (budget {budget}) "
        f"in {len(transactions)} transactions:\n{listing}"
    )


@pytest.mark.parametrize("lines", [5, 1])
def test_a_checkout_stays_within_the_statement_budget(app, committed_db, skus, queued_jobs, lines):
    client = app.test_client()
    cart_id = ready_cart(client, [(sku, 2) for sku in skus[:lines]])
    engine = committed_db.engine
    budget = budget_for(engine, lines)

    with counted_statements(engine) as (statements, transactions):
        response = checkout_call(client, cart_id, {"payment_method": "manual"})

    assert response.status_code == 201, response.text
    assert len(response.get_json()["lines"]) == lines
    print(report(statements, transactions, budget, lines))  # the figures, also when it passes (-s)
    assert len(statements) <= budget, report(statements, transactions, budget, lines)


def test_more_lines_cost_no_statement_on_postgresql_and_only_ledger_writes_on_sqlite(
    app, committed_db, skus, queued_jobs
):
    """Lines are priced, reserved and written in set-based statements: on PostgreSQL a
    five-line cart costs what a two-line cart does; on SQLite, which reserves line by
    line, the reservation's two statements per line more."""
    engine = committed_db.engine
    client = app.test_client()
    counts = {}
    for lines in (2, 5):
        cart_id = ready_cart(client, [(sku, 1) for sku in skus[:lines]])
        with counted_statements(engine) as (statements, _transactions):
            assert checkout_call(client, cart_id).status_code == 201
        counts[lines] = len(statements)
    per_line = 2 if engine.dialect.name == "sqlite" else 0
    assert counts[5] - counts[2] <= 3 * per_line, counts


def test_a_manual_checkout_claims_its_key_and_places_its_order_in_one_transaction(
    app, committed_db, skus, queued_jobs
):
    """The key's claim, the order, the payment start and the stored answer commit together:
    one transaction, not a claim of its own before the order's."""
    client = app.test_client()
    cart_id = ready_cart(client, [(sku, 1) for sku in skus[:3]])
    with counted_statements(committed_db.engine) as (statements, transactions):
        assert checkout_call(client, cart_id, {"payment_method": "manual"}).status_code == 201
    assert len(transactions) == 1, report(statements, transactions, BUDGET, 3)
    assert "idempotency_records" in statements[0], "the claim is the transaction's first statement"


def test_a_repeated_checkout_compiles_none_of_its_statements_again(app, committed_db, skus, queued_jobs):
    """Every statement of a checkout comes from SQLAlchemy's compiled cache once one checkout
    has run: compiling a statement costs as much CPU as running it. (Dialect INSERTs with ON
    CONFLICT are never cached; the idempotency claim is text for that reason.)"""
    client = app.test_client()
    engine = committed_db.engine
    assert checkout_call(client, ready_cart(client, [(sku, 1) for sku in skus[:3]])).status_code == 201
    cart_id = ready_cart(client, [(sku, 1) for sku in skus[1:4]])
    compiled: list[tuple[str, str]] = []

    def on_statement(_connection, _cursor, statement, _parameters, context, _executemany):
        if context is not None and context.compiled is not None:
            compiled.append((context.cache_hit.name, " ".join(statement.split())[:110]))

    event.listen(engine, "before_cursor_execute", on_statement)
    try:
        assert checkout_call(client, cart_id).status_code == 201
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
    assert compiled
    assert [entry for entry in compiled if entry[0] != CacheStats.CACHE_HIT.name] == []


def test_an_order_is_numbered_in_its_own_insert_on_postgresql(app, committed_db, skus, queued_jobs):
    """The number (100000 + id) comes back from the order's INSERT (a trigger sets it), not
    from an UPDATE that would write a new version of the row into all of orders' indexes.
    SQLite, which has no such trigger, numbers the order in an UPDATE: the same number."""
    client = app.test_client()
    cart_id = ready_cart(client, [(skus[0], 1)])
    with counted_statements(committed_db.engine) as (statements, _transactions):
        response = checkout_call(client, cart_id)
    assert response.status_code == 201
    order_id = committed_db.session.scalar(
        select(Order.id).where(Order.number == response.get_json()["number"])
    )
    assert response.get_json()["number"] == str(100000 + order_id)
    updates = [sql for sql in statements if sql.startswith("UPDATE orders")]
    assert len(updates) == (1 if committed_db.engine.dialect.name == "sqlite" else 0), updates


def test_an_order_inserted_with_its_number_keeps_it(db):
    """The trigger numbers only orders that come without one (an import, the bench's bulk
    load of a purchase history): a number given is stored as given."""
    order = an_order(CustomerFactory(), utcnow(), number="ARCHIVE-7")
    db.session.expire(order, ["number"])
    assert order.number == "ARCHIVE-7"
