"""The customer's mails about an order: confirmation on placing, "payment received" with
the invoice PDF attached, cancellation saying what happened to the money. Each is sent
once and shows on the order's timeline."""

from __future__ import annotations

import email
from email import policy

import pytest
from sqlalchemy import select

from app.blueprints.orders import checkout, lifecycle, order_queries, payments
from app.blueprints.orders.invoice_models import Invoice
from app.blueprints.orders.order_models import Order, OrderEvent
from app.core.events import Event, dispatch
from app.core.models import OutboxMessage
from app.core.transaction import transaction
from app.extensions import db
from tests.core.test_mail import smtp_server, wait_for  # noqa: F401  (the SMTP server fixture)
from tests.factories.auth import UserFactory
from tests.orders.checkout_helpers import checkout_call, make_shop, place_order_directly, ready_cart

TRACKING_URL = "https://shop.example.com/orders/{number}?token={token}"


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def staff(db):
    return UserFactory(roles=["admin"])


@pytest.fixture
def tracking_links(app):
    app.config["STOREFRONT_TRACKING_URL"] = TRACKING_URL
    try:
        yield
    finally:
        app.config.pop("STOREFRONT_TRACKING_URL", None)


def mails_to(address: str) -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.recipients == address).order_by(OutboxMessage.id)
        )
    )


def mail_with(subject_part: str) -> OutboxMessage:
    found = [m for m in db.session.scalars(select(OutboxMessage)) if subject_part in m.subject]
    assert len(found) == 1, [m.subject for m in db.session.scalars(select(OutboxMessage))]
    return found[0]


def email_events(order: Order) -> list[dict]:
    return [
        event.data
        for event in db.session.scalars(
            select(OrderEvent).where(OrderEvent.order_id == order.id, OrderEvent.kind == "email")
        )
    ]


def pay(order: Order, staff) -> Order:
    with transaction():
        payments.mark_paid(order_queries.order_by_number(order.number, for_update=True), actor=staff)
    return order


def cancel(order: Order, staff) -> Order:
    with transaction():
        lifecycle.cancel_order(
            order_queries.order_by_number(order.number, for_update=True),
            actor=staff,
            reason="Suspected fraud",
        )
    return order


# ---- confirmation --------------------------------------------------------------------------


def test_placing_an_order_mails_a_confirmation_with_items_totals_and_address(shop):
    order = place_order_directly([(shop.teapot, 2), (shop.cup, 1)])

    confirmation = mail_with(f"order {order.number} is confirmed")
    assert confirmation.recipients == "ada@example.org"
    for body in (confirmation.text_body, confirmation.html_body):
        assert "Teapot" in body and "Cup" in body
        assert shop.teapot.sku in body
        assert "€12.10" in body or "€24.20" in body  # the teapot line, formatted by locale
        assert "€4.95" in body  # shipping
        assert "€32.65" in body  # total: 2 x 12.10 + 3.50 + 4.95
        assert "Damrak 1" in body and "1012 LG Amsterdam" in body
    assert "2 x Teapot" in confirmation.text_body
    assert "<html" not in confirmation.text_body and "<html" in confirmation.html_body


def test_the_confirmation_of_a_manual_payment_says_how_to_pay(shop):
    order = place_order_directly([(shop.cup, 1)])
    confirmation = mail_with("is confirmed")
    assert f"quoting order {order.number}" in confirmation.text_body
    assert "How to pay" in confirmation.html_body


def test_the_confirmation_links_to_tracking_when_the_store_has_a_tracking_page(shop, tracking_links):
    order = place_order_directly([(shop.cup, 1)])
    link = TRACKING_URL.format(number=order.number, token=checkout.tracking_token(order))
    confirmation = mail_with("is confirmed")
    assert link in confirmation.text_body
    assert f'href="{link}"' in confirmation.html_body


def test_without_a_storefront_page_the_confirmation_links_to_our_own_tracking_page(shop):
    order = place_order_directly([(shop.cup, 1)])
    # Absolute, from BASE_URL (http://localhost in tests), never from a request's Host.
    link = f"http://localhost/track/{order.number}?token={checkout.tracking_token(order)}"
    confirmation = mail_with("is confirmed")
    assert link in confirmation.text_body
    assert f'href="{link}"' in confirmation.html_body


def test_without_any_tracking_page_the_confirmation_has_no_tracking_link(app, shop, monkeypatch):
    # As when the fulfilment domain (which serves the page) is not installed.
    monkeypatch.delitem(app.view_functions, "fulfilment.tracking_page")
    order = place_order_directly([(shop.cup, 1)])
    confirmation = mail_with("is confirmed")
    assert checkout.tracking_token(order) not in confirmation.text_body + confirmation.html_body
    assert "Follow your order" not in confirmation.text_body + confirmation.html_body


def test_a_storefront_checkout_mails_the_confirmation(client, shop):
    cart_id = ready_cart(client, [(shop.teapot.sku, 1)], email="grace@example.org")
    response = checkout_call(client, cart_id)
    assert response.status_code == 201, response.text
    number = response.get_json()["number"]
    [confirmation] = mails_to("grace@example.org")
    assert number in confirmation.subject and "Teapot" in confirmation.text_body


def test_the_confirmation_is_on_the_timeline_and_sent_once(shop):
    order = place_order_directly([(shop.cup, 1)])
    dispatch(Event("order.placed", {"order_id": order.id}))  # delivered twice

    assert len(mails_to("ada@example.org")) == 1
    assert email_events(order) == [{"template": "order_confirmation", "to": "ada@example.org"}]


# ---- payment received, with the invoice -------------------------------------------------------


def test_payment_received_arrives_by_smtp_with_the_invoice_pdf_attached(app, shop, staff, smtp_server):  # noqa: F811
    inbox, port = smtp_server
    order = place_order_directly([(shop.teapot, 1)])
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    try:
        pay(order, staff)
    finally:
        app.config.update(MAIL_BACKEND="database", MAIL_SERVER="localhost", MAIL_PORT=25)

    assert wait_for(lambda: inbox.envelopes), "nothing reached the SMTP server"
    [envelope] = inbox.envelopes
    assert envelope.rcpt_tos == ["ada@example.org"]
    message = email.message_from_bytes(envelope.content, policy=policy.default)
    assert message["Subject"] == f"Payment received for order {order.number}"
    invoice = db.session.scalar(select(Invoice).where(Invoice.order_id == order.id))
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert invoice.number in text and "€17.05" in text  # 12.10 + 4.95 shipping
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == f"invoice-{order.number}.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == invoice.pdf and invoice.pdf.startswith(b"%PDF")


def test_payment_received_is_mailed_once_however_often_the_payment_is_announced(shop, staff):
    order = pay(place_order_directly([(shop.cup, 1)]), staff)
    dispatch(Event("order.paid", {"order_id": order.id}))

    assert len([m for m in mails_to("ada@example.org") if "Payment received" in m.subject]) == 1
    assert [e["template"] for e in email_events(order)] == ["order_confirmation", "order_payment_received"]


# ---- cancellation ------------------------------------------------------------------------------


def test_cancelling_a_paid_order_mails_what_was_refunded(shop, staff):
    order = cancel(pay(place_order_directly([(shop.teapot, 1)]), staff), staff)

    cancellation = mail_with("has been cancelled")
    assert order.number in cancellation.subject
    assert "We refunded €17.05" in cancellation.text_body
    assert "transferring it back" in cancellation.text_body  # a manual payment is paid back by hand
    assert "Teapot" in cancellation.text_body
    assert (
        "fraud" not in (cancellation.text_body + cancellation.html_body).lower()
    )  # staff's note stays inside
    assert email_events(order)[-1] == {"template": "order_cancelled", "to": "ada@example.org"}


def test_cancelling_an_unpaid_order_says_nothing_is_owed(shop, staff):
    cancel(place_order_directly([(shop.cup, 1)]), staff)

    cancellation = mail_with("has been cancelled")
    assert "You do not need to pay" in cancellation.text_body
    assert "refunded" not in cancellation.text_body
