"""Fulfilment's panel on the portal dashboard: delivery issues waiting for support."""

from __future__ import annotations

from sqlalchemy import select

from app.blueprints.fulfilment import FULFILMENT_READ, delivery_issues
from app.blueprints.fulfilment.models import DeliveryIssue
from app.core.dashboard import register_panel
from app.extensions import db

SHOWN = 5  # the oldest open issues listed; the count and the link cover the rest


@register_panel(
    "delivery-issues", template="fulfilment/_issue_dashboard_panel.html", permission=FULFILMENT_READ, order=30
)
def delivery_issues_panel() -> dict:
    """How many delivery issues are open, and the oldest few (they have waited longest)."""
    count, oldest = delivery_issues.open_issue_counts()
    issues = []
    if count:
        issues = db.session.scalars(
            select(DeliveryIssue)
            .where(DeliveryIssue.status == "open")
            .order_by(DeliveryIssue.created_at, DeliveryIssue.id)
            .limit(SHOWN)
        ).all()
    return {"open_count": count, "oldest": oldest, "rows": delivery_issues.issue_views(issues)}
