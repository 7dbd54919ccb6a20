"""The audit helper: secrets never stored in clear, only what changed, JSON-safe, append-only."""

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, select, update

from app.core import audit
from app.core.audit import REDACTED, AuditLogIsAppendOnly
from app.core.models import AuditEntry
from tests.factories.auth import UserFactory


def stored(entry) -> AuditEntry:
    from app.extensions import db

    db.session.flush()
    db.session.expire(entry)
    return db.session.get(AuditEntry, entry.id)


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "password_hash",
        "mfa_secret_encrypted",
        "api_token",
        "token_hash",
        "signing_key",
        "mfa_code",
    ],
)
def test_fields_named_like_secrets_are_redacted(name):
    assert audit.is_secret(name)
    assert audit.changed_fields({name: "old-value"}, {name: "new-value"}) == {name: [REDACTED, REDACTED]}


def test_ordinary_fields_are_not_redacted():
    ordinary = (
        "email",
        "name",
        "scopes",
        "price",
        "failures",
        "postcode",
        "country_code",
        "currency_code",
        "keyword",
    )
    assert not any(audit.is_secret(name) for name in ordinary)


def test_redaction_applies_to_record_data_at_any_depth(db):
    actor = UserFactory()
    entry = audit.record(
        "thing.done",
        actor=actor,
        summary="x",
        email="a@example.com",
        reset_token="abc123",
        provider={"api_key": "sk_live_1", "region": "eu"},
    )
    data = stored(entry).data
    assert data["email"] == "a@example.com"
    assert data["reset_token"] == REDACTED
    assert data["provider"] == {"api_key": REDACTED, "region": "eu"}
    assert "abc123" not in str(data) and "sk_live_1" not in str(data)


def test_record_change_stores_only_changed_fields(db):
    user = UserFactory(name="Ada", timezone=None)
    before = audit.snapshot(user, ["name", "email", "timezone", "password_hash"])
    user.name = "Ada Lovelace"
    user.timezone = "Europe/London"
    user.password_hash = "new-hash-value"
    entry = audit.record_change(
        "user.updated", actor=user, target=user, before=before, after=audit.snapshot(user, before)
    )
    changes = stored(entry).data["changes"]
    assert changes == {
        "name": ["Ada", "Ada Lovelace"],
        "timezone": [None, "Europe/London"],
        "password_hash": [REDACTED, REDACTED],
    }
    assert "email" not in changes
    assert stored(entry).target_type == "User" and stored(entry).target_id == str(user.id)


def test_record_change_without_changes_records_nothing(db):
    user = UserFactory()
    before = audit.snapshot(user, ["name", "email"])
    assert (
        audit.record_change("user.updated", actor=user, target=user, before=before, after=dict(before))
        is None
    )


def test_changed_values_are_stored_json_safe(db):
    item = SimpleNamespace(
        id=7, price=Decimal("19.90"), starts=date(2026, 1, 1), seen=datetime(2026, 1, 1, 9, 30, tzinfo=UTC)
    )
    before = audit.snapshot(item, ["price", "starts", "seen"])
    item.price, item.starts = Decimal("24.50"), date(2026, 2, 1)
    item.seen = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)
    entry = audit.record_change(
        "item.updated", actor=None, target=item, before=before, after=audit.snapshot(item, before)
    )
    assert stored(entry).data["changes"] == {
        "price": ["19.90", "24.50"],
        "starts": ["2026-01-01", "2026-02-01"],
        "seen": ["2026-01-01T09:30:00+00:00", "2026-02-01T10:00:00+00:00"],
    }
    assert stored(entry).actor_label == "system"


def test_equal_decimals_with_different_scale_are_not_a_change():
    assert audit.changed_fields({"price": Decimal("1.5")}, {"price": Decimal("1.50")}) == {}


def test_snapshot_is_not_altered_by_later_in_place_edits():
    item = SimpleNamespace(scopes=["a"])
    before = audit.snapshot(item, ["scopes"])
    item.scopes.append("b")
    assert audit.changed_fields(before, audit.snapshot(item, ["scopes"])) == {"scopes": [["a"], ["a", "b"]]}


def test_audit_entries_cannot_be_updated_through_the_session(db):
    entry = stored(audit.record("thing.done", actor=None, summary="original"))
    entry.summary = "rewritten"
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()


def test_audit_entries_cannot_be_deleted_through_the_session(db):
    entry = stored(audit.record("thing.done", actor=None, summary="original"))
    db.session.delete(entry)
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()


@pytest.mark.parametrize(
    "statement",
    [update(AuditEntry).values(summary="rewritten"), delete(AuditEntry)],
    ids=["bulk update", "bulk delete"],
)
def test_audit_entries_cannot_be_changed_in_bulk(db, statement):
    audit.record("thing.done", actor=None, summary="original")
    db.session.flush()
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.execute(statement)
    db.session.rollback()


def test_appending_and_reading_entries_still_works(db):
    first = stored(audit.record("thing.done", actor=None))
    audit.record("thing.done", actor=None)
    db.session.flush()
    assert db.session.scalars(select(AuditEntry.id).where(AuditEntry.id >= first.id)).all()


def test_record_keeps_its_request_ip_and_request_id(app, db):
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "203.0.113.9"}):
        from flask import g

        g.request_id = "req-12345678"
        entry = audit.record("thing.done", actor=None, target_type="job", target_id="j1")
    entry = stored(entry)
    assert (entry.ip_address, entry.request_id) == ("203.0.113.9", "req-12345678")
    assert (entry.target_type, entry.target_id) == ("job", "j1")
