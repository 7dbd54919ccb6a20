"""Tracking webhooks: a shipping provider tells us what happened to a parcel.

Verified by the provider (`parse_tracking_webhook` raises WebhookRejected before anything is
stored), each event stored once (the unique (provider, event id) makes a redelivery, even a
concurrent one, a no-op), then applied through the tracking service, which locks the
order's row. An event about a parcel we do not know is stored with the outcome "unknown
shipment" and answered like any other: a provider retries anything but a 2xx for days, and
retrying will not make the shipment ours.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from app.blueprints.fulfilment import tracking
from app.blueprints.fulfilment.models import Shipment, ShippingWebhookEvent
from app.blueprints.fulfilment.providers import PROVIDERS, ShippingProvider, TrackingUpdate
from app.core import audit
from app.core.errors import NotFound
from app.core.transaction import savepoint
from app.extensions import db

# What was done with one event.
APPLIED = "applied"  # recorded; it is the shipment's status now
HISTORY = "recorded late"  # recorded; a later status was known already, the shipment stays
DUPLICATE = "duplicate"  # delivered before: nothing changed
UNKNOWN_SHIPMENT = "unknown shipment"  # stored only
IGNORED = "ignored"  # not a tracking event: nothing to record


@dataclass(frozen=True)
class Outcome:
    event_id: str
    status: str


def webhook_provider(code: str) -> ShippingProvider:
    """The provider behind /hooks/<code>: one that sends webhooks (labels bought from it),
    whether or not it is offered for new shipments (parcels already sent keep reporting)."""
    provider = PROVIDERS.get(code)
    if provider is None or not provider.makes_labels:
        raise NotFound("No shipping provider sends webhooks here.", code="unknown_provider")
    return provider


def handle_tracking_webhook(provider_code: str, body: bytes, headers) -> list[Outcome]:
    """Verify, store each event once, apply. Raises NotFound for a provider that sends no
    webhooks and WebhookRejected, before storing anything, for a delivery that cannot be
    trusted. An empty list: a trusted delivery with nothing to record."""
    provider = webhook_provider(provider_code)
    updates = provider.parse_tracking_webhook(body, headers)
    return [handle_update(provider_code, update) for update in updates]


def shipment_of(provider_code: str, update: TrackingUpdate) -> Shipment | None:
    """Ours by the provider's id of it, else by its tracking number (newest first)."""
    names = []
    if update.shipment_reference:
        names.append(Shipment.provider_reference == update.shipment_reference)
    if update.tracking_number:
        names.append(Shipment.tracking_number == update.tracking_number)
    if not names:
        return None
    candidates = db.session.scalars(
        select(Shipment).where(Shipment.provider == provider_code, or_(*names)).order_by(Shipment.id.desc())
    ).all()
    by_reference = [s for s in candidates if s.provider_reference == update.shipment_reference]
    return (by_reference or candidates or [None])[0]


def handle_update(provider_code: str, update: TrackingUpdate) -> Outcome:
    shipment = shipment_of(provider_code, update)
    stored = ShippingWebhookEvent(
        provider=provider_code,
        event_id=update.event_id[:255],
        shipment_id=shipment.id if shipment else None,
        payload=audit.json_safe(update.raw),
    )
    try:
        # A second delivery (even a concurrent one: it waits for the first to commit) fails
        # on the unique (provider, event id).
        with savepoint():
            db.session.add(stored)
    except IntegrityError:
        return Outcome(update.event_id, DUPLICATE)
    if shipment is None:
        stored.outcome = UNKNOWN_SHIPMENT
        return Outcome(update.event_id, UNKNOWN_SHIPMENT)
    event = tracking.record_tracking_event(
        shipment,
        update.status,
        source=provider_code,
        occurred_at=update.occurred_at,
        description=update.description[: tracking.MAX_DESCRIPTION],
        location=update.location[: tracking.MAX_LOCATION],
        estimated_delivery=update.estimated_delivery,
    )
    stored.outcome = APPLIED if shipment.status == event.status else HISTORY
    return Outcome(update.event_id, stored.outcome)
