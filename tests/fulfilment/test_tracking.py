"""The tracking service's rules: statuses move forward only, a delivered shipment is final
and delivers its order once every shipment arrived, an exception opens one delivery issue,
every event is on the order's timeline. The helpers here (a shipped order with shipments,
recording an event) serve the other tracking, webhook and issue tests too."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.blueprints.fulfilment import tracking
from app.blueprints.fulfilment.models import DeliveryIssue, Shipment, ShipmentLine, TrackingEvent
from app.blueprints.orders import lifecycle, order_queries, payments
from app.blueprints.orders.order_models import OrderEvent
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.events import LISTENERS
from app.core.models import AuditEntry
from app.core.timeutil import utcnow
from app.core.transaction import transaction
from app.extensions import db as database
from tests.factories.auth import UserFactory
from tests.orders.checkout_helpers import make_shop, place_order_directly

START = utcnow() - timedelta(days=2)  # when the parcels left; events follow by the hour


def at(hours: float):
    return START + timedelta(hours=hours)


def shipped_order(shop, *, parcels=(1,), left_to_ship=0, provider="parcelhub", staff=None):
    """A paid order of teapots sent in one shipment per entry of `parcels` (its units), each
    recorded as shipped through the orders lifecycle; `left_to_ship` units stay behind.
    Shipment rows are written here: the shipments service's own tests cover packing."""
    staff = staff or UserFactory()
    order = place_order_directly([(shop.teapot, sum(parcels) + left_to_ship)])
    with transaction():
        payments.mark_paid(order, actor=staff)
    shipments = []
    with transaction():
        order = order_queries.order_by_number(order.number, for_update=True)
        line = order.lines[0]
        for sequence, units in enumerate(parcels, start=1):
            number = f"{order.number}-{sequence}"
            shipment = Shipment(
                order_id=order.id,
                sequence=sequence,
                number=number,
                location_id=shop.location.id,
                provider=provider,
                carrier="DHL",
                service="dhl_parcel",
                tracking_number=f"PH{order.number}{sequence}",
                provider_reference=f"shp_{order.number}_{sequence}" if provider == "parcelhub" else "",
                status="label_created",
                lines=[ShipmentLine(order_line_id=line.id, quantity=units)],
            )
            database.session.add(shipment)
            database.session.flush()
            lifecycle.record_shipped_units(order, {line.id: units}, actor=staff, shipment_number=number)
            shipments.append(shipment)
    return order, shipments


def report(shipment, status, *, hours, source="parcelhub", **details) -> TrackingEvent:
    """What a carrier says about `shipment`, as its webhook would have it recorded."""
    with transaction():
        locked = tracking.shipment_by_number(shipment.number, for_update=True)
        event = tracking.record_tracking_event(
            locked, status, source=source, occurred_at=at(hours), **details
        )
    database.session.refresh(shipment)
    return event


def reload(entity):
    database.session.refresh(entity)
    return entity


def issues_of(shipment) -> list[DeliveryIssue]:
    return list(
        database.session.scalars(
            select(DeliveryIssue).where(DeliveryIssue.shipment_id == shipment.id).order_by(DeliveryIssue.id)
        )
    )


def order_events(order, kind) -> list[OrderEvent]:
    return list(
        database.session.scalars(
            select(OrderEvent)
            .where(OrderEvent.order_id == order.id, OrderEvent.kind == kind)
            .order_by(OrderEvent.id)
        )
    )


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def emitted():
    """The payloads of `shipment.tracking` as listeners hear them."""
    heard = []

    def listener(event):
        heard.append(event.payload)

    LISTENERS["shipment.tracking"].append(listener)
    yield heard
    LISTENERS["shipment.tracking"].remove(listener)


# ---- statuses ------------------------------------------------------------------------------------


def test_statuses_move_forward_and_a_late_earlier_one_is_kept_as_history(shop):
    _order, (shipment,) = shipped_order(shop)

    report(shipment, "picked_up", hours=1)
    report(shipment, "out_for_delivery", hours=3)
    late = report(shipment, "in_transit", hours=2)

    assert shipment.status == "out_for_delivery"
    assert late.id is not None and late.status == "in_transit"
    events = database.session.scalars(tracking.tracking_events_of(shipment)).all()
    assert [e.status for e in events] == ["out_for_delivery", "in_transit", "picked_up"]  # by when


def test_a_late_in_transit_after_delivered_is_kept_but_the_shipment_stays_delivered(shop):
    _order, (shipment,) = shipped_order(shop)
    report(shipment, "delivered", hours=5)

    report(shipment, "in_transit", hours=6, description="Scanned at hub")

    assert shipment.status == "delivered" and shipment.delivered_at == at(5)
    assert database.session.scalar(
        select(TrackingEvent.id).where(
            TrackingEvent.shipment_id == shipment.id, TrackingEvent.status == "in_transit"
        )
    )


@pytest.mark.parametrize(
    ("current", "status", "latest_hours", "hours", "after"),
    [
        ("label_created", "picked_up", None, 1, "picked_up"),
        ("in_transit", "picked_up", 2, 3, "in_transit"),  # never back, even if it says later
        ("in_transit", "in_transit", 2, 3, "in_transit"),
        ("out_for_delivery", "delivered", 2, 1, "delivered"),  # delivered wins, whenever
        ("delivered", "exception", 2, 3, "delivered"),
        ("delivered", "out_for_delivery", 2, 3, "delivered"),
        ("in_transit", "exception", 2, 3, "exception"),
        ("in_transit", "exception", 2, 1, "in_transit"),  # an old exception is history
        ("exception", "in_transit", 2, 3, "in_transit"),
        ("exception", "picked_up", 2, 3, "picked_up"),  # any status after an exception
        ("exception", "in_transit", 2, 1, "exception"),  # but not one from before it
    ],
)
def test_the_status_after_an_event(current, status, latest_hours, hours, after):
    latest = at(latest_hours) if latest_hours is not None else None

    assert tracking.status_after(current, status, occurred_at=at(hours), latest=latest) == after


def test_an_unknown_status_is_refused(shop):
    _order, (shipment,) = shipped_order(shop)

    with pytest.raises(InvalidInput) as refused:
        report(shipment, "teleported", hours=1)

    assert "status" in refused.value.errors


def test_the_estimated_delivery_follows_the_latest_word(shop):
    _order, (shipment,) = shipped_order(shop)

    report(shipment, "in_transit", hours=2, estimated_delivery=date(2026, 3, 5))
    report(shipment, "picked_up", hours=1, estimated_delivery=date(2026, 3, 9))  # late: ignored

    assert shipment.estimated_delivery == date(2026, 3, 5)


# ---- delivered ------------------------------------------------------------------------------------


def test_delivered_sets_delivered_at_and_delivers_the_order_in_the_carriers_name(shop):
    order, (shipment,) = shipped_order(shop)
    assert order.status == "shipped"

    report(shipment, "delivered", hours=4, location="Amsterdam")

    assert (shipment.status, shipment.delivered_at) == ("delivered", at(4))
    assert reload(order).status == "delivered"
    (moved,) = [e for e in order_events(order, "status") if e.to_status == "delivered"]
    assert (moved.from_status, moved.actor_label, moved.actor_id) == ("shipped", "ParcelHub", None)


def test_an_order_is_delivered_only_when_its_last_shipment_arrives(shop):
    order, (first, second) = shipped_order(shop, parcels=(1, 2))

    report(first, "delivered", hours=3)
    assert reload(order).status == "shipped"

    report(second, "delivered", hours=5)
    assert reload(order).status == "delivered"


def test_an_order_with_units_left_to_ship_stays_partially_shipped_when_its_parcels_arrive(shop):
    order, (shipment,) = shipped_order(shop, left_to_ship=1)
    assert order.status == "partially_shipped"

    report(shipment, "delivered", hours=3)

    assert shipment.status == "delivered" and reload(order).status == "partially_shipped"


def test_a_second_delivered_report_changes_nothing_more(shop):
    order, (shipment,) = shipped_order(shop)
    report(shipment, "delivered", hours=3)

    report(shipment, "delivered", hours=4)

    assert shipment.delivered_at == at(3)
    assert len([e for e in order_events(order, "status") if e.to_status == "delivered"]) == 1


# ---- exceptions and delivery issues --------------------------------------------------------------


def test_an_exception_opens_one_delivery_issue_and_a_second_one_adds_to_it(shop):
    order, (shipment,) = shipped_order(shop)

    first = report(shipment, "exception", hours=2, description="Address unknown", location="Utrecht")
    report(shipment, "exception", hours=3, description="Returned to depot")

    (issue,) = issues_of(shipment)
    assert (issue.status, issue.order_id, issue.tracking_event_id) == ("open", order.id, first.id)
    assert issue.summary == "Address unknown (Utrecht) · then: Returned to depot"
    (opened,) = order_events(order, "delivery_issue")
    assert opened.actor_label == "ParcelHub" and opened.data["issue_id"] == issue.id
    assert "Address unknown" in opened.note


def test_after_an_exception_a_later_status_moves_the_shipment_on_and_the_issue_stays_for_support(shop):
    _order, (shipment,) = shipped_order(shop)
    report(shipment, "out_for_delivery", hours=2)
    report(shipment, "exception", hours=3, description="Nobody home")

    report(shipment, "in_transit", hours=4, description="Back to the depot")

    assert shipment.status == "in_transit"
    assert [issue.status for issue in issues_of(shipment)] == ["open"]


def test_an_event_from_before_the_exception_does_not_clear_it(shop):
    _order, (shipment,) = shipped_order(shop)
    report(shipment, "exception", hours=3)

    report(shipment, "in_transit", hours=2)

    assert shipment.status == "exception"


def test_an_exception_reported_after_later_news_is_history_and_opens_no_issue(shop):
    _order, (shipment,) = shipped_order(shop)
    report(shipment, "in_transit", hours=4)

    report(shipment, "exception", hours=2, description="Delayed at sorting")

    assert shipment.status == "in_transit" and issues_of(shipment) == []


def test_an_exception_after_delivery_leaves_the_shipment_delivered_and_opens_no_issue(shop):
    order, (shipment,) = shipped_order(shop)
    report(shipment, "delivered", hours=3)

    report(shipment, "exception", hours=4)

    assert shipment.status == "delivered" and issues_of(shipment) == []
    assert reload(order).status == "delivered"


def test_after_an_issue_is_resolved_a_new_exception_opens_a_new_one(shop):
    from app.blueprints.fulfilment import delivery_issues

    _order, (shipment,) = shipped_order(shop)
    report(shipment, "exception", hours=2)
    with transaction():
        issue = delivery_issues.issue_by_id(issues_of(shipment)[0].id, for_update=True)
        delivery_issues.resolve_issue(issue, actor=UserFactory(), resolution="Address fixed with the carrier")

    report(shipment, "exception", hours=3, description="Damaged")

    assert [(i.status, i.summary) for i in issues_of(shipment)] == [
        ("resolved", "The carrier reported a problem"),
        ("open", "Damaged"),
    ]


# ---- the timeline and the outbound event ----------------------------------------------------------


def test_every_tracking_event_is_on_the_order_timeline_also_one_reported_late(shop):
    order, (shipment,) = shipped_order(shop)

    report(shipment, "out_for_delivery", hours=2, description="With the courier", location="Amsterdam")
    report(shipment, "in_transit", hours=1)

    entries = order_events(order, "tracking")
    assert [(e.data["status"], e.data["current"], e.actor_label) for e in entries] == [
        ("out_for_delivery", True, "ParcelHub"),
        ("in_transit", False, "ParcelHub"),
    ]
    assert entries[0].note == f"Shipment {shipment.number}: Out for delivery: With the courier (Amsterdam)"
    assert "Reported late: the shipment stays out for delivery." in entries[1].note


def test_shipment_tracking_is_emitted_for_news_not_for_history_nor_a_second_delivered(shop, emitted):
    _order, (shipment,) = shipped_order(shop)

    news = report(shipment, "out_for_delivery", hours=2)
    report(shipment, "in_transit", hours=1)
    delivered = report(shipment, "delivered", hours=3)
    report(shipment, "delivered", hours=4)  # scanned again

    assert emitted == [
        {
            "shipment_id": shipment.id,
            "tracking_event_id": news.id,
            "status": "out_for_delivery",
            "status_changed": True,
        },
        {
            "shipment_id": shipment.id,
            "tracking_event_id": delivered.id,
            "status": "delivered",
            "status_changed": True,
        },
    ]


# ---- recorded by staff -----------------------------------------------------------------------------


def staff_records(shipment, staff, status, **details) -> TrackingEvent:
    with transaction():
        locked = tracking.shipment_by_number(shipment.number, for_update=True)
        event = tracking.record_staff_tracking_event(locked, actor=staff, status=status, **details)
    database.session.refresh(shipment)
    return event


def test_a_tracking_event_by_staff_is_audited_and_named_on_the_timeline(shop):
    staff = UserFactory()
    order, (shipment,) = shipped_order(shop, provider="manual")

    event = staff_records(shipment, staff, "in_transit", description="Courier called", location="Depot")

    assert (event.source, shipment.status) == ("staff", "in_transit")
    entry = database.session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == "shipment.tracking_recorded", AuditEntry.target_id == str(shipment.id)
        )
    )
    assert entry.actor_id == staff.id and entry.data["status"] == "in_transit"
    (timeline,) = order_events(order, "tracking")
    assert (timeline.actor_id, timeline.actor_label) == (staff.id, staff.email)


def test_staff_marking_the_last_shipment_delivered_delivers_the_order_in_their_name(shop):
    staff = UserFactory()
    order, (shipment,) = shipped_order(shop, provider="manual")

    staff_records(shipment, staff, "delivered")

    assert reload(order).status == "delivered"
    (moved,) = [e for e in order_events(order, "status") if e.to_status == "delivered"]
    assert moved.actor_id == staff.id
    assert database.session.scalar(
        select(AuditEntry.id).where(
            AuditEntry.action == "order.status_changed", AuditEntry.actor_id == staff.id
        )
    )


def test_staff_cannot_add_to_the_tracking_of_a_delivered_shipment(shop):
    _order, (shipment,) = shipped_order(shop, provider="manual")
    staff_records(shipment, UserFactory(), "delivered")

    with pytest.raises(Conflict) as refused:
        staff_records(shipment, UserFactory(), "in_transit")

    assert refused.value.code == "shipment_delivered"


@pytest.mark.parametrize(
    ("status", "details", "field"),
    [
        ("label_created", {}, "status"),
        ("in_transit", {"description": "x" * 501}, "description"),
        ("in_transit", {"location": "x" * 201}, "location"),
        ("in_transit", {"occurred_at": utcnow() + timedelta(hours=1)}, "occurred_at"),
    ],
)
def test_a_staff_event_that_cannot_be_is_refused_with_the_field_named(shop, status, details, field):
    _order, (shipment,) = shipped_order(shop, provider="manual")

    with pytest.raises(InvalidInput) as refused:
        staff_records(shipment, UserFactory(), status, **details)

    assert field in refused.value.errors
    assert (
        database.session.scalar(select(TrackingEvent.id).where(TrackingEvent.shipment_id == shipment.id))
        is None
    )
    assert reload(shipment).status == "label_created"


def test_an_unknown_shipment_number_is_not_found(shop):
    with pytest.raises(NotFound) as missing:
        tracking.shipment_by_number("999999-9")

    assert missing.value.code == "shipment_not_found"
