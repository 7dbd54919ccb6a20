"""A customer merge, the orders' part: the duplicate's orders and carts move to the customer
who stays, and both customers' purchase figures are recomputed from the orders they now
have (customers only added the figures up; the orders say exactly).

Customers merge first and emit `customer.merged` after their commit; this runs as a job,
idempotent: a second run finds nothing left to move and writes the same figures.
"""

from __future__ import annotations

from sqlalchemy import update

from app.blueprints.orders.customer_figures import refresh_purchase_figures
from app.blueprints.orders.models import Cart
from app.blueprints.orders.order_models import Order
from app.core.events import Event, subscribe
from app.core.jobs import enqueue
from app.core.transaction import transaction
from app.extensions import db


def move_customer_history(survivor_id: int, duplicate_id: int) -> dict[str, int]:
    """Move the duplicate's orders and carts to the survivor (one UPDATE each) and
    recompute both customers' figures. Returns how many rows moved."""
    moved = {}
    for name, model in (("orders", Order), ("carts", Cart)):
        statement = (
            update(model)
            .where(model.customer_id == duplicate_id)
            .values(customer_id=survivor_id)
            .execution_options(synchronize_session=False)
        )
        moved[name] = db.session.execute(statement).rowcount
    db.session.expire_all()
    # The duplicate's figures go to zero: it has no orders left.
    refresh_purchase_figures(survivor_id)
    refresh_purchase_figures(duplicate_id)
    return moved


def move_history_job(survivor_id: int, duplicate_id: int) -> dict[str, int]:
    with transaction():
        return move_customer_history(survivor_id, duplicate_id)


@subscribe("customer.merged")
def customer_merged(event: Event) -> None:
    enqueue(move_history_job, event.payload["survivor_id"], event.payload["duplicate_id"], queue="default")
