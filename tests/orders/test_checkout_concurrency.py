"""Checkout under real concurrency (PostgreSQL): many shoppers racing for little stock
never oversell and every order holds exactly its own stock; a key sent several times at
once makes one order.

Each shopper is a thread with its own app context and test client (so its own session and
connection), and the checkouts start together at a barrier. Anything but a 201 or a clean
409 (what would be a 500 is an exception here) fails the test.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select

from app.blueprints.inventory import receipts
from app.blueprints.inventory.ledger import ledger_mismatches
from app.blueprints.inventory.models import Backorder, InventoryMovement, StockLevel
from app.blueprints.orders.order_models import Order, OrderLine
from app.core.transaction import transaction
from tests.concurrency import run_at_once
from tests.factories.catalog import LocationFactory, ProductFactory
from tests.factories.orders import tax_rates, zone_with_methods
from tests.orders.checkout_helpers import checkout_call, ready_cart

SHOPPERS = 10  # the connection pool holds 10 (DATABASE_POOL_SIZE 5 + DATABASE_MAX_OVERFLOW 5)


@dataclass
class Outcome:
    status: int | None = None
    body: dict | None = None
    replayed: bool = False
    error: BaseException | None = None

    @property
    def code(self) -> str | None:
        return (self.body or {}).get("code")


def receive(location, variant_id: int, units: int) -> None:
    receipts.receive_stock(
        location=location, lines=[receipts.ReceiptLineInput(variant_id, units)], actor=None
    )


def race(app, checkouts) -> list[Outcome]:
    """Run each `checkout(client)` with its own test client, all released at once."""

    def answered(checkout):
        response = checkout(app.test_client())
        replayed = response.headers.get("Idempotent-Replayed") == "true"
        return Outcome(status=response.status_code, body=response.get_json(), replayed=replayed)

    results = run_at_once(app, [lambda checkout=checkout: answered(checkout) for checkout in checkouts])
    return [result if isinstance(result, Outcome) else Outcome(error=result) for result in results]


def test_shoppers_racing_for_little_stock_never_oversell_and_each_order_holds_its_lines(app, concurrent):
    db = concurrent
    with transaction():
        tax_rates("NL", {"standard": 21})
        zone_with_methods("Netherlands", ["NL"], [{"code": "standard", "flat_rate": Decimal("4.95")}])
        location = LocationFactory()
        scarce = [ProductFactory(price=Decimal("10.00")).variants[0] for _ in range(3)]
        backorderable = ProductFactory(price=Decimal("20.00")).variants[0]
        backorderable.backorder_policy, backorderable.backorder_limit = "allow", 3
        variants = [*scarce, backorderable]
        for variant, units in zip(variants, (3, 4, 5, 2), strict=True):
            receive(location, variant.id, units)
        stocked = {variant.sku: units for variant, units in zip(variants, (3, 4, 5, 2), strict=True)}
        ids = {variant.sku: variant.id for variant in variants}
        location_id, backorderable_id = location.id, backorderable.id
    chance = random.Random(20261125)
    client = app.test_client()
    carts = [
        ready_cart(
            client,
            [(sku, chance.randint(1, 2)) for sku in chance.sample(sorted(stocked), chance.randint(1, 3))],
        )
        for _ in range(SHOPPERS)
    ]
    db.session.remove()

    outcomes = race(app, [lambda c, cart_id=cart_id: checkout_call(c, cart_id) for cart_id in carts])

    assert [o.error for o in outcomes if o.error] == []
    statuses = Counter((o.status, o.code) for o in outcomes)
    assert set(statuses) <= {(201, None), (409, "out_of_stock")}, statuses
    placed = [o.body["number"] for o in outcomes if o.status == 201]
    assert placed and len(placed) < SHOPPERS, statuses  # some sold, some refused: a real race

    orders = db.session.scalars(select(Order)).all()
    assert sorted(order.number for order in orders) == sorted(placed)
    # Every order holds exactly its lines' stock in the ledger, backorders apart.
    taken: dict[int, int] = defaultdict(int)
    for order in orders:
        held = dict(
            db.session.execute(
                select(InventoryMovement.variant_id, func.sum(InventoryMovement.reserved_delta))
                .where(InventoryMovement.reference == order.reference)
                .group_by(InventoryMovement.variant_id)
            ).all()
        )
        wanted = {line.variant_id: line.quantity - line.backordered_quantity for line in order.lines}
        assert held == {variant_id: units for variant_id, units in wanted.items() if units}, order.number
        for variant_id, units in wanted.items():
            taken[variant_id] += units
        waiting = db.session.scalar(
            select(func.coalesce(func.sum(Backorder.quantity), 0)).where(
                Backorder.reference == order.reference
            )
        )
        assert waiting == sum(line.backordered_quantity for line in order.lines), order.number
    # The levels: reserved is what the orders took, never more than on hand.
    for sku, units in stocked.items():
        level = db.session.get(StockLevel, (ids[sku], location_id))
        assert level.on_hand == units and level.reserved <= level.on_hand, sku
        assert level.reserved == taken[ids[sku]], sku
    assert ledger_mismatches() == []
    backordered = db.session.scalar(
        select(func.coalesce(func.sum(OrderLine.backordered_quantity), 0)).where(
            OrderLine.variant_id == backorderable_id
        )
    )
    assert backordered <= 3  # the variant's backorder limit


def test_one_key_sent_by_several_threads_at_once_makes_one_order(app, concurrent):
    db = concurrent
    with transaction():
        tax_rates("NL", {"standard": 21})
        zone_with_methods("Netherlands", ["NL"], [{"code": "standard", "flat_rate": Decimal("4.95")}])
        location = LocationFactory()
        variant = ProductFactory(price=Decimal("10.00")).variants[0]
        receive(location, variant.id, 50)
        sku, variant_id, location_id = variant.sku, variant.id, location.id
    cart_id = ready_cart(app.test_client(), [(sku, 2)])
    db.session.remove()

    outcomes = race(app, [lambda c: checkout_call(c, cart_id, key="one-click-many-tries")] * 6)

    assert [o.error for o in outcomes if o.error] == []
    first = [o for o in outcomes if o.status == 201 and not o.replayed]
    assert len(first) == 1, [(o.status, o.code, o.replayed) for o in outcomes]
    for other in outcomes:
        if other.status == 201:
            assert other.body == first[0].body  # a replay answers the first response
        else:
            assert (other.status, other.code) == (409, "idempotency_request_in_progress")
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1
    level = db.session.get(StockLevel, (variant_id, location_id))
    assert (level.on_hand, level.reserved) == (50, 2)


def test_one_cart_checked_out_at_once_with_different_keys_makes_one_order(app, concurrent):
    """A double click that sends a fresh key each time: the cart's row lock lines the
    checkouts up, and the later ones find the cart checked out."""
    db = concurrent
    with transaction():
        tax_rates("NL", {"standard": 21})
        zone_with_methods("Netherlands", ["NL"], [{"code": "standard", "flat_rate": Decimal("4.95")}])
        location = LocationFactory()
        variant = ProductFactory(price=Decimal("10.00")).variants[0]
        receive(location, variant.id, 50)
        sku, variant_id, location_id = variant.sku, variant.id, location.id
    cart_id = ready_cart(app.test_client(), [(sku, 1)])
    db.session.remove()

    outcomes = race(app, [lambda c: checkout_call(c, cart_id)] * 5)

    assert [o.error for o in outcomes if o.error] == []
    assert sorted((o.status, o.code) for o in outcomes) == [(201, None)] + [(409, "cart_not_open")] * 4
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1
    assert db.session.get(StockLevel, (variant_id, location_id)).reserved == 1
