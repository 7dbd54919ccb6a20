"""The `parcelhub` provider: ParcelHub, a carrier aggregator's REST API (rates, labels from
many carriers, signed tracking webhooks), reached with `requests`.

    POST /v1/rates      {from, to, parcels}                  -> {rates: [{id, carrier, service,
                                                                 amount, currency, estimated_days}]}
    POST /v1/shipments  {reference, service | rate_id, from, to, parcels}
                        Idempotency-Key: <ours>              -> {id, carrier, service, tracking_number,
                                                                 tracking_url, label_url, estimated_delivery}
    errors: 4xx / 5xx with {error: {code, message}}

JSON over HTTPS with `Authorization: Bearer PARCELHUB_API_KEY`, at PARCELHUB_API_BASE.

- A call waits at most PARCELHUB_TIMEOUT_SECONDS and is never retried here: the caller
  holds the order's row lock while it waits, and buying a label twice costs money. The
  Idempotency-Key makes a retry by whoever called (staff pressing again) answer the first
  label instead of buying a second.
- Every failure (refused, unreachable, timed out, 5xx, not JSON) is a failed LabelResult
  with an error code and a message staff can read, never an exception.
- `service` is a ParcelHub service code ("dhl_parcel") or the id of a rate from `rates()`
  (ParcelHub's rate ids start with "rate_").

Webhooks: `ParcelHub-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with
PARCELHUB_WEBHOOK_SECRET>`, at most WEBHOOK_TOLERANCE_SECONDS away from our clock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from flask import current_app

from app.blueprints.fulfilment.providers import (
    LabelResult,
    Parcel,
    Rate,
    TrackingUpdate,
    WebhookRejected,
    register_provider,
)

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.parcelhub.example"
DEFAULT_TIMEOUT_SECONDS = 15
WEBHOOK_TOLERANCE_SECONDS = 300
SIGNATURE_HEADER = "ParcelHub-Signature"
TRACKING_EVENT_TYPE = "tracking.updated"
RATE_ID_PREFIX = "rate_"
UNREACHABLE_MESSAGE = "ParcelHub could not be reached or did not answer in time."

# ParcelHub's tracking statuses (the carriers' own, normalised by ParcelHub) -> ours.
# What is not listed is taken as "in transit" with the carrier's words kept.
CARRIER_STATUSES = {
    "pre_transit": "label_created",
    "label_created": "label_created",
    "info_received": "label_created",
    "picked_up": "picked_up",
    "accepted": "picked_up",
    "in_transit": "in_transit",
    "out_for_delivery": "out_for_delivery",
    "available_for_pickup": "out_for_delivery",
    "delivered": "delivered",
}
# Statuses that mean the parcel will not arrive as planned: a task for support.
EXCEPTION_STATUSES = frozenset(
    {
        "failure",
        "failed",
        "delivery_failed",
        "failed_attempt",
        "return_to_sender",
        "returned",
        "exception",
        "error",
        "cancelled",
        "canceled",
        "undeliverable",
        "lost",
        "damaged",
        "held",
        "customs_hold",
    }
)


class ProviderCallFailed(Exception):
    def __init__(self, code: str, message: str, raw: dict | None = None):
        super().__init__(message)
        self.code, self.message, self.raw = code, message, raw or {}


def our_status(carrier_status: str) -> str:
    """The TRACKING_STATUSES value of a ParcelHub status."""
    status = (carrier_status or "").strip().lower()
    if status in CARRIER_STATUSES:
        return CARRIER_STATUSES[status]
    if status in EXCEPTION_STATUSES:
        return "exception"
    return "in_transit"


def address_body(address: dict) -> dict:
    """One of our address snapshots as ParcelHub reads addresses."""
    return {
        "name": address.get("name") or address.get("recipient") or "",
        "company": address.get("company") or "",
        "line1": address.get("line1") or "",
        "line2": address.get("line2") or "",
        "postal_code": address.get("postal_code") or "",
        "city": address.get("city") or "",
        "region": address.get("region") or "",
        "country": address.get("country") or "",
        "phone": address.get("phone") or "",
    }


def parcels_body(parcel: Parcel) -> list[dict]:
    """One entry per package, the weight shared out (the first takes the remainder)."""
    count = max(parcel.packages, 1)
    share, rest = divmod(max(parcel.weight_grams, 0), count)
    return [{"weight_grams": share + (rest if index == 0 else 0)} for index in range(count)]


def shipment_body(parcel: Parcel) -> dict:
    return {
        "from": address_body(parcel.from_address),
        "to": address_body(parcel.to_address),
        "parcels": parcels_body(parcel),
    }


def parse_date(value) -> date | None:
    """A date from "YYYY-MM-DD" or an ISO 8601 timestamp; None when missing or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def parse_time(value) -> datetime | None:
    """An aware UTC datetime from ISO 8601 (a naive one is taken as UTC)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def text_of(value, limit: int) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def signature_parts(header: str) -> tuple[int | None, list[str]]:
    """(t, [v1 signatures]) of a `t=...,v1=...` header; several v1 while a secret rotates."""
    timestamp, signatures = None, []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value.strip().lower())
    return timestamp, signatures


def expected_signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secret: str, *, now: float | None = None) -> None:
    """Raise WebhookRejected unless `header` signs `body` with `secret` within the tolerance."""
    if not header:
        raise WebhookRejected(f"No {SIGNATURE_HEADER} header.")
    timestamp, signatures = signature_parts(header)
    if timestamp is None or not signatures:
        raise WebhookRejected(f"The {SIGNATURE_HEADER} header is not t=<time>,v1=<signature>.")
    current = time.time() if now is None else now
    if abs(current - timestamp) > WEBHOOK_TOLERANCE_SECONDS:
        raise WebhookRejected("The signature's timestamp is too far from now (a replay?).")
    expected = expected_signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, signature) for signature in signatures):
        raise WebhookRejected("The signature does not match.")


def tracking_update(event: dict) -> TrackingUpdate:
    """A verified `tracking.updated` event as a TrackingUpdate; WebhookRejected when it lacks
    what names the parcel and what happened to it."""
    data = event.get("data")
    if not isinstance(data, dict):
        raise WebhookRejected("A tracking event without data.")
    reference, tracking_number = (
        text_of(data.get("shipment_id"), 100),
        text_of(data.get("tracking_number"), 100),
    )
    carrier_status = text_of(data.get("status"), 60)
    if not (reference or tracking_number) or not carrier_status:
        raise WebhookRejected("A tracking event must name the shipment and its status.")
    occurred_at = parse_time(data.get("occurred_at"))
    if data.get("occurred_at") is not None and occurred_at is None:
        raise WebhookRejected("occurred_at is not an ISO 8601 time.")
    status = our_status(carrier_status)
    message = text_of(data.get("message"), 500)
    if (
        not message
        and status in ("in_transit", "exception")
        and carrier_status.lower() not in CARRIER_STATUSES
    ):
        # The carrier's own word is all there is to say what happened.
        message = carrier_status.replace("_", " ").capitalize()
    return TrackingUpdate(
        event_id=event["id"][:255],
        shipment_reference=reference,
        tracking_number=tracking_number,
        status=status,
        occurred_at=occurred_at or datetime.now(UTC),
        description=message,
        location=text_of(data.get("location"), 200),
        estimated_delivery=parse_date(data.get("estimated_delivery")),
        raw=event,
    )


class ParcelHubProvider:
    code = "parcelhub"
    label = "ParcelHub"
    makes_labels = True

    def is_configured(self) -> bool:
        return bool(current_app.config.get("PARCELHUB_API_KEY"))

    # ---- calls -----------------------------------------------------------------------------

    def _post(self, path: str, body: dict, *, idempotency_key: str | None = None) -> dict:
        """The JSON answer of a 2xx; ProviderCallFailed for anything else."""
        config = current_app.config
        if not self.is_configured():
            raise ProviderCallFailed("provider_not_configured", "ParcelHub is not set up (no API key).")
        headers = {"Authorization": f"Bearer {config['PARCELHUB_API_KEY']}", "Accept": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        base = (config.get("PARCELHUB_API_BASE") or DEFAULT_API_BASE).rstrip("/")
        timeout = float(config.get("PARCELHUB_TIMEOUT_SECONDS") or DEFAULT_TIMEOUT_SECONDS)
        import requests  # on first use: ~15 MB that web workers only need when shipping

        try:
            response = requests.post(f"{base}{path}", json=body, headers=headers, timeout=timeout)
        except requests.RequestException as error:
            log.warning("ParcelHub %s unreachable: %s", path, error)
            raise ProviderCallFailed("provider_unreachable", UNREACHABLE_MESSAGE) from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code >= 500:
            log.warning("ParcelHub %s answered %s", path, response.status_code)
            raise ProviderCallFailed(
                "provider_error", f"ParcelHub had an error (HTTP {response.status_code}); try again later."
            )
        if response.status_code >= 400:
            refusal = answer if isinstance(answer, dict) else {}
            error = refusal.get("error") if isinstance(refusal.get("error"), dict) else {}
            raise ProviderCallFailed(
                text_of(error.get("code"), 100) or "provider_refused",
                text_of(error.get("message"), 500)
                or f"ParcelHub refused the request (HTTP {response.status_code}).",
                refusal,
            )
        if not isinstance(answer, dict):
            raise ProviderCallFailed("invalid_response", "ParcelHub's answer could not be read.")
        return answer

    def rates(self, parcel: Parcel) -> list[Rate]:
        """What the carriers ask for this parcel, cheapest first; empty (and logged) when
        ParcelHub cannot answer: a label can still be bought by service code."""
        try:
            answer = self._post("/v1/rates", shipment_body(parcel))
        except ProviderCallFailed as failed:
            log.warning(
                "ParcelHub rates for %s failed: %s %s", parcel.shipment_number, failed.code, failed.message
            )
            return []
        rates = [rate for rate in map(rate_of, answer.get("rates") or []) if rate is not None]
        return sorted(rates, key=lambda rate: rate.amount)

    def create_label(self, parcel: Parcel, *, service: str = "", idempotency_key: str) -> LabelResult:
        body = {"reference": parcel.shipment_number, **shipment_body(parcel)}
        if service.startswith(RATE_ID_PREFIX):
            body["rate_id"] = service
        else:
            body["service"] = service
        try:
            answer = self._post("/v1/shipments", body, idempotency_key=idempotency_key)
        except ProviderCallFailed as failed:
            return LabelResult(False, raw=failed.raw, error_code=failed.code, error_message=failed.message)
        reference = text_of(answer.get("id"), 100)
        if not reference:
            return LabelResult(
                False,
                raw=answer,
                error_code="invalid_response",
                error_message="ParcelHub answered without a shipment id.",
            )
        return LabelResult(
            True,
            carrier=text_of(answer.get("carrier"), 80),
            service=text_of(answer.get("service"), 80),
            tracking_number=text_of(answer.get("tracking_number"), 100),
            tracking_url=text_of(answer.get("tracking_url"), 500),
            reference=reference,
            label_url=text_of(answer.get("label_url"), 500),
            estimated_delivery=parse_date(answer.get("estimated_delivery")),
            raw=answer,
        )

    # ---- webhooks ----------------------------------------------------------------------------

    def parse_tracking_webhook(self, body: bytes, headers) -> list[TrackingUpdate]:
        """Verify the signature and read the event. Events of other types than
        tracking.updated answer no updates (nothing to record)."""
        secret = current_app.config.get("PARCELHUB_WEBHOOK_SECRET")
        if not secret:
            raise WebhookRejected("No ParcelHub webhook secret is configured.")
        verify_signature(body, headers.get(SIGNATURE_HEADER), secret)
        try:
            event = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            raise WebhookRejected("The body is not JSON.") from None
        if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not event["id"]:
            raise WebhookRejected("Not a ParcelHub event.")
        if event.get("type") != TRACKING_EVENT_TYPE:
            return []
        return [tracking_update(event)]


def rate_of(item) -> Rate | None:
    """A rate from ParcelHub's list; None for an entry that cannot be read (skipped)."""
    if not isinstance(item, dict):
        return None
    try:
        amount = Decimal(str(item.get("amount")))
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or not item.get("currency"):
        return None
    days = item.get("estimated_days")
    return Rate(
        carrier=text_of(item.get("carrier"), 80),
        service=text_of(item.get("service"), 80),
        amount=amount.quantize(Decimal("0.01")),
        currency=str(item["currency"]).upper()[:3],
        estimated_days=days if isinstance(days, int) and not isinstance(days, bool) else None,
        rate_id=text_of(item.get("id"), 100),
    )


register_provider(ParcelHubProvider())
