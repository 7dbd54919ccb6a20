"""The shipping provider interface, its registry, and the `manual` provider.

A provider talks to a carrier (or a carrier aggregator) and answers plain results; it
never writes to the database (the shipments and tracking services record what it says).
Implementations:

- `manual`: the store's own courier, or any carrier whose label staff make elsewhere;
  staff type the carrier, tracking number and URL, and record tracking events by hand.
- `parcelhub` (`parcelhub.py`): a carrier aggregator's REST API (rates, labels, signed
  tracking webhooks).

`SHIPPING_PROVIDERS` (comma-separated codes) lists what staff can ship with; a provider
that is not configured (ParcelHub without an API key) is not offered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from flask import current_app

from app.core.errors import InvalidInput


@dataclass
class Parcel:
    """What is being sent: from a stock location to the order's shipping address."""

    order_number: str
    shipment_number: str
    from_address: dict  # {name, line1, line2, postal_code, city, region, country}
    to_address: dict  # the order's shipping address snapshot
    packages: int
    weight_grams: int


@dataclass
class Rate:
    carrier: str
    service: str
    amount: Decimal
    currency: str
    estimated_days: int | None = None
    rate_id: str = ""


@dataclass
class LabelResult:
    succeeded: bool
    carrier: str = ""
    service: str = ""
    tracking_number: str = ""
    tracking_url: str = ""
    reference: str = ""  # the shipment's id at the provider
    label_url: str = ""
    estimated_delivery: date | None = None
    raw: dict = field(default_factory=dict)
    error_code: str = ""
    error_message: str = ""


@dataclass
class TrackingUpdate:
    """One tracking event of a verified webhook, reduced to what the tracking service needs."""

    event_id: str  # the provider's id of the delivery (dedupe)
    shipment_reference: str  # the shipment's id at the provider ("" when unknown)
    tracking_number: str
    status: str  # one of models.TRACKING_STATUSES
    occurred_at: datetime
    description: str = ""
    location: str = ""
    estimated_delivery: date | None = None
    raw: dict = field(default_factory=dict)


class WebhookRejected(Exception):
    """A webhook that must not be trusted (bad or missing signature, stale timestamp)."""


class ShippingProvider(Protocol):
    code: str
    label: str
    # True: labels are bought from the provider and tracking arrives by webhook; False:
    # staff enter carrier and tracking by hand.
    makes_labels: bool

    def is_configured(self) -> bool: ...

    def rates(self, parcel: Parcel) -> list[Rate]: ...

    def create_label(self, parcel: Parcel, *, service: str = "", idempotency_key: str) -> LabelResult: ...

    def parse_tracking_webhook(self, body: bytes, headers: dict[str, str]) -> list[TrackingUpdate]:
        """Verify the signature and read the events; raise WebhookRejected if untrusted."""
        ...


class ManualProvider:
    code = "manual"
    label = "Own courier / entered by hand"
    makes_labels = False

    def is_configured(self) -> bool:
        return True

    def rates(self, parcel: Parcel) -> list[Rate]:
        return []

    def create_label(self, parcel: Parcel, *, service: str = "", idempotency_key: str) -> LabelResult:
        # Nothing to buy: the carrier and tracking number are what staff typed.
        return LabelResult(succeeded=True, service=service)

    def parse_tracking_webhook(self, body: bytes, headers: dict[str, str]) -> list[TrackingUpdate]:
        raise WebhookRejected("The manual provider sends no webhooks.")


PROVIDERS: dict[str, ShippingProvider] = {}


def register_provider(provider: ShippingProvider) -> ShippingProvider:
    PROVIDERS[provider.code] = provider
    return provider


register_provider(ManualProvider())


def enabled_codes() -> list[str]:
    raw = current_app.config.get("SHIPPING_PROVIDERS") or "manual"
    return [code.strip() for code in raw.split(",") if code.strip()]


def offered_providers() -> list[ShippingProvider]:
    """The providers staff can ship with now, in the configured order."""
    return [
        PROVIDERS[code] for code in enabled_codes() if code in PROVIDERS and PROVIDERS[code].is_configured()
    ]


def get_provider(code: str) -> ShippingProvider:
    provider = PROVIDERS.get(code)
    if provider is None or provider not in offered_providers():
        raise InvalidInput("Unknown shipping provider.", errors={"provider": ["Not offered."]})
    return provider
