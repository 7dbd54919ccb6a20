"""Outbound mail: templates in, HTML + text out, delivered by the `email` queue.

`send_mail()` renders `templates/mail/<template>.txt` and `.html` now (while the
request's data is at hand) and enqueues delivery. The backend comes from
`MAIL_BACKEND`: `smtp` for real delivery, `database` to keep messages in the
outbox table where staff can read them in the portal (development and tests).
"""

from __future__ import annotations

import smtplib
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app, render_template

from app.core.jobs import enqueue


@dataclass(frozen=True)
class OutgoingMail:
    message_id: str
    sender: str
    recipients: list[str]
    subject: str
    text: str
    html: str


def render_mail(to: str | list[str], subject: str, template: str, **context) -> OutgoingMail:
    context.setdefault("store_name", current_app.config["STORE_NAME"])
    context["subject"] = subject
    recipients = [to] if isinstance(to, str) else list(to)
    domain = current_app.config["MAIL_DEFAULT_SENDER"].rsplit("@", 1)[-1].strip(">") or "localhost"
    return OutgoingMail(
        message_id=make_msgid(domain=domain),
        sender=current_app.config["MAIL_DEFAULT_SENDER"],
        recipients=recipients,
        subject=subject,
        text=render_template(f"mail/{template}.txt", **context),
        html=render_template(f"mail/{template}.html", **context),
    )


def send_mail(to: str | list[str], subject: str, template: str, **context) -> OutgoingMail:
    """Render a templated mail and queue it for delivery after the current commit."""
    mail = render_mail(to, subject, template, **context)
    enqueue(deliver_mail, asdict(mail), queue="email")
    return mail


def deliver_mail(mail: dict) -> None:
    """Job: hand one rendered message to the configured backend. Safe to run twice:
    the message id is fixed at render time, so the outbox and receivers deduplicate."""
    backend = current_app.config["MAIL_BACKEND"]
    if backend not in BACKENDS:
        raise ValueError(f"MAIL_BACKEND must be one of {', '.join(BACKENDS)}; got {backend!r}")
    BACKENDS[backend](OutgoingMail(**mail))


def build_message(mail: OutgoingMail) -> EmailMessage:
    message = EmailMessage()
    message["Message-ID"] = mail.message_id
    message["Date"] = formatdate(localtime=False)
    message["From"] = mail.sender
    message["To"] = ", ".join(mail.recipients)
    message["Subject"] = mail.subject
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


def send_by_smtp(mail: OutgoingMail) -> None:
    config = current_app.config
    smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    with smtp_class(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"]) as smtp:
        if config["MAIL_USE_TLS"] and not config["MAIL_USE_SSL"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(build_message(mail))


def keep_in_outbox(mail: OutgoingMail) -> None:
    from app.core.models import OutboxMessage
    from app.core.transaction import transaction
    from app.extensions import db

    with transaction():
        if db.session.query(OutboxMessage.id).filter_by(message_id=mail.message_id).first():
            return
        db.session.add(
            OutboxMessage(
                message_id=mail.message_id,
                sender=mail.sender,
                recipients=", ".join(mail.recipients),
                subject=mail.subject,
                text_body=mail.text,
                html_body=mail.html,
            )
        )


BACKENDS = {"smtp": send_by_smtp, "database": keep_in_outbox}
