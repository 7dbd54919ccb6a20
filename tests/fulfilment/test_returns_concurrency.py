"""Returns under real concurrency (PostgreSQL): two requests for the last returnable unit
at once make one return, and the same return received twice at once restocks once.

Each caller is a thread with its own app context (so its own session and connection),
released together at a barrier; both lock the order row first, so the second reads what
the first committed. Anything but the expected refusal fails the test.
"""

from __future__ import annotations

from sqlalchemy import func, select

from app.blueprints.fulfilment import return_queries, returns
from app.blueprints.fulfilment.models import ReturnRequest
from app.blueprints.inventory.models import InventoryMovement, StockLevel
from app.blueprints.orders import order_queries
from app.core.errors import DomainError
from app.core.transaction import transaction
from tests.concurrency import run_at_once
from tests.fulfilment.return_helpers import Staff, act, delivered_order, open_return
from tests.orders.checkout_helpers import make_shop

STAFF = Staff()


def race(app, *work) -> list[object]:
    """Run each callable at once; each outcome is what it returned or the DomainError it
    raised (anything else is kept as ("unexpected", error): what a 500 would have been)."""
    results = run_at_once(app, list(work), timeout=60)
    return [
        ("unexpected", result)
        if isinstance(result, BaseException) and not isinstance(result, DomainError)
        else result
        for result in results
    ]


def test_two_requests_for_the_last_unit_at_once_make_one_return(app, concurrent):
    db = concurrent
    with transaction():
        shop = make_shop()
    order = delivered_order(shop, [(shop.cup, 1)], staff=STAFF)
    number, line_id = order.number, order.lines[0].id
    db.session.remove()

    def ask() -> str:
        with transaction():
            locked = order_queries.order_by_number(number, for_update=True)
            ret = returns.request_return(
                locked, lines={line_id: 1}, reason="damaged", actor=STAFF, opened_by_staff=True
            )
            return ret.number

    outcomes = race(app, ask, ask)

    made = [outcome for outcome in outcomes if isinstance(outcome, str)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, DomainError)]
    assert made == [f"R{number}-1"], outcomes
    assert len(refused) == 1 and refused[0].errors == {f"lines.{line_id}": ["Already in a return."]}
    assert db.session.scalar(select(func.count()).select_from(ReturnRequest)) == 1


def test_receiving_the_same_return_twice_at_once_restocks_once(app, concurrent):
    db = concurrent
    with transaction():
        shop = make_shop()
    order = delivered_order(shop, [(shop.cup, 3)], staff=STAFF)
    line_id = order.lines[0].id
    ret = act(open_return(order, {line_id: 3}, actor=STAFF), "approve", actor=STAFF)
    number, return_id = ret.number, ret.id
    variant_id, location_id = shop.cup.id, shop.location.id
    before = db.session.get(StockLevel, (variant_id, location_id)).on_hand
    db.session.remove()

    def receive() -> str:
        with transaction():
            locked = return_queries.locked_return(number)
            returns.receive(locked, actor=STAFF, inspections={line_id: (3, 0, "")}, location_id=location_id)
            return locked.status

    outcomes = race(app, receive, receive)

    refusals = [outcome for outcome in outcomes if isinstance(outcome, DomainError)]
    assert [outcome for outcome in outcomes if outcome == "received"] == ["received"], outcomes
    assert len(refusals) == 1 and refusals[0].code == "invalid_transition"
    assert db.session.get(StockLevel, (variant_id, location_id)).on_hand == before + 3
    restocks = db.session.scalars(
        select(InventoryMovement).where(InventoryMovement.reference == f"return:{return_id}")
    ).all()
    assert [(movement.kind, movement.on_hand_delta) for movement in restocks] == [("return_restock", 3)]
