"""The customers domain's panel on the portal dashboard: my follow-ups due."""

from __future__ import annotations

from datetime import datetime

from flask_login import current_user

from app.blueprints.customers import CUSTOMERS_READ, INTERACTIONS_WRITE, queries
from app.core.dashboard import register_panel
from app.core.formatting import viewer_timezone
from app.core.permissions import current_identity_can


@register_panel(
    "follow-ups", template="customers/_follow_ups_panel.html", permission=CUSTOMERS_READ, order=20
)
def follow_ups_panel() -> dict:
    """The signed-in person's follow-ups due today or earlier."""
    today = datetime.now(viewer_timezone()).date()
    return {
        "follow_ups": queries.follow_ups_due(current_user, until=today),
        "can_complete_follow_ups": current_identity_can(INTERACTIONS_WRITE),
        "today": today,
    }
