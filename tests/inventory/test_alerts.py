"""Low-stock alerts: one per crossing (not one per order), resolved on restock, one
email per alert per subscriber; the periodic check catches what no movement crossed."""

from __future__ import annotations

from sqlalchemy import select

from app.blueprints.inventory import alerts, jobs, reservations, services
from app.blueprints.inventory.models import StockAlert
from app.core.models import AuditEntry
from app.core.transaction import transaction
from tests.factories.auth import UserFactory
from tests.factories.catalog import LocationFactory
from tests.inventory.helpers import make_variant, outbox_to, receive


def alert_rows(db):
    return [
        (a.status, a.threshold, a.available_at_raise)
        for a in db.session.scalars(select(StockAlert).order_by(StockAlert.id))
    ]


def order(variant, quantity, number):
    with transaction():
        reservations.reserve([(variant.id, quantity)], reference=f"order:{number}")


def test_orders_crossing_the_threshold_raise_one_alert_not_one_per_order(db, warehouse):
    variant = make_variant(low_stock_threshold=3)
    receive(variant, warehouse, 6)
    for number in range(5):
        order(variant, 1, number)
    assert alert_rows(db) == [("open", 3, 3)]


def test_restocking_above_the_threshold_resolves_the_alert_and_a_new_crossing_raises_a_new_one(db, warehouse):
    variant = make_variant(low_stock_threshold=3)
    receive(variant, warehouse, 4)
    order(variant, 2, 1)
    with transaction():
        receive(variant, warehouse, 1)  # 3 available: still low
    assert alert_rows(db) == [("open", 3, 2)]
    with transaction():
        receive(variant, warehouse, 10)
    assert [row[0] for row in alert_rows(db)] == ["resolved"]
    order(variant, 11, 2)
    assert [row[0] for row in alert_rows(db)] == ["resolved", "open"]


def test_the_threshold_falls_back_to_the_location_then_the_app_default(app, db):
    shop = LocationFactory(code="S1", low_stock_threshold=8)
    depot = LocationFactory(code="D1")
    own, from_location, from_app = make_variant(low_stock_threshold=1), make_variant(), make_variant()
    assert alerts.threshold_for(own, shop) == 1
    assert alerts.threshold_for(from_location, shop) == 8
    assert alerts.threshold_for(from_app, depot) == app.config.get("LOW_STOCK_DEFAULT", 5)


def test_each_subscriber_gets_one_email_per_alert(db, warehouse, staff):
    subscriber, other = UserFactory(roles=["admin"]), UserFactory(roles=["admin"])
    with transaction():
        alerts.subscribe(subscriber, actor=subscriber)
        alerts.subscribe(subscriber, actor=subscriber)  # idempotent
    variant = make_variant(low_stock_threshold=2)
    with transaction():
        receive(variant, warehouse, 4, actor=staff)
    for number in range(3):
        order(variant, 1, number)
    [mail] = outbox_to(subscriber.email)
    assert variant.sku in mail.subject and "WH1" in mail.subject
    assert "2 available" in mail.text_body
    assert outbox_to(other.email) == []
    alert = db.session.scalar(select(StockAlert))
    assert alert.emailed_at is not None
    assert jobs.send_alert_email(alert.id) == 0  # a second run mails nobody
    assert len(outbox_to(subscriber.email)) == 1


def test_unsubscribed_staff_get_no_email_and_the_change_is_audited(db, warehouse, staff):
    with transaction():
        alerts.subscribe(staff, actor=staff)
        alerts.unsubscribe(staff, actor=staff)
    assert not alerts.is_subscribed(staff)
    variant = make_variant(low_stock_threshold=5)
    with transaction():
        receive(variant, warehouse, 6)
    order(variant, 1, 1)
    assert outbox_to(staff.email) == []
    actions = set(db.session.scalars(select(AuditEntry.action)))
    assert {"inventory.alerts_subscribed", "inventory.alerts_unsubscribed"} <= actions


def test_the_periodic_check_raises_for_levels_no_movement_crossed_and_resolves_the_rest(db, warehouse, staff):
    low, fine = make_variant(), make_variant()
    receive(low, warehouse, 3)  # started at or below the default threshold: nothing crossed
    receive(fine, warehouse, 20)
    assert alert_rows(db) == []
    assert jobs.check_low_stock() == {"raised": 1, "resolved": 0}
    assert alert_rows(db) == [("open", 5, 3)]
    assert jobs.check_low_stock() == {"raised": 0, "resolved": 0}  # idempotent

    low.low_stock_threshold = 2  # the threshold changed: 3 is no longer low
    db.session.flush()
    assert jobs.check_low_stock() == {"raised": 0, "resolved": 1}
    fine.low_stock_threshold = 25
    db.session.flush()
    assert jobs.check_low_stock() == {"raised": 1, "resolved": 0}


def test_inactive_variants_and_locations_raise_no_alert(db, warehouse):
    variant = make_variant(low_stock_threshold=10)
    receive(variant, warehouse, 12)
    variant.is_active = False
    db.session.flush()
    order_variant = make_variant(low_stock_threshold=10)
    receive(order_variant, warehouse, 12)
    warehouse.is_active = False
    db.session.flush()
    services.adjust_stock(variant, warehouse, -5, reason="damaged", actor=None)
    assert jobs.check_low_stock()["raised"] == 0
    assert alert_rows(db) == []


def test_an_alert_nobody_was_mailed_about_is_not_marked_emailed(db, warehouse):
    variant = make_variant(low_stock_threshold=2)
    receive(variant, warehouse, 3)
    order(variant, 1, 1)
    alert = db.session.scalar(select(StockAlert))
    assert alert.status == "open"
    assert jobs.send_alert_email(alert.id) == 0
    db.session.refresh(alert)
    assert alert.emailed_at is None
