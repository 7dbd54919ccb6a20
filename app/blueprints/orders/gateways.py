"""The payment gateway interface, its registry, and the `manual` gateway.

A gateway talks to a payment provider and answers `GatewayResult`s; it never writes to
the database (the payments service records every result). Implementations:

- `manual`: bank transfer or cash on delivery. Nothing to call: staff mark the order paid
  when the money is in; void and refund are records of what staff did by hand.
- `stripe` (`stripe_gateway.py`): PaymentIntents through the `stripe` library.

`PAYMENT_GATEWAYS` (comma-separated codes) lists what checkout offers; a gateway that is
not configured (Stripe without a secret key) is not offered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from flask import current_app

from app.core.errors import InvalidInput


@dataclass
class GatewayResult:
    succeeded: bool
    # What the provider says the payment now is: pending, authorized, paid, voided,
    # refunded, failed (None: unchanged).
    status: str | None = None
    reference: str | None = None  # the payment's id at the provider (pi_...) or a refund's id
    amount: Decimal | None = None
    raw: dict = field(default_factory=dict)
    error_code: str = ""
    error_message: str = ""
    # Handed to the storefront once (Stripe's client_secret), never stored in our tables.
    client_secret: str | None = None
    instructions: str = ""  # for the customer, e.g. bank transfer details


@dataclass
class WebhookEvent:
    """A provider's webhook, verified and reduced to what the payments service needs."""

    event_id: str
    event_type: str
    payment_reference: str | None  # the payment's id at the provider
    status: str | None  # what the event says the payment now is (as GatewayResult.status)
    amount: Decimal | None  # captured or refunded amount (cumulative), when the event carries one
    raw: dict
    # What the provider had captured when it refunded: a refund can arrive before the event
    # that told us about the capture (providers do not promise order).
    captured_amount: Decimal | None = None


class WebhookRejected(Exception):
    """A webhook that must not be trusted (bad or missing signature, stale timestamp)."""


class PaymentGateway(Protocol):
    code: str
    label: str
    # True: the customer pays the provider themselves (a card form); False: the money
    # arrives by other means and staff record it, so the payment can start at once.
    collects_online: bool

    def is_configured(self) -> bool: ...

    def authorize(
        self, *, payment_id: int, order_number: str, amount: Decimal, currency: str, email: str
    ) -> GatewayResult:
        """Start collecting the payment (create the PaymentIntent)."""
        ...

    def capture(self, *, reference: str, amount: Decimal, currency: str) -> GatewayResult: ...

    def void(self, *, reference: str) -> GatewayResult: ...

    def refund(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> GatewayResult: ...

    def parse_webhook(self, body: bytes, headers) -> WebhookEvent:
        """Verify and parse a webhook; raise WebhookRejected when it cannot be trusted."""
        ...


class ManualGateway:
    """Bank transfer / cash on delivery: the money moves outside; staff record it."""

    code = "manual"
    label = "Bank transfer or cash on delivery"
    collects_online = False

    def is_configured(self) -> bool:
        return True

    def authorize(self, *, payment_id, order_number, amount, currency, email) -> GatewayResult:
        instructions = current_app.config.get("MANUAL_PAYMENT_INSTRUCTIONS", "")
        return GatewayResult(
            True, status="pending", instructions=instructions.format(order_number=order_number)
        )

    def capture(self, *, reference, amount, currency) -> GatewayResult:
        return GatewayResult(True, status="paid", amount=amount)

    def void(self, *, reference) -> GatewayResult:
        return GatewayResult(True, status="voided")

    def refund(self, *, reference, amount, currency, idempotency_key) -> GatewayResult:
        # Paid back by hand (bank transfer); the record says how much and who.
        return GatewayResult(True, status="refunded", amount=amount)

    def parse_webhook(self, body, headers) -> WebhookEvent:
        raise WebhookRejected("the manual gateway takes no webhooks")


_gateways: dict[str, PaymentGateway] = {}


def register_gateway(gateway: PaymentGateway) -> None:
    _gateways[gateway.code] = gateway


def get_gateway(code: str) -> PaymentGateway:
    """Any registered gateway (for payments already made with it), configured or not."""
    try:
        return _gateways[code]
    except KeyError:
        raise InvalidInput("Unknown payment method.", errors={"payment_method": ["Unknown."]}) from None


def offered_gateways() -> list[PaymentGateway]:
    """The gateways checkout offers now, in the order of `PAYMENT_GATEWAYS`."""
    codes = [c.strip() for c in current_app.config.get("PAYMENT_GATEWAYS", "manual").split(",") if c.strip()]
    return [_gateways[c] for c in codes if c in _gateways and _gateways[c].is_configured()]


def offline_gateways() -> list[PaymentGateway]:
    """What staff can take an order with: the customer is not at a card form."""
    return [gateway for gateway in offered_gateways() if not gateway.collects_online]


def gateway_for_checkout(code: str | None) -> PaymentGateway:
    offered = offered_gateways()
    if not offered:
        raise InvalidInput("No payment method is available.", errors={"payment_method": ["None is offered."]})
    if code is None:
        return offered[0]
    for gateway in offered:
        if gateway.code == code:
            return gateway
    names = ", ".join(g.code for g in offered)
    raise InvalidInput(
        "This payment method is not offered.", errors={"payment_method": [f"One of: {names}."]}
    )


register_gateway(ManualGateway())
