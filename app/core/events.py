"""Domain events: emitted by services, delivered to listeners after the commit.

A service calls `emit("order.placed", order_id=...)`; listeners in other domains
subscribe with `@subscribe("order.placed")`. Listeners run only once the data is
committed, so they never announce work that was rolled back.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from app.core.timeutil import utcnow
from app.core.transaction import on_commit

log = logging.getLogger(__name__)

LISTENERS: dict[str, list[Callable]] = defaultdict(list)


@dataclass(frozen=True)
class Event:
    name: str
    payload: dict
    occurred_at: datetime = field(default_factory=utcnow)


def subscribe(name: str):
    def decorator(listener: Callable) -> Callable:
        if listener not in LISTENERS[name]:
            LISTENERS[name].append(listener)
        return listener

    return decorator


def emit(name: str, **payload) -> Event:
    event = Event(name, payload)
    on_commit(lambda: dispatch(event))
    return event


def dispatch(event: Event) -> None:
    # One failing listener must not keep the others from hearing the event.
    for listener in list(LISTENERS.get(event.name, ())):
        try:
            listener(event)
        except Exception:
            log.exception("listener %s failed for event %s", listener.__qualname__, event.name)
