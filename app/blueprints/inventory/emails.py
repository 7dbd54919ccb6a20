"""Inventory's outgoing mail: the core mail pipeline (rendered now, delivered by the
`email` queue after the commit, deduplicated by message id) with this domain's templates,
which live in templates/inventory/email/ rather than the core's templates/mail/.

Core `render_mail` only looks under templates/mail/; this mirrors its envelope so the two
cannot differ in what they send (same sender, same message-id domain).
"""

from __future__ import annotations

from dataclasses import asdict
from email.utils import make_msgid

from flask import current_app, render_template

from app.core.jobs import enqueue
from app.core.mail import OutgoingMail, deliver_mail

TEMPLATE_DIR = "inventory/email"


def render_inventory_mail(to: str | list[str], subject: str, template: str, **context) -> OutgoingMail:
    context.setdefault("store_name", current_app.config["STORE_NAME"])
    context["subject"] = subject
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    domain = sender.rsplit("@", 1)[-1].strip(">") or "localhost"
    return OutgoingMail(
        message_id=make_msgid(domain=domain),
        sender=sender,
        recipients=[to] if isinstance(to, str) else list(to),
        subject=subject,
        text=render_template(f"{TEMPLATE_DIR}/{template}.txt", **context),
        html=render_template(f"{TEMPLATE_DIR}/{template}.html", **context),
    )


def send_inventory_mail(to: str | list[str], subject: str, template: str, **context) -> OutgoingMail:
    """Like core `send_mail`, with `template` named under templates/inventory/email/."""
    mail = render_inventory_mail(to, subject, template, **context)
    enqueue(deliver_mail, asdict(mail), queue="email")
    return mail
