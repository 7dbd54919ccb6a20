"""Shipping under real concurrency (PostgreSQL): staff shipping the same units of an order
at the same moment are served one after the other on the locked order row; one shipment
is made, the others are refused cleanly, and the ledger, the stock levels and the order's
shipped quantities agree.

Each packer is a thread with its own app context and test client (so its own session and
connection), all released at once by a barrier. Anything but a 201 or a clean 409 (what
would be a 500 is an exception here) fails the test.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select

from app.blueprints.fulfilment.models import Shipment, ShipmentLine
from app.blueprints.inventory import receipts
from app.blueprints.inventory.ledger import ledger_mismatches
from app.blueprints.inventory.models import InventoryMovement, StockLevel
from app.blueprints.orders.order_models import Order, OrderLine
from app.core.transaction import transaction
from tests.concurrency import run_at_once
from tests.factories.auth import UserFactory, make_token
from tests.factories.catalog import LocationFactory, ProductFactory
from tests.factories.orders import tax_rates, zone_with_methods
from tests.fulfilment.shipment_helpers import Staff, pay
from tests.orders.checkout_helpers import place_order_directly

PACKERS = 6


@dataclass
class Outcome:
    status: int | None = None
    body: dict | None = None
    error: BaseException | None = None

    @property
    def code(self) -> str | None:
        return (self.body or {}).get("code")


def race(app, requests) -> list[Outcome]:
    """Run each `request(client)` with its own test client, all released at once."""

    def answered(request):
        response = request(app.test_client())
        return Outcome(status=response.status_code, body=response.get_json())

    results = run_at_once(app, [lambda request=request: answered(request) for request in requests])
    return [result if isinstance(result, Outcome) else Outcome(error=result) for result in results]


def test_packers_shipping_the_same_units_at_once_make_one_shipment_and_the_ledger_agrees(app, concurrent):
    db = concurrent
    with transaction():
        tax_rates("NL", {"standard": 21})
        zone_with_methods("Netherlands", ["NL"], [{"code": "standard", "flat_rate": Decimal("4.95")}])
        location = LocationFactory()
        teapot = ProductFactory(price=Decimal("20.00")).variants[0]
        cup = ProductFactory(price=Decimal("5.00")).variants[0]
        for variant in (teapot, cup):
            receipts.receive_stock(
                location=location, lines=[receipts.ReceiptLineInput(variant.id, 10)], actor=None
            )
        # One token each: a token's first use writes its row, which would line the packers up.
        tokens = [
            make_token(UserFactory(roles=["support"]), ["fulfilment.read", "fulfilment.ship"])
            for _ in range(PACKERS)
        ]
        ids = {"location": location.id, "teapot": teapot.id, "cup": cup.id}
    variant = type(teapot)
    order = pay(
        place_order_directly(
            [(db.session.get(variant, ids["teapot"]), 3), (db.session.get(variant, ids["cup"]), 1)]
        ),
        actor=Staff(),
    )
    number, reference = order.number, order.reference
    line_id = order.lines[0].id  # the teapots; the cup stays behind, so the order stays open
    db.session.remove()
    body = {"location_id": ids["location"], "lines": [{"order_line_id": line_id, "quantity": 3}]}

    outcomes = race(
        app,
        [
            lambda c, token=token: c.post(
                f"/api/v1/admin/orders/{number}/shipments",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            )
            for token in tokens
        ],
    )

    assert [o.error for o in outcomes if o.error] == []
    statuses = Counter((o.status, o.code) for o in outcomes)
    assert statuses[(201, None)] == 1, statuses
    assert statuses[(409, "too_many_units")] == PACKERS - 1, statuses
    assert db.session.scalar(select(func.count()).select_from(Shipment)) == 1
    assert db.session.scalar(select(func.sum(ShipmentLine.quantity))) == 3
    shipped = db.session.execute(
        select(func.sum(InventoryMovement.on_hand_delta), func.sum(InventoryMovement.reserved_delta)).where(
            InventoryMovement.reference == reference, InventoryMovement.kind == "shipment"
        )
    ).one()
    assert tuple(shipped) == (-3, -3)
    level = db.session.get(StockLevel, (ids["teapot"], ids["location"]))
    assert (level.on_hand, level.reserved) == (7, 0)
    assert db.session.get(OrderLine, line_id).shipped_quantity == 3
    order = db.session.scalar(select(Order).where(Order.number == number))
    assert (order.status, order.fulfilment_status) == ("partially_shipped", "partially_fulfilled")
    assert ledger_mismatches() == []


def test_two_orders_shipped_at_once_from_one_shelf_each_take_their_own_units(app, concurrent):
    db = concurrent
    with transaction():
        tax_rates("NL", {"standard": 21})
        zone_with_methods("Netherlands", ["NL"], [{"code": "standard", "flat_rate": Decimal("4.95")}])
        location = LocationFactory()
        teapot = ProductFactory(price=Decimal("20.00")).variants[0]
        receipts.receive_stock(location=location, lines=[receipts.ReceiptLineInput(teapot.id, 4)], actor=None)
        tokens = [make_token(UserFactory(roles=["support"]), ["fulfilment.ship"]) for _ in range(2)]
        location_id, teapot_id = location.id, teapot.id
    orders = [
        pay(place_order_directly([(db.session.get(type(teapot), teapot_id), 2)]), actor=Staff())
        for _ in range(2)
    ]
    numbers = [order.number for order in orders]
    db.session.remove()

    outcomes = race(
        app,
        [
            lambda c, number=number, token=token: c.post(
                f"/api/v1/admin/orders/{number}/shipments",
                json={"location_id": location_id},
                headers={"Authorization": f"Bearer {token}"},
            )
            for number, token in zip(numbers, tokens, strict=True)
        ],
    )

    assert [(o.error, o.status) for o in outcomes] == [(None, 201), (None, 201)], [o.body for o in outcomes]
    level = db.session.get(StockLevel, (teapot_id, location_id))
    assert (level.on_hand, level.reserved) == (0, 0)
    assert ledger_mismatches() == []
