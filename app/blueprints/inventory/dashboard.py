"""The inventory domain's panel on the portal dashboard: low stock."""

from __future__ import annotations

from app.blueprints.inventory import INVENTORY_READ, queries, view_queries
from app.core.dashboard import register_panel

URGENT_ALERTS = 10


@register_panel("low-stock", template="inventory/_low_stock_panel.html", permission=INVENTORY_READ, order=30)
def low_stock_panel() -> dict:
    """How many low-stock alerts are open, and the ten with the least stock left."""
    return {
        "open_alert_count": queries.open_alert_count(),
        "urgent_alerts": view_queries.most_urgent_alerts(URGENT_ALERTS),
    }
