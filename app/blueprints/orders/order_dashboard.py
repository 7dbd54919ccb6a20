"""The orders domain's panel on the portal dashboard: orders waiting for someone."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, func, select

from app.blueprints.orders import ORDERS_READ
from app.blueprints.orders.order_models import Order
from app.core.dashboard import register_panel
from app.core.timeutil import utcnow
from app.extensions import db

UNPAID_AFTER_DAYS = 3  # a bank transfer takes a day or two; after three, someone calls


@register_panel(
    "orders-to-handle", template="orders/_order_dashboard_panel.html", permission=ORDERS_READ, order=20
)
def orders_to_handle_panel() -> dict:
    """Paid orders nobody started on, orders on hold, and orders still unpaid after
    UNPAID_AFTER_DAYS days: three counts in one query."""
    overdue_before = utcnow() - timedelta(days=UNPAID_AFTER_DAYS)
    counts = db.session.execute(
        select(
            func.count().filter(Order.status == "paid"),
            func.count().filter(Order.status == "on_hold"),
            # Any payment method: a card payment abandoned for days needs a call as well, and
            # the count then matches the list its link opens.
            func.count().filter(and_(Order.status == "pending_payment", Order.placed_at < overdue_before)),
        ).where(Order.status.in_(("paid", "on_hold", "pending_payment")))
    ).one()
    return {
        "paid_waiting": counts[0],
        "on_hold": counts[1],
        "unpaid_overdue": counts[2],
        "unpaid_after_days": UNPAID_AFTER_DAYS,
        # Placed on or before this day (the list's date filter counts whole UTC days).
        "overdue_until": (overdue_before - timedelta(days=1)).date(),
    }
