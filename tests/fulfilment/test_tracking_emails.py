"""The customer's parcel mails: shipped, out for delivery, delivered, a delivery problem.
Each goes to the order's email with the tracking links, is on the order's timeline, and
goes out once per parcel and status however often the news is announced; each is followed
by one `order.tracking_updated` for other channels."""

from __future__ import annotations

import email
from email import policy

import pytest
from sqlalchemy import select

from app.blueprints.fulfilment import tracking_emails
from app.blueprints.orders import checkout
from app.blueprints.orders.order_models import Order, OrderEvent
from app.core import jobs
from app.core.events import LISTENERS, Event, dispatch
from app.core.models import OutboxMessage
from app.extensions import db
from tests.core.test_mail import smtp_server, wait_for  # noqa: F401  (the SMTP server fixture)
from tests.fulfilment.test_tracking_api import CARRIER_URL, paid_order, ship, shop, staff, track  # noqa: F401

STOREFRONT = "https://shop.example.com/orders/{number}?token={token}"


def parcel_mails(address: str = "ada@example.org") -> list[OutboxMessage]:
    return [
        m
        for m in db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.recipients == address).order_by(OutboxMessage.id)
        )
        if "confirmed" not in m.subject and "Payment received" not in m.subject
    ]


def parcel_mail_events(order: Order) -> list[dict]:
    return [
        event.data
        for event in db.session.scalars(
            select(OrderEvent)
            .where(OrderEvent.order_id == order.id, OrderEvent.kind == "email")
            .order_by(OrderEvent.id)
        )
        if event.data.get("template", "").startswith("fulfilment/tracking_")
    ]


def own_tracking_page(order: Order) -> str:
    return f"http://localhost/track/{order.number}?token={checkout.tracking_token(order)}"


@pytest.fixture
def announcements():
    """The `order.tracking_updated` events other channels would hear."""
    heard: list[dict] = []

    def listener(event: Event) -> None:
        heard.append(event.payload)

    LISTENERS[tracking_emails.TRACKING_UPDATED].append(listener)
    try:
        yield heard
    finally:
        LISTENERS[tracking_emails.TRACKING_UPDATED].remove(listener)


@pytest.fixture
def shipped(shop, staff):  # noqa: F811
    order = paid_order(shop, staff)
    return order, ship(order, shop, staff)


# ---- shipped -----------------------------------------------------------------------------------


def test_shipping_mails_the_items_carrier_and_both_tracking_links(shipped):
    order, _ = shipped

    [mail] = parcel_mails()

    assert mail.subject == f"Your order {order.number} has shipped"
    assert mail.recipients == order.email
    for body in (mail.text_body, mail.html_body):
        assert "Teapot" in body and "Cup" in body
        assert "PostNL" in body and "3SABC123" in body
        assert CARRIER_URL in body
        assert own_tracking_page(order) in body
    assert "2 x Cup" in mail.text_body and "2 × Cup" in mail.html_body


def test_a_partial_shipment_mails_only_the_items_in_that_parcel(shop, staff):  # noqa: F811
    order = paid_order(shop, staff)
    teapot = next(line for line in order.lines if line.name == "Teapot")
    ship(order, shop, staff, quantities={teapot.id: 1})

    [mail] = parcel_mails()
    assert "Teapot" in mail.text_body and "Cup" not in mail.text_body
    assert "part of your order" in mail.text_body


def test_the_mails_link_to_the_storefronts_tracking_page_when_it_has_one(app, shop, staff):  # noqa: F811
    app.config["STOREFRONT_TRACKING_URL"] = STOREFRONT
    try:
        order = paid_order(shop, staff)
        ship(order, shop, staff)
    finally:
        app.config.pop("STOREFRONT_TRACKING_URL", None)

    [mail] = parcel_mails()
    link = STOREFRONT.format(number=order.number, token=checkout.tracking_token(order))
    assert link in mail.text_body and f'href="{link}"' in mail.html_body
    assert "localhost/track/" not in mail.text_body


def test_the_shipped_mail_is_queued_not_sent_by_the_shipping_request(monkeypatch, shop, staff):  # noqa: F811
    queued = []
    monkeypatch.setattr(
        jobs, "_enqueue_now", lambda func, args, kwargs, queue, retries: queued.append((func, queue))
    )
    order = paid_order(shop, staff)
    ship(order, shop, staff)

    assert (tracking_emails.tracking_mail_job, "email") in queued
    assert parcel_mails() == []


# ---- the news that follows ---------------------------------------------------------------------


def test_out_for_delivery_delivered_and_a_problem_each_mail_once(shipped):
    order, shipment = shipped
    track(shipment, "picked_up")
    track(shipment, "in_transit")
    track(shipment, "out_for_delivery")
    track(shipment, "exception", description="Nobody home, card left")
    track(shipment, "delivered", location="Amsterdam")

    subjects = [m.subject for m in parcel_mails()]

    assert subjects == [
        f"Your order {order.number} has shipped",
        f"Your order {order.number} is out for delivery today",
        f"A problem with the delivery of your order {order.number}: we are on it",
        f"Your order {order.number} has been delivered",
    ]
    problem = parcel_mails()[2]
    assert "Nobody home, card left" in problem.text_body and "We are on it" in problem.text_body
    assert all(own_tracking_page(order) in m.text_body for m in parcel_mails())


def test_each_news_is_mailed_once_per_parcel_however_often_it_is_announced(shipped):
    order, shipment = shipped
    event = track(shipment, "out_for_delivery")
    dispatch(
        Event(
            "shipment.tracking",
            {"shipment_id": shipment.id, "tracking_event_id": event.id, "status": "out_for_delivery"},
        )
    )
    dispatch(Event("shipment.created", {"order_id": order.id, "shipment_id": shipment.id}))
    track(shipment, "exception", description="Damaged")
    track(shipment, "exception", description="Damaged again")

    assert [m.subject.split(":")[0] for m in parcel_mails()] == [
        f"Your order {order.number} has shipped",
        f"Your order {order.number} is out for delivery today",
        f"A problem with the delivery of your order {order.number}",
    ]


def test_each_parcel_of_a_split_order_gets_its_own_mails_naming_it_a_parcel(shop, staff):  # noqa: F811
    order = paid_order(shop, staff)
    teapot, cup = sorted(order.lines, key=lambda line: line.name != "Teapot")
    first = ship(order, shop, staff, quantities={teapot.id: 1})
    second = ship(order, shop, staff, quantities={cup.id: 2})
    track(first, "delivered")
    track(second, "delivered")

    mails = parcel_mails()
    subjects = [m.subject for m in mails]
    assert subjects.count(f"A parcel of your order {order.number} has shipped") == 2
    assert subjects.count(f"A parcel of your order {order.number} has been delivered") == 2
    assert f"Your order {order.number} has been delivered" not in subjects
    assert f"({first.number})" in mails[0].text_body and f"({second.number})" in mails[1].text_body


def test_old_news_of_a_delivered_parcel_is_not_mailed(shipped):
    order, shipment = shipped
    event = track(shipment, "delivered")
    dispatch(
        Event(
            "shipment.tracking",
            {"shipment_id": shipment.id, "tracking_event_id": event.id, "status": "out_for_delivery"},
        )
    )

    assert [m.subject for m in parcel_mails()][-1] == f"Your order {order.number} has been delivered"
    assert not any("out for delivery" in m.subject for m in parcel_mails())


def test_each_mail_is_on_the_order_timeline_with_its_parcel_and_status(shipped):
    order, shipment = shipped
    track(shipment, "delivered")

    assert parcel_mail_events(order) == [
        {
            "template": "fulfilment/tracking_shipped",
            "to": "ada@example.org",
            "shipment_id": shipment.id,
            "status": "shipped",
        },
        {
            "template": "fulfilment/tracking_delivered",
            "to": "ada@example.org",
            "shipment_id": shipment.id,
            "status": "delivered",
        },
    ]


def test_each_news_is_announced_once_to_other_channels(announcements, shipped):
    order, shipment = shipped
    event = track(shipment, "out_for_delivery")
    dispatch(
        Event(
            "shipment.tracking",
            {"shipment_id": shipment.id, "tracking_event_id": event.id, "status": "out_for_delivery"},
        )
    )
    track(shipment, "in_transit")  # no news for the customer
    track(shipment, "delivered")

    assert announcements == [
        {"order_id": order.id, "shipment_id": shipment.id, "status": "shipped"},
        {"order_id": order.id, "shipment_id": shipment.id, "status": "out_for_delivery"},
        {"order_id": order.id, "shipment_id": shipment.id, "status": "delivered"},
    ]


# ---- by SMTP -----------------------------------------------------------------------------------


def test_the_shipped_mail_reaches_a_real_smtp_server(app, shop, staff, smtp_server):  # noqa: F811
    inbox, port = smtp_server
    order = paid_order(shop, staff)
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    try:
        ship(order, shop, staff)
    finally:
        app.config.update(MAIL_BACKEND="database", MAIL_SERVER="localhost", MAIL_PORT=25)

    assert wait_for(lambda: inbox.envelopes), "nothing reached the SMTP server"
    [envelope] = inbox.envelopes
    assert envelope.rcpt_tos == ["ada@example.org"]
    message = email.message_from_bytes(envelope.content, policy=policy.default)
    assert message["Subject"] == f"Your order {order.number} has shipped"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "3SABC123" in text and own_tracking_page(order) in text
    assert f'href="{own_tracking_page(order)}"' in html
