"""One use case, one transaction: `with transaction():` commits once or rolls back whole.

Work that must only happen once the data is safely stored (dispatching events,
enqueueing jobs) is registered with `on_commit()` and run after the commit; on a
rollback it is dropped. `with savepoint():` runs part of a transaction that may fail on its
own: its writes and its after-commit work are dropped, the rest of the transaction goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import contextmanager

from app.extensions import db

log = logging.getLogger(__name__)

ACTIVE_KEY = "transaction_active"
AFTER_COMMIT_KEY = "after_commit"


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
        raise
    finally:
        session.info.pop(ACTIVE_KEY, None)
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
    try:
        with session.begin_nested():
            yield session
    except BaseException:
        del session.info.get(AFTER_COMMIT_KEY, [])[queued:]
        raise
