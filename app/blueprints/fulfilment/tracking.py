"""Tracking events: what happened to a parcel, from a provider's webhook or a staff member.

`record_tracking_event` is the one way in: it appends the event, moves the shipment's
status, and emits `shipment.tracking` after commit (emails and other channels listen).
"""

from __future__ import annotations

from datetime import datetime

from app.blueprints.fulfilment.models import TRACKING_STATUSES, Shipment, TrackingEvent
from app.core.errors import InvalidInput
from app.core.events import emit
from app.core.timeutil import utcnow
from app.extensions import db


def record_tracking_event(
    shipment: Shipment,
    status: str,
    *,
    source: str,
    occurred_at: datetime | None = None,
    description: str = "",
    location: str = "",
    actor=None,
) -> TrackingEvent:
    if status not in TRACKING_STATUSES:
        raise InvalidInput("Unknown tracking status.", errors={"status": ["Unknown status."]})
    event = TrackingEvent(
        shipment_id=shipment.id,
        order_id=shipment.order_id,
        status=status,
        source=source,
        occurred_at=occurred_at or utcnow(),
        description=description,
        location=location,
    )
    db.session.add(event)
    shipment.status = status
    db.session.flush()
    emit("shipment.tracking", shipment_id=shipment.id, tracking_event_id=event.id, status=status)
    return event
