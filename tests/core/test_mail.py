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


# ---- attachments: queued by reference, loaded at delivery ---------------------------------

REPORT = b"%PDF-1.7 quarterly figures"


@pytest.fixture
def report_loader():
    """A loader of "report:<name>" refs, as a domain registers one (orders: invoices)."""
    from app.core import mail

    calls = []

    def load(key):
        calls.append(key)
        if key == "missing":
            raise LookupError("not there yet")
        return REPORT

    mail.register_attachment_loader("report", load)
    try:
        yield calls
    finally:
        mail._attachment_loaders.pop("report", None)


REPORT_ATTACHMENT = {"filename": "q3.pdf", "content_type": "application/pdf", "ref": "report:q3"}


def test_a_queued_mail_carries_the_attachment_reference_not_its_bytes(app, db, report_loader):
    from dataclasses import asdict

    from app.core.mail import render_mail

    with app.test_request_context():
        mail = render_mail(
            "a@example.com",
            "Figures",
            "test_message",
            attachments=[REPORT_ATTACHMENT],
            sent_by="Ops",
            sent_at=utcnow(),
        )
    assert asdict(mail)["attachments"] == [REPORT_ATTACHMENT]
    assert report_loader == [], "nothing is loaded before delivery"


def test_smtp_backend_attaches_the_files_loaded_at_delivery(app, db, smtp_server, report_loader):
    inbox, port = smtp_server
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    try:
        with app.test_request_context(), transaction():
            send_mail(
                "ops@example.com",
                "Figures",
                "test_message",
                attachments=[REPORT_ATTACHMENT],
                sent_by="Ops",
                sent_at=utcnow(),
            )
    finally:
        app.config.update(MAIL_BACKEND="database", MAIL_SERVER="localhost", MAIL_PORT=25)

    assert wait_for(lambda: inbox.envelopes), "nothing reached the SMTP server"
    message = email.message_from_bytes(inbox.envelopes[0].content, policy=policy.default)
    assert "sent by Ops" in message.get_body(preferencelist=("plain",)).get_content()
    attachments = list(message.iter_attachments())
    assert [(a.get_filename(), a.get_content_type()) for a in attachments] == [("q3.pdf", "application/pdf")]
    assert attachments[0].get_content() == REPORT
    assert report_loader == ["q3"]


def test_database_backend_keeps_attachment_names_and_sizes(app, db, report_loader):
    from app.core.models import OutboxMessage

    with app.test_request_context(), transaction():
        mail = send_mail(
            "ops@example.com",
            "Figures",
            "test_message",
            attachments=[REPORT_ATTACHMENT],
            sent_by="Ops",
            sent_at=utcnow(),
        )
    kept = db.session.query(OutboxMessage).filter_by(message_id=mail.message_id).one()
    assert kept.attachments == [
        {"filename": "q3.pdf", "content_type": "application/pdf", "size": len(REPORT)}
    ]


def test_the_outbox_page_names_the_attachments(app, db, admin_portal, report_loader):
    from app.core.models import OutboxMessage

    with app.test_request_context(), transaction():
        mail = send_mail(
            "ops@example.com",
            "Figures",
            "test_message",
            attachments=[REPORT_ATTACHMENT],
            sent_by="Ops",
            sent_at=utcnow(),
        )
    kept = db.session.query(OutboxMessage).filter_by(message_id=mail.message_id).one()
    page = admin_portal.get(f"/admin/outbox/{kept.id}")
    assert page.status_code == 200
    assert "q3.pdf" in page.text and "application/pdf" in page.text


def test_an_attachment_of_an_unknown_kind_is_refused_when_sending(app, db):
    with app.test_request_context(), pytest.raises(LookupError, match="nothing"):
        send_mail(
            "ops@example.com",
            "Figures",
            "test_message",
            attachments=[
                {"filename": "x.bin", "content_type": "application/octet-stream", "ref": "nothing:1"}
            ],
            sent_by="Ops",
            sent_at=utcnow(),
        )


def test_an_attachment_needs_a_filename_a_content_type_and_a_ref(app, db, report_loader):
    with app.test_request_context(), pytest.raises(ValueError, match="filename"):
        send_mail(
            "ops@example.com",
            "Figures",
            "test_message",
            attachments=[{"content_type": "application/pdf", "ref": "report:q3"}],
            sent_by="Ops",
            sent_at=utcnow(),
        )


def test_delivery_fails_and_keeps_nothing_while_an_attachment_cannot_be_loaded(app, db, report_loader):
    """The job raises, so the queue retries it later (an invoice still being rendered)."""
    from dataclasses import asdict

    from app.core.mail import deliver_mail, render_mail
    from app.core.models import OutboxMessage

    missing = {"filename": "q4.pdf", "content_type": "application/pdf", "ref": "report:missing"}
    with app.test_request_context():
        mail = render_mail(
            "a@example.com", "Figures", "test_message", attachments=[missing], sent_by="Ops", sent_at=utcnow()
        )
        with pytest.raises(LookupError):
            deliver_mail(asdict(mail))
    assert db.session.query(OutboxMessage).filter_by(message_id=mail.message_id).count() == 0


def test_mail_queued_before_attachments_existed_still_delivers(app, db):
    """Jobs already in the queue when this version deploys have no "attachments" key."""
    from app.core.mail import deliver_mail
    from app.core.models import OutboxMessage

    with app.app_context():
        deliver_mail(
            {
                "message_id": "<old@x>",
                "sender": "a@b",
                "recipients": ["c@d"],
                "subject": "s",
                "text": "t",
                "html": "h",
            }
        )
    assert db.session.query(OutboxMessage).filter_by(message_id="<old@x>").one().attachments == []
