"""One use case, one transaction: `with transaction():` commits once or rolls back whole.

Work that must only happen once the data is safely stored (dispatching events,
enqueueing jobs) is registered with `on_commit()` and run after the commit; on a
rollback it is dropped.
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
