"""Mail goes out by SMTP with an HTML and a text part, to a real SMTP server."""

import email
import time
from email import policy

import pytest
from aiosmtpd.controller import Controller

from app.core.mail import send_mail
from app.core.timeutil import utcnow
from app.core.transaction import transaction


class Inbox:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(unused_tcp_port):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=unused_tcp_port)
    controller.start()
    try:
        yield inbox, unused_tcp_port
    finally:
        controller.stop()


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_smtp_backend_delivers_html_and_text_parts(app, db, smtp_server):
    inbox, port = smtp_server
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    try:
        with app.test_request_context(), transaction():
            send_mail(
                ["ops@example.com", "cto@example.com"],
                "Smoke test",
                "test_message",
                sent_by="Ops",
                sent_at=utcnow(),
            )
    finally:
        app.config.update(MAIL_BACKEND="database", MAIL_SERVER="localhost", MAIL_PORT=25)

    assert wait_for(lambda: inbox.envelopes), "nothing reached the SMTP server"
    envelope = inbox.envelopes[0]
    assert sorted(envelope.rcpt_tos) == ["cto@example.com", "ops@example.com"]
    message = email.message_from_bytes(envelope.content, policy=policy.default)
    assert message["Subject"] == "Smoke test"
    assert message["Message-ID"]
    assert "Store" in message["From"] or "@" in message["From"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "sent by Ops" in text and "<html" not in text
    assert "sent by Ops" in html and "<html" in html


def test_unknown_mail_backend_is_a_clear_error(app):
    from app.core.mail import deliver_mail

    app.config["MAIL_BACKEND"] = "carrier-pigeon"
    try:
        with app.app_context(), pytest.raises(ValueError, match="MAIL_BACKEND"):
            deliver_mail(
                {
                    "message_id": "<x@y>",
                    "sender": "a@b",
                    "recipients": ["c@d"],
                    "subject": "s",
                    "text": "t",
                    "html": "h",
                }
            )
    finally:
        app.config["MAIL_BACKEND"] = "database"


def test_html_part_escapes_what_it_is_given(app, db):
    from app.core.mail import render_mail

    with app.test_request_context():
        mail = render_mail(
            "a@example.com", "x", "test_message", sent_by="<script>alert(1)</script>", sent_at=utcnow()
        )
    assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html
