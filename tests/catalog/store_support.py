"""What the storefront catalog tests share: a StockView the test controls, statement
counting, and problem+json checks."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date

from sqlalchemy import event, select

from app.blueprints.catalog import stock
from app.blueprints.catalog.models import Variant
from app.blueprints.catalog.stock import BACKORDER, IN_STOCK, OUT_OF_STOCK, VariantAvailability

STORE = "/api/v1/store"


class FakeStock:
    """Availability the test sets per variant; anything else is out of stock."""

    def __init__(self):
        self.states: dict[int, VariantAvailability] = {}
        self.calls: list[list[int]] = []

    def in_stock(self, variant: Variant, available: int = 5) -> None:
        self.states[variant.id] = VariantAvailability(IN_STOCK, available)

    def backorder(self, variant: Variant, restock: date | None = None) -> None:
        self.states[variant.id] = VariantAvailability(BACKORDER, 0, None, restock)

    def availability(self, variant_ids: list[int]) -> dict[int, VariantAvailability]:
        self.calls.append(list(variant_ids))
        return {i: self.states.get(i, VariantAvailability(OUT_OF_STOCK, 0, 0)) for i in variant_ids}

    def in_stock_condition(self, product_id):
        ids = [i for i, a in self.states.items() if a.state == IN_STOCK] or [-1]
        return select(Variant.id).where(Variant.product_id == product_id, Variant.id.in_(ids)).exists()


@contextmanager
def registered(view):
    """`view` as the StockView for the block, the previous one back afterwards."""
    previous = stock.stock_view()
    stock.register_stock_view(view)
    try:
        yield view
    finally:
        stock.register_stock_view(previous)


def reset_rate_limits() -> None:
    """A full rate-limit budget (the suite shares one client address)."""
    from app.extensions import limiter

    limiter.reset()


@contextmanager
def counted_statements(db):
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    return body
