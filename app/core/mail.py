"""Outbound mail: templates in, HTML + text out, delivered by the `email` queue.

`send_mail()` renders `templates/mail/<template>.txt` and `.html` now (while the
request's data is at hand) and enqueues delivery. The backend comes from
`MAIL_BACKEND`: `smtp` for real delivery, `database` to keep messages in the
outbox table where staff can read them in the portal (development and tests).

Attachments travel by reference (`{"filename", "content_type", "ref": "invoice:12"}`):
the queued job stays small and the bytes are loaded at delivery through the loader the
owning domain registered for the ref's kind (`register_attachment_loader("invoice", fn)`).
A loader that cannot deliver yet raises, and the delivery job is retried.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app, render_template

from app.core.jobs import enqueue

ATTACHMENT_KEYS = ("filename", "content_type", "ref")

# kind ("invoice") -> function(key) returning the bytes of "kind:key".
_attachment_loaders: dict[str, Callable[[str], bytes]] = {}


@dataclass(frozen=True)
class OutgoingMail:
    message_id: str
    sender: str
    recipients: list[str]
    subject: str
    text: str
    html: str
    # [{"filename", "content_type", "ref"}]: loaded at delivery (see the module doc).
    attachments: list[dict] = field(default_factory=list)


def register_attachment_loader(kind: str, loader: Callable[[str], bytes]) -> None:
    """Let mail attach `<kind>:<key>` refs; `loader(key)` returns the bytes at delivery."""
    if not kind or ":" in kind:
        raise ValueError(f"an attachment kind is a word without ':'; got {kind!r}")
    _attachment_loaders[kind] = loader


def load_attachment(ref: str) -> bytes:
    kind, _, key = ref.partition(":")
    loader = _attachment_loaders.get(kind)
    if loader is None:
        raise LookupError(f"no attachment loader is registered for {kind!r} (ref {ref!r})")
    return loader(key)


def _checked_attachments(attachments: list[dict] | None) -> list[dict]:
    checked = []
    for attachment in attachments or ():
        missing = [key for key in ATTACHMENT_KEYS if not attachment.get(key)]
        if missing:
            raise ValueError(f"attachment {attachment!r} lacks {', '.join(missing)}")
        kind = attachment["ref"].partition(":")[0]
        if kind not in _attachment_loaders:
            # Fail while the sender can still see it, not later in a worker.
            raise LookupError(f"no attachment loader is registered for {kind!r}")
        checked.append({key: str(attachment[key]) for key in ATTACHMENT_KEYS})
    return checked


def render_mail(
    to: str | list[str], subject: str, template: str, *, attachments: list[dict] | None = None, **context
) -> OutgoingMail:
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
        attachments=_checked_attachments(attachments),
    )


def send_mail(
    to: str | list[str], subject: str, template: str, *, attachments: list[dict] | None = None, **context
) -> OutgoingMail:
    """Render a templated mail and queue it for delivery after the current commit.
    `attachments`: [{"filename", "content_type", "ref": "<kind>:<key>"}] (see the module doc)."""
    mail = render_mail(to, subject, template, attachments=attachments, **context)
    enqueue(deliver_mail, asdict(mail), queue="email")
    return mail


def deliver_mail(mail: dict) -> None:
    """Job: hand one rendered message to the configured backend. Safe to run twice:
    the message id is fixed at render time, so the outbox and receivers deduplicate."""
    backend = current_app.config["MAIL_BACKEND"]
    if backend not in BACKENDS:
        raise ValueError(f"MAIL_BACKEND must be one of {', '.join(BACKENDS)}; got {backend!r}")
    BACKENDS[backend](OutgoingMail(**mail))


def loaded_attachments(mail: OutgoingMail) -> list[tuple[dict, bytes]]:
    return [(attachment, load_attachment(attachment["ref"])) for attachment in mail.attachments]


def build_message(mail: OutgoingMail, attachments: list[tuple[dict, bytes]] = ()) -> EmailMessage:
    message = EmailMessage()
    message["Message-ID"] = mail.message_id
    message["Date"] = formatdate(localtime=False)
    message["From"] = mail.sender
    message["To"] = ", ".join(mail.recipients)
    message["Subject"] = mail.subject
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    for attachment, content in attachments:
        maintype, _, subtype = attachment["content_type"].partition("/")
        message.add_attachment(
            content,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attachment["filename"],
        )
    return message


def send_by_smtp(mail: OutgoingMail) -> None:
    config = current_app.config
    message = build_message(mail, loaded_attachments(mail))
    smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    with smtp_class(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"]) as smtp:
        if config["MAIL_USE_TLS"] and not config["MAIL_USE_SSL"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(message)


def keep_in_outbox(mail: OutgoingMail) -> None:
    from app.core.models import OutboxMessage
    from app.core.transaction import transaction
    from app.extensions import db

    # Loaded like the SMTP backend does, so a missing attachment fails here too.
    attached = [
        {"filename": a["filename"], "content_type": a["content_type"], "size": len(content)}
        for a, content in loaded_attachments(mail)
    ]
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
                attachments=attached,
            )
        )


BACKENDS = {"smtp": send_by_smtp, "database": keep_in_outbox}
