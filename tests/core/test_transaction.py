"""transaction(): one commit or a whole rollback; events and jobs only after commit.
savepoint(): a part that fails alone, taking its writes and its after-commit work with it."""

import pytest
from sqlalchemy import func, select

from app.core import events
from app.core.models import AuditEntry
from app.core.transaction import NestedTransactionError, on_commit, savepoint, transaction


def audit_count(db):
    return db.session.scalar(select(func.count(AuditEntry.id)))


def add_entry(db, action):
    db.session.add(AuditEntry(actor_label="test", action=action, data={}))
    db.session.flush()


def test_exception_inside_transaction_rolls_back_every_write(db):
    before = audit_count(db)
    with pytest.raises(RuntimeError), transaction():
        add_entry(db, "first")
        add_entry(db, "second")
        raise RuntimeError("the use case failed half way")
    assert audit_count(db) == before


def test_commit_keeps_every_write(db):
    before = audit_count(db)
    with transaction():
        add_entry(db, "first")
        add_entry(db, "second")
    assert audit_count(db) == before + 2


@pytest.fixture
def heard():
    received = []

    def listener(event):
        received.append(event)

    events.subscribe("test.happened")(listener)
    yield received
    events.LISTENERS["test.happened"].remove(listener)


def test_events_are_dispatched_only_after_commit(db, heard):
    with transaction():
        events.emit("test.happened", value=1)
        assert heard == [], "listener ran before the commit"
    assert [e.payload for e in heard] == [{"value": 1}]


def test_events_of_a_rolled_back_transaction_are_never_dispatched(db, heard):
    with pytest.raises(ValueError), transaction():
        events.emit("test.happened", value=1)
        raise ValueError("rolled back")
    with transaction():
        pass
    assert heard == []


def test_a_failing_listener_does_not_undo_the_commit_or_silence_others(db, heard, caplog):
    def broken(event):
        raise RuntimeError("listener bug")

    events.LISTENERS["test.happened"].insert(0, broken)
    try:
        before = audit_count(db)
        with transaction():
            add_entry(db, "kept")
            events.emit("test.happened", value=2)
        assert audit_count(db) == before + 1
        assert len(heard) == 1
        assert "listener bug" in caplog.text
    finally:
        events.LISTENERS["test.happened"].remove(broken)


def test_nested_transaction_is_refused(db):
    with pytest.raises(NestedTransactionError), transaction(), transaction():
        pass


def test_on_commit_outside_a_transaction_runs_at_once(db):
    ran = []
    on_commit(lambda: ran.append(True))
    assert ran == [True]


def test_a_failed_savepoint_drops_its_writes_and_callbacks_but_not_those_before_it(db, heard):
    ran = []
    before = audit_count(db)
    with transaction():
        add_entry(db, "kept")
        on_commit(lambda: ran.append("before"))
        events.emit("test.happened", value="before")
        with pytest.raises(ValueError), savepoint():
            add_entry(db, "rolled back")
            on_commit(lambda: ran.append("inside"))
            events.emit("test.happened", value="inside")
            raise ValueError("this part failed")
        on_commit(lambda: ran.append("after"))
        assert ran == [] and heard == [], "a callback ran before the commit"
    assert ran == ["before", "after"]
    assert [e.payload for e in heard] == [{"value": "before"}]
    assert audit_count(db) == before + 1


def test_a_savepoint_that_succeeds_keeps_its_writes_and_callbacks_until_the_commit(db):
    ran = []
    before = audit_count(db)
    with transaction():
        with savepoint():
            add_entry(db, "kept")
            on_commit(lambda: ran.append("inside"))
        assert ran == []
    assert ran == ["inside"]
    assert audit_count(db) == before + 1
