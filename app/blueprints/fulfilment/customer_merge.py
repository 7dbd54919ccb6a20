"""A customer merge, fulfilment's part: the duplicate's returns move to the customer who
stays, so they show on the survivor's timeline and in their account.

Customers merge first and emit `customer.merged` after their commit; this runs as a job,
idempotent: a second run finds nothing left to move.
"""

from __future__ import annotations

from sqlalchemy import update

from app.blueprints.fulfilment.models import ReturnRequest
from app.core.events import Event, subscribe
from app.core.jobs import enqueue
from app.core.transaction import transaction
from app.extensions import db


def move_returns(survivor_id: int, duplicate_id: int) -> int:
    """Move the duplicate's returns to the survivor (one UPDATE); how many moved."""
    statement = (
        update(ReturnRequest)
        .where(ReturnRequest.customer_id == duplicate_id)
        .values(customer_id=survivor_id)
        .execution_options(synchronize_session=False)
    )
    moved = db.session.execute(statement).rowcount
    db.session.expire_all()
    return moved


def move_returns_job(survivor_id: int, duplicate_id: int) -> int:
    with transaction():
        return move_returns(survivor_id, duplicate_id)


@subscribe("customer.merged")
def customer_merged(event: Event) -> None:
    enqueue(move_returns_job, event.payload["survivor_id"], event.payload["duplicate_id"], queue="default")
