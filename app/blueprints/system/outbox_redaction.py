"""What of a kept mail a reader of the outbox sees.

The outbox keeps mails whole, and some carry a secret in a link: a staff or customer
password reset, an account unlock, an order's tracking token. Whoever may read the outbox
(support, by default) must not be able to follow those links: a support agent could reset
an administrator's password. So secrets are hidden from everyone but the mail's own
recipient and those who may manage staff users (they can reset a password anyway).
"""

from __future__ import annotations

import re

from flask_login import current_user

from app.blueprints.auth import USERS_MANAGE
from app.core.models import OutboxMessage
from app.core.permissions import current_identity_can

# A secret as the app mails it (signed tokens, token_urlsafe): a run of 24 or more URL-safe
# characters with upper and lower case letters. Slugs, numbers and words have no such run.
SECRET = re.compile(
    r"(?<![A-Za-z0-9_.\-])(?=[A-Za-z0-9_.\-]*[A-Z])(?=[A-Za-z0-9_.\-]*[a-z])[A-Za-z0-9_.\-]{24,}"
)
HIDDEN = "[hidden]"


def hide_secrets(text: str) -> str:
    return SECRET.sub(HIDDEN, text or "")


def may_read_secrets(message: OutboxMessage) -> bool:
    if current_identity_can(USERS_MANAGE):
        return True
    email = (getattr(current_user, "email", "") or "").lower()
    recipients = {address.strip().lower() for address in (message.recipients or "").split(",")}
    return bool(email) and email in recipients


def shown_bodies(message: OutboxMessage) -> tuple[str, str]:
    """(text, HTML) of `message` as the current reader may see them."""
    if may_read_secrets(message):
        return message.text_body, message.html_body
    return hide_secrets(message.text_body), hide_secrets(message.html_body)
