"""One use case, one transaction: `with transaction():` commits once or rolls back whole.

Work that must only happen once the data is safely stored (dispatching events,
enqueueing jobs) is registered with `on_commit()` and run after the commit; on a
rollback it is dropped. `with savepoint():` runs part of a transaction that may fail on its
own: its writes and its after-commit work are dropped, the rest of the transaction goes on.
What must be stored even when the use case fails (a payment provider's refusal) is written
with `keep_if_rolled_back()`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import contextmanager

from app.extensions import db

log = logging.getLogger(__name__)

ACTIVE_KEY = "transaction_active"
AFTER_COMMIT_KEY = "after_commit"
AFTER_ROLLBACK_KEY = "after_rollback"


class NestedTransactionError(RuntimeError):
    """A use case opened a transaction inside another; services must not commit."""


def in_transaction() -> bool:
    return bool(db.session.info.get(ACTIVE_KEY))


def on_commit(callback: Callable[[], None]) -> None:
    """Run `callback` after the open transaction commits (now, if none is open)."""
    if in_transaction():
        db.session.info.setdefault(AFTER_COMMIT_KEY, []).append(callback)
    else:
        run_callbacks([callback])


def run_callbacks(callbacks: list[Callable[[], None]]) -> None:
    # The use case has committed: a failing follow-up is logged, never turned into an
    # error for a caller whose change is already stored.
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception("after-commit callback %r failed", callback)


def keep_if_rolled_back(write: Callable[[], None]) -> None:
    """Make sure a record survives the use case failing: if the open transaction (or the
    savepoint around this call) rolls back, `write` (which only adds rows, never commits)
    runs again afterwards and is stored on its own. For what must be kept whatever happens,
    such as a payment provider's refusal: the refusal is why the use case fails."""
    if in_transaction():
        db.session.info.setdefault(AFTER_ROLLBACK_KEY, []).append(write)


def _store_after_rollback(writes: list[Callable[[], None]]) -> None:
    for write in writes:
        try:
            with transaction():
                write()
        except Exception:
            log.exception("could not keep %r after the rollback", write)


@contextmanager
def transaction():
    session = db.session
    if session.info.get(ACTIVE_KEY):
        raise NestedTransactionError("transaction() is already open: call services inside it")
    session.info[ACTIVE_KEY] = True
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        session.info.pop(AFTER_COMMIT_KEY, None)
        kept = session.info.pop(AFTER_ROLLBACK_KEY, [])
        session.info.pop(ACTIVE_KEY, None)
        _store_after_rollback(kept)
        raise
    finally:
        session.info.pop(ACTIVE_KEY, None)
    session.info.pop(AFTER_ROLLBACK_KEY, None)
    run_callbacks(session.info.pop(AFTER_COMMIT_KEY, []))


@contextmanager
def savepoint():
    """Run a block in a savepoint (`session.begin_nested()`) of the open transaction.

    If the block raises, its writes are rolled back to the savepoint and the after-commit
    callbacks it registered with `on_commit()` are discarded, so nothing is announced for a
    change that was never stored; the exception propagates. Callbacks registered before the
    savepoint, and the transaction itself, are untouched: the caller may catch the error and
    go on (e.g. skip one bad row of a batch). On success the callbacks stay queued and run
    after the enclosing commit, like any others.
    """
    session = db.session
    queued = len(session.info.get(AFTER_COMMIT_KEY, ()))
    kept_before = len(session.info.get(AFTER_ROLLBACK_KEY, ()))
    try:
        with session.begin_nested():
            yield session
    except BaseException:
        del session.info.get(AFTER_COMMIT_KEY, [])[queued:]
        # What had to be kept goes into the enclosing transaction now; it stays registered
        # in case that one rolls back too.
        for write in session.info.get(AFTER_ROLLBACK_KEY, [])[kept_before:]:
            write()
        raise
