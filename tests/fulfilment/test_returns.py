"""The returns service: what can be returned (delivered, within the window, not in another
return), the state machine (every pair of states), restock through the stock ledger and
write-offs, and the timeline, audit entries and events each step leaves."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from app.blueprints.fulfilment import returns
from app.blueprints.fulfilment.models import RETURN_STATUSES, ReturnRequest
from app.blueprints.inventory.models import InventoryMovement, StockLevel
from app.blueprints.orders.order_models import OrderEvent
from app.core import events
from app.core.errors import Conflict, InvalidInput
from app.core.models import AuditEntry
from app.extensions import db
from tests.factories.catalog import LocationFactory
from tests.factories.customers import CustomerFactory
from tests.fulfilment.return_helpers import (
    Staff,
    act,
    add_shipment,
    days_ago,
    delivered_order,
    line_of,
    open_return,
    receive_all,
    return_in_state,
    shipped_order,
)
from tests.orders.checkout_helpers import make_shop, place_order_directly

STAFF = Staff()


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def changes():
    """The `return.changed` events dispatched during the test: [(return id, status)]."""
    seen: list[tuple[int, str]] = []

    def listen(event):
        seen.append((event.payload["return_id"], event.payload["status"]))

    events.LISTENERS["return.changed"].append(listen)
    try:
        yield seen
    finally:
        events.LISTENERS["return.changed"].remove(listen)


def on_hand(variant, location) -> int:
    db.session.expire_all()
    return db.session.get(StockLevel, (variant.id, location.id)).on_hand


def return_events(order) -> list[OrderEvent]:
    return list(
        db.session.scalars(
            select(OrderEvent)
            .where(OrderEvent.order_id == order.id, OrderEvent.kind == "return")
            .order_by(OrderEvent.id)
        )
    )


# ---- what can be returned ------------------------------------------------------------------


def test_units_of_a_delivered_shipment_are_returnable_within_the_window(shop):
    order = delivered_order(shop, [(shop.teapot, 2), (shop.cup, 3)], staff=STAFF, delivered_at=days_ago(3))

    lines = {entry.line.variant_id: entry for entry in returns.returnable(order)}

    teapot, cup = lines[shop.teapot.id], lines[shop.cup.id]
    assert (teapot.delivered, teapot.in_returns, teapot.returnable) == (2, 0, 2)
    assert (cup.delivered, cup.returnable) == (3, 3)
    assert teapot.window_open and teapot.can_return
    assert (teapot.window_closes_at - teapot.delivered_at).days == 30


def test_only_units_of_delivered_shipments_count_as_delivered(shop):
    order = shipped_order(shop, [(shop.teapot, 2), (shop.cup, 3)], staff=STAFF)
    teapot, cup = line_of(order, shop.teapot), line_of(order, shop.cup)
    add_shipment(order, shop.location, {teapot: 1})
    add_shipment(order, shop.location, {teapot: 1, cup: 3}, status="in_transit")

    lines = {entry.order_line_id: entry for entry in returns.returnable(order)}

    assert (lines[teapot].delivered, lines[cup].delivered) == (1, 0)
    assert lines[cup].delivered_at is None and not lines[cup].window_open
    with pytest.raises(InvalidInput) as refused:
        open_return(order, {cup: 1}, actor=STAFF)
    assert refused.value.errors == {f"lines.{cup}": ["Not delivered yet."]}
    with pytest.raises(InvalidInput):
        open_return(order, {teapot: 2}, actor=STAFF)
    assert open_return(order, {teapot: 1}, actor=STAFF).status == "requested"


def test_an_order_marked_delivered_without_shipments_counts_its_shipped_units_from_the_delivered_event(shop):
    order = delivered_order(shop, [(shop.cup, 4)], staff=STAFF, via="order", delivered_at=days_ago(10))

    [cup] = returns.returnable(order)

    assert (cup.delivered, cup.returnable, cup.window_open) == (4, 4, True)
    assert abs((cup.delivered_at - days_ago(10)).total_seconds()) < 60


def test_the_window_closes_return_window_days_after_delivery(app, shop):
    order = delivered_order(shop, [(shop.cup, 1)], staff=STAFF, delivered_at=days_ago(31))
    [cup] = returns.returnable(order)
    assert not cup.window_open and cup.returnable == 1 and not cup.can_return

    with pytest.raises(Conflict) as refused:
        open_return(order, {cup.order_line_id: 1}, actor=STAFF)
    assert refused.value.code == "return_window_closed"
    assert refused.value.errors == {f"lines.{cup.order_line_id}": ["The return window has closed."]}

    app.config["RETURN_WINDOW_DAYS"] = 60
    try:
        assert open_return(order, {cup.order_line_id: 1}, actor=STAFF).status == "requested"
    finally:
        app.config["RETURN_WINDOW_DAYS"] = 30


def test_an_order_with_nothing_delivered_cannot_be_returned(shop):
    for order in (
        place_order_directly([(shop.cup, 1)]),
        shipped_order(shop, [(shop.cup, 1)], staff=STAFF),
    ):
        with pytest.raises(Conflict) as refused:
            open_return(order, {order.lines[0].id: 1}, actor=STAFF)
        assert refused.value.code == "not_delivered"


def test_quantities_above_what_was_delivered_or_already_returned_are_refused(shop):
    order = delivered_order(shop, [(shop.cup, 3)], staff=STAFF)
    cup = order.lines[0].id

    with pytest.raises(InvalidInput) as refused:
        open_return(order, {cup: 4}, actor=STAFF)
    assert refused.value.errors == {f"lines.{cup}": ["At most 3 can be returned."]}

    open_return(order, {cup: 2}, actor=STAFF)
    with pytest.raises(InvalidInput) as refused:
        open_return(order, {cup: 2}, actor=STAFF)
    assert refused.value.errors == {f"lines.{cup}": ["At most 1 can be returned."]}
    open_return(order, {cup: 1}, actor=STAFF)
    with pytest.raises(InvalidInput) as refused:
        open_return(order, {cup: 1}, actor=STAFF)
    assert refused.value.errors == {f"lines.{cup}": ["Already in a return."]}


@pytest.mark.parametrize(
    ("lines", "reason", "note", "errors"),
    [
        ({}, "damaged", "", {"lines"}),
        ({"LINE": 0}, "damaged", "", {"lines.LINE"}),
        ({"LINE": -1}, "damaged", "", {"lines.LINE"}),
        ({"LINE": 1.5}, "damaged", "", {"lines.LINE"}),
        ({"LINE": True}, "damaged", "", {"lines.LINE"}),
        ({"LINE": 1}, "broken", "", {"reason"}),
        ({"LINE": 1}, "damaged", "x" * 2001, {"note"}),
        ({999999: 1}, "damaged", "", {"lines.999999"}),
    ],
)
def test_bad_requests_are_field_errors(shop, lines, reason, note, errors):
    order = delivered_order(shop, [(shop.cup, 2)], staff=STAFF)
    line_id = order.lines[0].id
    lines = {line_id if key == "LINE" else key: value for key, value in lines.items()}

    with pytest.raises(InvalidInput) as refused:
        open_return(order, lines, actor=STAFF, reason=reason, note=note)

    assert set(refused.value.errors) == {name.replace("LINE", str(line_id)) for name in errors}
    assert db.session.scalars(select(ReturnRequest)).all() == []


def test_units_of_rejected_returns_and_of_returns_closed_before_arrival_can_be_asked_for_again(shop):
    order = delivered_order(shop, [(shop.cup, 1)], staff=STAFF)
    cup = order.lines[0].id

    rejected = return_in_state(order, "rejected", actor=STAFF, location=shop.location)
    never_came = return_in_state(order, "closed", actor=STAFF, location=shop.location)
    received = return_in_state(order, "received", actor=STAFF, location=shop.location)

    assert [rejected.status, never_came.status, received.status] == ["rejected", "closed", "received"]
    act(received, "close", actor=STAFF, note="Exchanged for another colour")
    [entry] = returns.returnable(order)
    assert (entry.in_returns, entry.returnable) == (1, 0)  # a return closed after arrival holds its units
    with pytest.raises(InvalidInput):
        open_return(order, {cup: 1}, actor=STAFF)


# ---- the request ---------------------------------------------------------------------------


def test_a_request_is_numbered_per_order_and_recorded_on_the_timeline(shop, changes):
    ada = CustomerFactory()
    order = delivered_order(shop, [(shop.teapot, 1), (shop.cup, 3)], staff=STAFF, customer=ada)
    teapot, cup = line_of(order, shop.teapot), line_of(order, shop.cup)

    first = open_return(order, {cup: 2, teapot: 1}, actor=ada, reason="not_as_described", note="Too small")
    second_order_return = return_in_state(
        order, "rejected", actor=STAFF, location=shop.location, lines={cup: 1}
    )

    assert first.number == f"R{order.number}-1" and second_order_return.number == f"R{order.number}-2"
    assert (first.status, first.reason, first.customer_note, first.staff_note) == (
        "requested",
        "not_as_described",
        "Too small",
        "",
    )
    assert first.customer_id == ada.id and first.opened_by_id is None and first.requested_at
    assert sorted((line.order_line_id, line.quantity) for line in first.lines) == sorted(
        [(cup, 2), (teapot, 1)]
    )
    event = return_events(order)[0]
    assert event.data["return"] == first.number and event.data["status"] == "requested"
    assert event.data["lines"] == {str(teapot): 1, str(cup): 2}
    assert event.to_status is None and event.from_status is None  # not an order status change
    assert "Too small" in event.note and "2 × Cup" in event.note
    assert event.actor_label == f"customer {ada.email}"
    # A customer's request is not a staff action: nothing in the audit log.
    assert (
        db.session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "return.requested", AuditEntry.target_id == str(first.id)
            )
        ).all()
        == []
    )
    assert (first.id, "requested") in changes


def test_staff_opening_a_return_is_audited_and_their_note_stays_internal(shop, db):
    from tests.factories.auth import UserFactory

    staff = UserFactory()
    order = delivered_order(shop, [(shop.cup, 2)], staff=STAFF)

    ret = open_return(order, {order.lines[0].id: 1}, actor=staff, note="Called: the handle broke", staff=True)

    assert (ret.opened_by_id, ret.customer_note, ret.staff_note) == (staff.id, "", "Called: the handle broke")
    [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "return.requested")).all()
    assert entry.actor_id == staff.id and entry.target_id == str(ret.id) and order.number in entry.summary


# ---- the state machine ---------------------------------------------------------------------


def attempt(ret, to_status, location):
    if to_status == "approved":
        return act(ret, "approve", actor=STAFF, note="")
    if to_status == "rejected":
        return act(ret, "reject", actor=STAFF, reason="Worn")
    if to_status == "received":
        return receive_all(ret, actor=STAFF, location=location)
    if to_status == "refunded":
        return act(ret, "mark_refunded", actor=STAFF, refund_id=7)
    if to_status == "closed":
        return act(ret, "close", actor=STAFF, note="Done")
    raise AssertionError(f"nothing moves a return to {to_status}")


PAIRS = [
    (a, b)
    for a, b in itertools.product(RETURN_STATUSES, RETURN_STATUSES)
    if b != "requested" and (a, b) != ("refunded", "refunded")
]


@pytest.mark.parametrize(("from_status", "to_status"), PAIRS)
def test_every_move_the_table_allows_works_and_every_other_is_an_invalid_transition(
    shop, from_status, to_status
):
    order = delivered_order(shop, [(shop.cup, 2)], staff=STAFF)
    ret = return_in_state(order, from_status, actor=STAFF, location=shop.location)
    assert ret.status == from_status

    if to_status in returns.ALLOWED[from_status]:
        assert attempt(ret, to_status, shop.location).status == to_status
    else:
        with pytest.raises(Conflict) as refused:
            attempt(ret, to_status, shop.location)
        assert refused.value.code == "invalid_transition"
        db.session.expire_all()
        assert db.session.get(ReturnRequest, ret.id).status == from_status


def test_nothing_moves_a_return_back_to_requested_and_final_states_are_final():
    assert not any(returns.can_move(status, "requested") for status in RETURN_STATUSES)
    assert [s for s in RETURN_STATUSES if not returns.ALLOWED[s]] == ["rejected", "refunded", "closed"]
    assert set(returns.ALLOWED) == set(RETURN_STATUSES)


def test_reject_needs_a_reason_and_close_a_note(shop):
    order = delivered_order(shop, [(shop.cup, 2)], staff=STAFF)
    ret = open_return(order, {order.lines[0].id: 1}, actor=STAFF)
    with pytest.raises(InvalidInput) as refused:
        act(ret, "reject", actor=STAFF, reason="  ")
    assert refused.value.errors == {"reason": ["Required."]}
    ret = act(ret, "approve", actor=STAFF, note="OK to send")
    with pytest.raises(InvalidInput) as refused:
        act(ret, "close", actor=STAFF, note="")
    assert refused.value.errors == {"note": ["Required."]}


def test_a_second_refund_for_a_refunded_return_is_recorded_without_a_new_status(shop, changes):
    order = delivered_order(shop, [(shop.cup, 2)], staff=STAFF)
    ret = return_in_state(order, "refunded", actor=STAFF, location=shop.location)
    changes.clear()

    again = act(ret, "mark_refunded", actor=STAFF, refund_id=8)

    assert again.status == "refunded" and changes == []
    assert [e.data.get("refund_id") for e in return_events(order)][-2:] == [1, 8]


# ---- receiving: restock and write-off ------------------------------------------------------


def test_receiving_restocks_through_the_ledger_and_records_write_offs(shop, db):
    order = delivered_order(shop, [(shop.teapot, 2), (shop.cup, 3)], staff=STAFF)
    teapot, cup = line_of(order, shop.teapot), line_of(order, shop.cup)
    returns_desk = LocationFactory(code="RET", name="Returns desk")
    ret = act(open_return(order, {teapot: 2, cup: 3}, actor=STAFF), "approve", actor=STAFF)
    teapots_before = on_hand(shop.teapot, shop.location)

    received = act(
        ret,
        "receive",
        actor=STAFF,
        inspections={teapot: (1, 1, "Cracked lid"), cup: (3, 0, "")},
        location_id=returns_desk.id,
    )

    assert (
        received.status == "received"
        and received.received_at
        and received.restock_location_id == returns_desk.id
    )
    lines = {line.order_line_id: line for line in received.lines}
    assert (lines[teapot].restocked_quantity, lines[teapot].written_off_quantity) == (1, 1)
    assert lines[teapot].write_off_reason == "Cracked lid"
    assert (lines[cup].restocked_quantity, lines[cup].written_off_quantity, lines[cup].write_off_reason) == (
        3,
        0,
        "",
    )
    assert on_hand(shop.teapot, returns_desk) == 1 and on_hand(shop.cup, returns_desk) == 3
    assert on_hand(shop.teapot, shop.location) == teapots_before  # restocked where staff said
    movements = db.session.scalars(
        select(InventoryMovement).where(InventoryMovement.reference == f"return:{ret.id}")
    ).all()
    assert sorted((m.variant_id, m.kind, m.on_hand_delta, m.reserved_delta) for m in movements) == sorted(
        [(shop.teapot.id, "return_restock", 1, 0), (shop.cup.id, "return_restock", 3, 0)]
    )
    event = return_events(order)[-1]
    assert event.data["restocked"] == {shop.teapot.sku: 1, shop.cup.sku: 3}
    assert event.data["written_off"] == {shop.teapot.sku: [1, "Cracked lid"]}
    assert event.data["location"] == "RET"
    [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "return.received")).all()
    assert "1 written off" in entry.summary and entry.data["location"] == "RET"


def test_writing_everything_off_needs_no_location_and_moves_no_stock(shop, db):
    order = delivered_order(shop, [(shop.cup, 2)], staff=STAFF)
    ret = act(open_return(order, {order.lines[0].id: 2}, actor=STAFF), "approve", actor=STAFF)

    received = act(
        ret, "receive", actor=STAFF, inspections={order.lines[0].id: (0, 2, "Shattered")}, location_id=None
    )

    assert received.status == "received" and received.restock_location_id is None
    assert (
        db.session.scalars(
            select(InventoryMovement).where(InventoryMovement.reference == f"return:{ret.id}")
        ).all()
        == []
    )


@pytest.mark.parametrize(
    ("inspection", "location", "errors"),
    [
        ((1, 0, ""), "ok", {"lines.LINE"}),  # 1 of 2
        ((2, 1, "x"), "ok", {"lines.LINE"}),  # 3 of 2
        ((0, 2, " "), "ok", {"lines.LINE.write_off_reason"}),
        ((-1, 3, "x"), "ok", {"lines.LINE"}),
        ((2, 0, ""), None, {"location_id"}),
        ((2, 0, ""), "inactive", {"location_id"}),
        (None, "ok", {"lines.LINE"}),  # the line is not inspected
    ],
)
def test_an_incomplete_inspection_is_refused_and_changes_nothing(shop, db, inspection, location, errors):
    order = delivered_order(shop, [(shop.cup, 2)], staff=STAFF)
    line_id = order.lines[0].id
    ret = act(open_return(order, {line_id: 2}, actor=STAFF), "approve", actor=STAFF)
    closed = LocationFactory(is_active=False)
    location_id = {"ok": shop.location.id, None: None, "inactive": closed.id}[location]
    inspections = {line_id: inspection} if inspection else {}

    with pytest.raises(InvalidInput) as refused:
        act(ret, "receive", actor=STAFF, inspections=inspections, location_id=location_id)

    assert set(refused.value.errors) == {name.replace("LINE", str(line_id)) for name in errors}
    db.session.expire_all()
    assert db.session.get(ReturnRequest, ret.id).status == "approved"


def test_an_inspection_naming_a_line_outside_the_return_is_refused(shop):
    order = delivered_order(shop, [(shop.teapot, 1), (shop.cup, 2)], staff=STAFF)
    teapot, cup = line_of(order, shop.teapot), line_of(order, shop.cup)
    ret = act(open_return(order, {cup: 2}, actor=STAFF), "approve", actor=STAFF)

    with pytest.raises(InvalidInput) as refused:
        act(
            ret,
            "receive",
            actor=STAFF,
            inspections={cup: (2, 0, ""), teapot: (1, 0, "")},
            location_id=shop.location.id,
        )
    assert set(refused.value.errors) == {f"lines.{teapot}"}


# ---- every step leaves a trace -------------------------------------------------------------


def test_every_step_is_on_the_order_timeline_audited_and_announced(shop, db, changes):
    from tests.factories.auth import UserFactory

    staff = UserFactory()
    order = delivered_order(shop, [(shop.cup, 2)], staff=STAFF)
    ret = open_return(order, {order.lines[0].id: 2}, actor=staff, staff=True)
    act(ret, "approve", actor=staff, note="Label sent")
    receive_all(ret, actor=staff, location=shop.location, write_off=1)
    act(ret, "mark_refunded", actor=staff, refund_id=3)

    steps = [(e.data["previous"], e.data["status"]) for e in return_events(order)]
    assert steps == [
        (None, "requested"),
        ("requested", "approved"),
        ("approved", "received"),
        ("received", "refunded"),
    ]
    assert all(e.actor_id == staff.id and e.to_status is None for e in return_events(order))
    audited = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.target_type == "ReturnRequest").order_by(AuditEntry.id)
    ).all()
    assert audited == ["return.requested", "return.approved", "return.received", "return.refunded"]
    assert [status for return_id, status in changes if return_id == ret.id] == [
        "requested",
        "approved",
        "received",
        "refunded",
    ]
    assert "Label sent" in return_events(order)[1].note
