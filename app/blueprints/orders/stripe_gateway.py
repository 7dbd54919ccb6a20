"""The `stripe` gateway: PaymentIntents through the `stripe` library, and Stripe's webhooks.

Checkout creates a PaymentIntent (automatic capture) and hands its client secret to the
storefront, where Stripe.js collects the card and confirms it; the card never reaches us.
Stripe then tells us the outcome by webhook (`payment_intent.succeeded`, ...), which
`parse_webhook` verifies and reduces to a `WebhookEvent` for the payments service.

- Amounts go to Stripe in the currency's minor units: cents, nothing for zero-decimal
  currencies (JPY), thousandths for three-decimal ones (KWD).
- Creating an intent carries the idempotency key `payment-<id>-create`, so a retried
  creation answers the first intent instead of making a second one.
- Every failure (declined card, API error, timeout, unreachable API) is a failed
  `GatewayResult`, never an exception; a call waits at most `STRIPE_TIMEOUT_SECONDS` and is
  not retried by the library: callers hold the order's row lock while they wait, and the
  retry belongs to whoever called (the customer, staff, Stripe's webhook redelivery).
- Client secrets are handed out once and never stored: every raw answer kept in our
  tables has them taken out.

Config: STRIPE_SECRET_KEY (configured = set), STRIPE_PUBLISHABLE_KEY (for the storefront),
STRIPE_WEBHOOK_SECRET, STRIPE_API_BASE (a local server in tests), STRIPE_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING

from flask import current_app

from app.blueprints.orders import gateways
from app.blueprints.orders.gateways import GatewayResult, WebhookEvent, WebhookRejected
from app.core.money import store_currency, to_money

if TYPE_CHECKING:
    import stripe

log = logging.getLogger(__name__)


def sdk():
    """The stripe library, imported on first use: it weighs ~20 MB in every web worker,
    and most workers of a shop that takes bank transfers never talk to Stripe."""
    import stripe

    return stripe


# https://docs.stripe.com/currencies#zero-decimal and #three-decimal
ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    }
)
THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})

# What a PaymentIntent's status means for our payment.
INTENT_STATUSES = {
    "requires_payment_method": "pending",
    "requires_confirmation": "pending",
    "requires_action": "pending",
    "processing": "pending",
    "requires_capture": "authorized",
    "succeeded": "paid",
    "canceled": "voided",
}
SECRET_KEYS = frozenset({"client_secret"})
DEFAULT_TIMEOUT_SECONDS = 20
UNREACHABLE_MESSAGE = "The payment provider could not be reached or did not answer in time."


class AmountNotRepresentable(ValueError):
    """An amount with more decimals than the currency has (0.50 JPY)."""


class NotConfigured(RuntimeError):
    """No secret key: nothing can be asked of Stripe."""


def currency_exponent(currency: str) -> int:
    code = currency.upper()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def minor_units(amount: Decimal, currency: str) -> int:
    """`amount` as Stripe wants it: an integer of the currency's smallest unit."""
    scaled = Decimal(amount).scaleb(currency_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise AmountNotRepresentable(f"{amount} {currency.upper()} has more decimals than the currency")
    return int(scaled)


def major_units(minor: int | None, currency: str) -> Decimal | None:
    if minor is None:
        return None
    return to_money(Decimal(int(minor)).scaleb(-currency_exponent(currency)))


def without_secrets(value):
    """`value` (a Stripe answer as plain data) with every client secret taken out."""
    if isinstance(value, dict):
        return {key: without_secrets(item) for key, item in value.items() if key not in SECRET_KEYS}
    if isinstance(value, list):
        return [without_secrets(item) for item in value]
    return value


def as_data(obj) -> dict:
    """A StripeObject (or an error's JSON body) as plain JSON data without secrets."""
    if obj is None:
        return {}
    data = obj.to_dict(recursive=True, for_json=True) if isinstance(obj, sdk().StripeObject) else obj
    return without_secrets(data) if isinstance(data, dict) else {}


@lru_cache(maxsize=8)
def _client_for(api_key: str, api_base: str, timeout: float) -> stripe.StripeClient:
    # One client per configuration keeps its connection pool between calls.
    return sdk().StripeClient(
        api_key,
        base_addresses={"api": api_base},
        max_network_retries=0,
        http_client=sdk().RequestsClient(timeout=timeout),
    )


def _failure(error: Exception, *, status: str | None) -> GatewayResult:
    """A failed result from whatever the call raised."""
    if isinstance(error, NotConfigured | AmountNotRepresentable):
        code = "gateway_not_configured" if isinstance(error, NotConfigured) else "amount_not_representable"
        return GatewayResult(False, status=status, error_code=code, error_message=str(error))
    if isinstance(error, sdk().APIConnectionError):
        return GatewayResult(
            False, status=status, error_code="gateway_unreachable", error_message=UNREACHABLE_MESSAGE
        )
    if isinstance(error, sdk().StripeError):
        body = error.json_body if isinstance(error.json_body, dict) else {}
        details = body.get("error") if isinstance(body.get("error"), dict) else {}
        # "card_declined" and the like; the why (decline_code) stays in the raw answer.
        code = error.code or details.get("type") or "gateway_error"
        message = error.user_message or "The payment provider refused the request."
        return GatewayResult(
            False, status=status, error_code=str(code), error_message=str(message), raw=as_data(body)
        )
    log.error("unexpected error from the stripe library", exc_info=error)
    return GatewayResult(
        False, status=status, error_code="gateway_error", error_message="The payment provider call failed."
    )


def _intent_in_state(error: Exception, *states: str) -> dict | None:
    """The PaymentIntent a refused call names, when it is already in one of `states` (a
    retried cancel or capture whose first attempt went through but timed out)."""
    body = getattr(error, "json_body", None)
    details = body.get("error") if isinstance(body, dict) else None
    intent = details.get("payment_intent") if isinstance(details, dict) else None
    if isinstance(intent, dict) and intent.get("status") in states:
        return intent
    return None


def _intent_result(intent: dict) -> GatewayResult:
    currency = intent.get("currency") or store_currency()
    status = INTENT_STATUSES.get(intent.get("status"))
    amount = intent.get("amount_received") if status == "paid" else intent.get("amount")
    return GatewayResult(
        True,
        status=status,
        reference=intent.get("id"),
        amount=major_units(amount, currency),
        raw=without_secrets(intent),
    )


class StripeGateway:
    code = "stripe"
    label = "Card (Stripe)"
    collects_online = True

    def is_configured(self) -> bool:
        return bool(current_app.config.get("STRIPE_SECRET_KEY"))

    def _client(self) -> stripe.StripeClient:
        config = current_app.config
        timeout = float(config.get("STRIPE_TIMEOUT_SECONDS") or DEFAULT_TIMEOUT_SECONDS)
        api_base = (config.get("STRIPE_API_BASE") or sdk().DEFAULT_API_BASE).rstrip("/")
        return _client_for(config.get("STRIPE_SECRET_KEY") or "", api_base, timeout)

    def _call(self, operation: Callable[[stripe.StripeClient], object]):
        """(answer, None), or (None, the error): the library's errors stop here."""
        try:
            if not self.is_configured():
                raise NotConfigured("Card payments are not set up (no Stripe secret key).")
            return operation(self._client()), None
        except Exception as error:  # a gateway answers results, it never raises
            return None, error

    def authorize(self, *, payment_id, order_number, amount, currency, email) -> GatewayResult:
        def create(client: stripe.StripeClient):
            params = {
                "amount": minor_units(amount, currency),
                "currency": currency.lower(),
                "metadata": {"order_number": order_number, "payment_id": str(payment_id)},
                "description": f"Order {order_number}",
                "automatic_payment_methods": {"enabled": True},
                "capture_method": "automatic",
            }
            if email:
                params["receipt_email"] = email
            return client.v1.payment_intents.create(
                params=params, options={"idempotency_key": f"payment-{payment_id}-create"}
            )

        intent, error = self._call(create)
        if error is not None:
            return _failure(error, status="failed")
        result = _intent_result(as_data(intent))
        result.client_secret = getattr(intent, "client_secret", None)
        return result

    def capture(self, *, reference, amount, currency) -> GatewayResult:
        intent, error = self._call(
            lambda client: client.v1.payment_intents.capture(
                reference, params={"amount_to_capture": minor_units(amount, currency)}
            )
        )
        if error is not None:
            already = _intent_in_state(error, "succeeded")
            return _intent_result(without_secrets(already)) if already else _failure(error, status=None)
        return _intent_result(as_data(intent))

    def void(self, *, reference) -> GatewayResult:
        intent, error = self._call(lambda client: client.v1.payment_intents.cancel(reference))
        if error is not None:
            already = _intent_in_state(error, "canceled")
            return _intent_result(without_secrets(already)) if already else _failure(error, status=None)
        return _intent_result(as_data(intent))

    def refund(self, *, reference, amount, currency, idempotency_key) -> GatewayResult:
        refund, error = self._call(
            lambda client: client.v1.refunds.create(
                params={"payment_intent": reference, "amount": minor_units(amount, currency)},
                options={"idempotency_key": idempotency_key},
            )
        )
        if error is not None:
            return _failure(error, status=None)
        data = as_data(refund)
        # A "pending" refund goes through later (should it fail, a webhook says so).
        if data.get("status") in ("failed", "canceled"):
            return GatewayResult(
                False,
                reference=data.get("id"),
                raw=data,
                error_code=str(data.get("failure_reason") or "refund_failed"),
                error_message="The payment provider could not refund this payment.",
            )
        return GatewayResult(
            True,
            status="refunded",
            reference=data.get("id"),
            amount=major_units(data.get("amount"), data.get("currency") or currency),
            raw=data,
        )

    def parse_webhook(self, body: bytes, headers) -> WebhookEvent:
        secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
        if not secret:
            raise WebhookRejected("No Stripe webhook secret is configured.")
        try:
            sdk().WebhookSignature.verify_header(
                body,
                headers.get("Stripe-Signature"),
                secret,
                tolerance=sdk().Webhook.DEFAULT_TOLERANCE,
            )
            event = json.loads(body)
        except (sdk().SignatureVerificationError, UnicodeDecodeError, ValueError) as error:
            raise WebhookRejected(str(error) or "Invalid signature.") from None
        data = event.get("data") if isinstance(event, dict) else None
        obj = data.get("object") if isinstance(data, dict) else None
        if not isinstance(obj, dict) or not isinstance(event.get("id"), str) or not event.get("type"):
            raise WebhookRejected("Not a Stripe event.")
        return webhook_event(event, obj)


# Beyond any amount of money a payment can hold (a Numeric(12, 2) column); Stripe's amounts
# are integers of the smallest unit.
MAX_MINOR_UNITS = 10**13


def event_amount(obj: dict, key: str, currency: str) -> Decimal | None:
    """An amount of a verified event, refused (WebhookRejected: a 400) when it is not what
    Stripe sends, a whole number of minor units, rather than failing later on it."""
    minor = obj.get(key)
    if minor is None:
        return None
    if isinstance(minor, bool) or not isinstance(minor, int) or not 0 <= minor < MAX_MINOR_UNITS:
        raise WebhookRejected(f"Not a Stripe event: {key} is not an amount in minor units.")
    return major_units(minor, currency)


def webhook_event(event: dict, obj: dict) -> WebhookEvent:
    """What a verified Stripe event says about one of our payments."""
    kind = event["type"]
    currency = obj.get("currency") or store_currency()
    if not isinstance(currency, str) or not currency.isalpha() or len(currency) != 3:
        raise WebhookRejected("Not a Stripe event: currency is not a currency code.")
    raw = without_secrets(event)
    status, amount, captured = None, None, None
    if obj.get("object") == "charge":
        reference = obj.get("payment_intent")
    elif obj.get("object") == "payment_intent":
        reference = obj.get("id")
    else:
        reference = None
    if kind == "payment_intent.succeeded":
        status, amount = "paid", event_amount(obj, "amount_received", currency)
    elif kind == "payment_intent.amount_capturable_updated":
        status, amount = "authorized", event_amount(obj, "amount_capturable", currency)
    elif kind == "payment_intent.payment_failed":
        status = "failed"
        error = obj.get("last_payment_error") or {}
        raw["error"] = (error.get("message") or error.get("code") or "") if isinstance(error, dict) else ""
    elif kind == "payment_intent.canceled":
        status = "voided"
    elif kind == "charge.refunded":
        status = "refunded"
        amount = event_amount(obj, "amount_refunded", currency)
        captured = event_amount(obj, "amount_captured", currency)
    return WebhookEvent(
        event_id=event["id"],
        event_type=kind,
        payment_reference=reference if isinstance(reference, str) else None,
        status=status,
        amount=amount,
        raw=raw,
        captured_amount=captured,
    )


gateways.register_gateway(StripeGateway())
