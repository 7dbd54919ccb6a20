"""The customer's mails about a return: one per step (requested, approved with how to send
it back, rejected with the reason, received, refunded with the amount, closed), to the
order's email, each once per return and shown on the order's timeline; staff's internal
notes are never mailed."""

from __future__ import annotations

import email
from decimal import Decimal
from email import policy

import pytest
from sqlalchemy import select

from app.blueprints.fulfilment.models import Refund
from app.core.events import Event, dispatch
from app.core.models import OutboxMessage
from app.core.transaction import transaction
from app.extensions import db
from tests.core.test_mail import smtp_server, wait_for  # noqa: F401  (the SMTP server fixture)
from tests.fulfilment.return_helpers import (
    Staff,
    act,
    delivered_order,
    open_return,
    receive_all,
    return_in_state,
)
from tests.orders.checkout_helpers import make_shop

STAFF = Staff()


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def order(shop):
    return delivered_order(shop, [(shop.teapot, 1), (shop.cup, 2)], staff=STAFF, email="ada@example.org")


def return_mails() -> list[OutboxMessage]:
    return [
        message
        for message in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        if "return" in message.subject.lower()
    ]


def mail_with(subject_part: str) -> OutboxMessage:
    found = [m for m in return_mails() if subject_part in m.subject]
    assert len(found) == 1, [m.subject for m in return_mails()]
    return found[0]


def test_asking_for_a_return_mails_what_happens_next(order):
    ret = open_return(order, {order.lines[1].id: 2}, actor=STAFF, reason="does_not_fit")

    mail = mail_with(f"We have your return request {ret.number}")
    assert mail.recipients == "ada@example.org"
    for body in (mail.text_body, mail.html_body):
        assert ret.number in body and order.number in body
        assert "Does not fit" in body and "2" in body and "Cup" in body
        assert "Please do not send anything" in body


def test_approval_mails_how_to_send_the_goods_back_without_the_internal_note(app, order):
    ret = act(
        open_return(order, {order.lines[0].id: 1}, actor=STAFF), "approve", actor=STAFF, note="VIP, waive fee"
    )

    mail = mail_with(f"Your return {ret.number} is approved")
    for body in (mail.text_body, mail.html_body):
        assert app.config["STORE_LEGAL_NAME"] in body
        assert "Keizersgracht 1" in body or app.config["STORE_ADDRESS"].split(",")[0] in body
        assert f"return number {ret.number}" in body.replace("<strong>", "").replace("</strong>", "")
        assert "VIP" not in body


def test_an_operator_return_address_replaces_the_store_address(app, order):
    app.config["RETURN_ADDRESS"] = "Returns dept., Depotweg 9, 3000 AB Rotterdam"
    try:
        act(open_return(order, {order.lines[0].id: 1}, actor=STAFF), "approve", actor=STAFF)
    finally:
        app.config.pop("RETURN_ADDRESS")
    mail = mail_with("is approved")
    assert "Depotweg 9" in mail.text_body and "Keizersgracht" not in mail.text_body


def test_rejection_mails_the_reason(order):
    ret = act(
        open_return(order, {order.lines[0].id: 1}, actor=STAFF),
        "reject",
        actor=STAFF,
        reason="The seal is broken",
    )
    mail = mail_with(f"About your return request {ret.number}")
    assert "The seal is broken" in mail.text_body and "The seal is broken" in mail.html_body


def test_receipt_refund_and_closing_are_mailed_with_the_amount_and_without_the_note(shop, order):
    received = return_in_state(order, "received", actor=STAFF, location=shop.location)
    assert mail_with(f"We received your return {received.number}")
    with transaction():
        db.session.add(
            Refund(
                order_id=order.id,
                return_id=received.id,
                method="manual",
                amount=Decimal("12.10"),
                currency="EUR",
                idempotency_key="test-refund",
            )
        )
    act(received, "mark_refunded", actor=STAFF, refund_id=1)
    refunded = mail_with(f"Your return {received.number} is refunded")
    assert "€12.10" in refunded.text_body and "€12.10" in refunded.html_body

    never_came = return_in_state(
        order, "closed", actor=STAFF, location=shop.location, lines={order.lines[1].id: 1}
    )
    closed = mail_with(f"Your return {never_came.number} is closed")
    assert "did not reach us" in closed.text_body and "Never sent back" not in closed.text_body


def test_each_step_is_mailed_once_per_return_and_shown_on_the_timeline(order):
    first = open_return(order, {order.lines[0].id: 1}, actor=STAFF)
    second = open_return(order, {order.lines[1].id: 1}, actor=STAFF)
    dispatch(Event("return.changed", {"return_id": first.id, "status": "requested"}))  # delivered twice

    requested = [m for m in return_mails() if "return request" in m.subject]
    assert sorted(m.subject for m in requested) == sorted(
        [f"We have your return request {first.number}", f"We have your return request {second.number}"]
    )
    from app.blueprints.orders.order_models import OrderEvent

    entries = db.session.scalars(
        select(OrderEvent.data).where(OrderEvent.order_id == order.id, OrderEvent.kind == "email")
    ).all()
    assert {
        "template": "fulfilment/return_requested",
        "to": "ada@example.org",
        "return": first.number,
    } in entries
    assert sum(1 for entry in entries if entry.get("return") == first.number) == 1


def test_a_step_without_a_mail_and_a_missing_return_send_nothing(order):
    from app.blueprints.fulfilment import return_emails

    ret = open_return(order, {order.lines[0].id: 1}, actor=STAFF)
    before = len(return_mails())
    return_emails.return_mail_job(ret.id, "teleported")
    return_emails.return_mail_job(999999, "requested")
    assert len(return_mails()) == before


def test_the_approval_reaches_the_customer_by_smtp(app, shop, order, smtp_server):  # noqa: F811
    inbox, port = smtp_server
    ret = open_return(order, {order.lines[0].id: 1}, actor=STAFF)
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    try:
        receive_all(act(ret, "approve", actor=STAFF), actor=STAFF, location=shop.location)
    finally:
        app.config.update(MAIL_BACKEND="database", MAIL_SERVER="localhost", MAIL_PORT=25)

    assert wait_for(lambda: len(inbox.envelopes) == 2), "the mails did not reach the SMTP server"
    subjects = [
        email.message_from_bytes(e.content, policy=policy.default)["Subject"] for e in inbox.envelopes
    ]
    assert subjects == [
        f"Your return {ret.number} is approved: how to send it back",
        f"We received your return {ret.number}",
    ]
    assert all(envelope.rcpt_tos == ["ada@example.org"] for envelope in inbox.envelopes)


def test_a_refund_made_for_a_received_return_refunds_it_and_mails_the_amount(shop, order):
    """The refunds service (orders.refund) moves the return on through `mark_refunded`."""
    from app.blueprints.fulfilment import refunds
    from app.blueprints.orders import order_queries

    ret = return_in_state(
        order, "received", actor=STAFF, location=shop.location, lines={order.lines[1].id: 2}
    )
    with transaction():
        locked = order_queries.order_by_number(order.number, for_update=True)
        refunds.refund_order(
            locked,
            lines={order.lines[1].id: 2},
            reason="Returned",
            method="manual",
            actor=STAFF,
            idempotency_key="refund-for-return",
            return_request=db.session.get(type(ret), ret.id),
        )

    db.session.expire_all()
    assert db.session.get(type(ret), ret.id).status == "refunded"
    mail = mail_with(f"Your return {ret.number} is refunded")
    assert "€7.00" in mail.text_body  # 2 cups at 3.50
