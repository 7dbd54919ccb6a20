"""Work started at the same moment from several threads, as concurrent requests would be."""

from __future__ import annotations

import threading
from collections.abc import Callable

from app.extensions import db

BARRIER_SECONDS = 30


def run_at_once(app, work: list[Callable[[], object]], *, timeout: float = 120) -> list:
    """Call each of `work` in its own thread and app context (so its own session), all
    released together. Per call: what it returned, or the exception it raised (kept, not
    lost in its thread: a DomainError is a refusal, anything else what a 500 would be)."""
    start = threading.Barrier(len(work), timeout=BARRIER_SECONDS)
    results: list = [None] * len(work)

    def run(index: int) -> None:
        with app.app_context():
            try:
                start.wait()
                results[index] = work[index]()
            except BaseException as raised:
                results[index] = raised
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a concurrent call hung"
    return results
