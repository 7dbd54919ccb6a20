"""The audit log: every state change a person makes is recorded inside its use case.

Entries are append-only: once flushed, an entry can be neither changed nor deleted
through the ORM (`AuditLogIsAppendOnly`). Values are stored JSON-safe and anything
that looks like a secret (by its field name) is stored as "[redacted]".

Services write with `record()` for events and `record_change()` for edits:

    before = audit.snapshot(customer, ["email", "credit_limit"])
    customer.email = new_email
    audit.record_change("customer.updated", actor=actor, target=customer,
                        before=before, after=audit.snapshot(customer, before))
"""

from __future__ import annotations

import copy
import enum
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from decimal import Decimal

from flask import g, has_request_context, request
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from app.core.models import AuditEntry
from app.extensions import db

REDACTED = "[redacted]"
# A field is never written to the log in clear when a word of its name (split on "_",
# "-" and spaces) is one of these, so "api_key" and "mfa_code" are hidden while
# "postcode", "country_code" and "currency_code" are kept.
SECRET_WORDS = frozenset(
    {"password", "passwd", "secret", "token", "hash", "key", "otp", "totp", "mfa", "recovery"}
)
SECRET_NAMES = frozenset({"code", "cvc", "cvv", "pin", "iban", "card_number"})


class AuditLogIsAppendOnly(RuntimeError):
    """Something tried to change or delete an audit entry: a bug, never a user error."""


def actor_label(actor) -> str:
    """Who did it, in words: a staff email, "customer <email>" for a storefront customer
    acting on their own account, or "system"."""
    if actor is None:
        return "system"
    label = getattr(actor, "email", None) or str(actor)
    return label if is_staff(actor) else f"customer {label}"


def is_staff(actor) -> bool:
    return bool(getattr(actor, "is_staff", False))


def is_secret(name: str) -> bool:
    lowered = str(name).lower()
    words = set(re.split(r"[_\-\s.]+", lowered))
    return lowered in SECRET_NAMES or bool(words & SECRET_WORDS) or "password" in lowered


def json_safe(value):
    """`value` as plain JSON types: Decimal -> str, date/datetime/time -> ISO 8601."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((json_safe(item) for item in value), key=str)
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)


def redact(data: Mapping) -> dict:
    """A JSON-safe copy of `data` with secret-named keys, at any depth, redacted."""
    clean = {}
    for key, value in data.items():
        if is_secret(key):
            clean[str(key)] = REDACTED
        elif isinstance(value, Mapping):
            clean[str(key)] = redact(value)
        else:
            clean[str(key)] = json_safe(value)
    return clean


def snapshot(obj, fields: Iterable[str]) -> dict:
    """The current values of `fields` on `obj`, copied so later in-place edits of a list
    or dict attribute do not alter the snapshot. Take one before and one after a change."""
    values = {}
    for name in fields:
        value = getattr(obj, name)
        values[name] = copy.deepcopy(value) if isinstance(value, list | dict | set) else value
    return values


def changed_fields(before: Mapping, after: Mapping) -> dict[str, list]:
    """{"field": [old, new]} for each field whose value differs, JSON-safe, secrets redacted.

    Values are compared before conversion, so Decimal("1.5") and Decimal("1.50") are equal."""
    changes = {}
    for name in sorted(set(before) | set(after), key=str):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if is_secret(name):
            changes[str(name)] = [REDACTED, REDACTED]
        else:
            changes[str(name)] = [json_safe(old), json_safe(new)]
    return changes


def record(action: str, *, actor, target=None, summary: str = "", **data) -> AuditEntry:
    """Add an audit entry to the current transaction; it commits or rolls back with it."""
    return _add_entry(action, actor=actor, target=target, summary=summary, data=data)


def record_change(
    action: str, *, actor, target, before: Mapping, after: Mapping, summary: str = "", **data
) -> AuditEntry | None:
    """Record an edit of `target` as {"changes": {"field": [old, new]}}, changed fields only.

    Returns None, and records nothing, when no field changed."""
    changes = changed_fields(before, after)
    if not changes:
        return None
    return _add_entry(action, actor=actor, target=target, summary=summary, data=data, changes=changes)


def _add_entry(action, *, actor, target, summary, data: dict, changes: dict | None = None) -> AuditEntry:
    target_type = data.pop("target_type", None)
    target_id = data.pop("target_id", None)
    if target is not None:
        target_type = type(target).__name__
        target_id = getattr(target, "id", "")
    clean = redact(data)
    if changes is not None:
        clean["changes"] = changes  # already JSON-safe and redacted field by field
    entry = AuditEntry(
        # Only staff users are linked by id; a customer actor is named in the label.
        actor_id=getattr(actor, "id", None) if is_staff(actor) else None,
        actor_label=actor_label(actor)[:255],
        action=action,
        target_type=target_type,
        target_id=str(target_id)[:64] if target_id is not None else None,
        summary=(summary or "")[:500],
        data=clean,
    )
    if has_request_context():
        entry.ip_address = request.remote_addr
        entry.request_id = g.get("request_id")
    db.session.add(entry)
    return entry


def _has_changes(entry: AuditEntry) -> bool:
    return any(attr.history.has_changes() for attr in inspect(entry).attrs)


@event.listens_for(AuditEntry, "before_update")
def _refuse_update(_mapper, _connection, entry):
    # before_update also fires for entries merely marked dirty; only real edits are refused.
    if _has_changes(entry):
        raise AuditLogIsAppendOnly(f"audit entry {entry.id} cannot be changed: the log is append-only")


@event.listens_for(AuditEntry, "before_delete")
def _refuse_delete(_mapper, _connection, entry):
    raise AuditLogIsAppendOnly(f"audit entry {entry.id} cannot be deleted: the log is append-only")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_writes(state):
    """`session.execute(update(AuditEntry))` / `delete(AuditEntry)` skip the mapper events."""
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)  # an annotated copy for ORM statements
    if getattr(table, "name", None) == AuditEntry.__tablename__:
        raise AuditLogIsAppendOnly("audit entries cannot be updated or deleted: the log is append-only")
