"""Buying a shipment's label from a provider that makes labels (ParcelHub): the parcel it
is told about (from the stock location to the order's shipping address) and what its
answer fills in on the shipment. A refusal is a Conflict `label_failed`; the shipments
service asks before it writes anything, so a refused label leaves nothing behind.
"""

from __future__ import annotations

import re

from flask import current_app

from app.blueprints.fulfilment import providers
from app.blueprints.fulfilment.models import Shipment
from app.blueprints.inventory.models import StockLocation
from app.core.errors import Conflict

# "1015 CJ Amsterdam", "10115 Berlin": a postal code, then the city.
POSTAL_AND_CITY = re.compile(r"^(\d{4,5}(?:\s?[A-Za-z]{2})?)\s+(.+)$")
FILLED_FROM_LABEL = (
    "carrier",
    "service",
    "tracking_number",
    "tracking_url",
    "provider_reference",
    "label_url",
)


def sender_address(location: StockLocation) -> dict:
    """Where the parcel leaves from: the location's address, else the store's, read from
    free text ("Keizersgracht 1, 1015 CJ Amsterdam, Netherlands") as well as it goes."""
    text = (location.address or "").strip() or current_app.config.get("STORE_ADDRESS", "")
    parts = [part.strip() for part in re.split(r"[\n,]", text) if part.strip()]
    address = {
        "name": current_app.config.get("STORE_NAME", ""),
        "line1": parts[0] if parts else "",
        "line2": "",
        "postal_code": "",
        "city": "",
        "region": "",
        "country": current_app.config.get("STORE_COUNTRY", ""),
    }
    rest = []
    for part in parts[1:]:
        match = POSTAL_AND_CITY.match(part)
        if match and not address["city"]:
            address["postal_code"], address["city"] = match.group(1), match.group(2)
        elif not address["city"]:
            rest.append(part)  # after the city comes the country, which the config names
    address["line2"] = ", ".join(rest)
    return address


def quote_rates(order, provider, location: StockLocation, *, packages: int, weight_grams: int) -> list:
    """What `provider`'s carriers ask to take this order's parcels from `location` to its
    shipping address, cheapest first (empty for a provider that sells no labels, or when
    it cannot answer). A rate's id can be given as the service of the shipment."""
    parcel = providers.Parcel(
        order_number=order.number,
        shipment_number="",
        from_address=sender_address(location),
        to_address=dict(order.shipping_address or {}),
        packages=packages,
        weight_grams=weight_grams,
    )
    return provider.rates(parcel)


def buy_label(shipment: Shipment, provider, *, order, location: StockLocation, idempotency_key: str) -> None:
    """Ask `provider` for the label of `shipment` (not yet written) and fill it in."""
    parcel = providers.Parcel(
        order_number=order.number,
        shipment_number=shipment.number,
        from_address=sender_address(location),
        to_address=dict(order.shipping_address or {}),
        packages=shipment.packages,
        weight_grams=shipment.weight_grams,
    )
    label = provider.create_label(parcel, service=shipment.service, idempotency_key=idempotency_key)
    if not label.succeeded:
        why = label.error_message or label.error_code or "no reason given"
        raise Conflict(f"{provider.label} made no label: {why}", code="label_failed")
    answered = {
        "carrier": label.carrier or shipment.carrier,
        "service": label.service or shipment.service,
        "tracking_number": label.tracking_number or shipment.tracking_number,
        "tracking_url": label.tracking_url or shipment.tracking_url,
        "provider_reference": label.reference or "",
        "label_url": label.label_url or "",
    }
    for name in FILLED_FROM_LABEL:
        limit = Shipment.__table__.c[name].type.length
        setattr(shipment, name, (answered[name] or "")[:limit])
    shipment.estimated_delivery = label.estimated_delivery
