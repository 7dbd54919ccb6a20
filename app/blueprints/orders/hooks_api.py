"""Inbound payment webhooks: `POST /api/v1/hooks/stripe`.

No bearer token: Stripe proves itself with the `Stripe-Signature` header (HMAC of the raw
body with STRIPE_WEBHOOK_SECRET, at most 5 minutes old), so the endpoint is public and the
body is read raw, byte for byte as signed. An event that cannot be trusted is a 400 and
nothing is stored. Every trusted event is stored once and answered 200, also when it is
about a payment we do not know or of a type we ignore: anything but a 2xx makes Stripe
deliver it again for days. A delivery seen before answers "duplicate" and changes nothing.
"""

from __future__ import annotations

import marshmallow as ma
from flask import request
from flask.views import MethodView

from app.blueprints.orders import hooks_api_bp, payment_webhooks
from app.blueprints.orders.gateways import WebhookRejected
from app.core.api import ProblemSchema
from app.core.errors import PROBLEM_JSON, DomainError
from app.core.permissions import public
from app.core.transaction import transaction

bp = hooks_api_bp
PROBLEM = {"schema": ProblemSchema, "content_type": PROBLEM_JSON}


class WebhookSignatureInvalid(DomainError):
    status = 400
    code = "webhook_signature_invalid"


class WebhookOutcomeSchema(ma.Schema):
    status = ma.fields.String(
        required=True,
        metadata={
            "description": "What was done: applied, no change (already recorded), ignored (an event "
            "type we do not act on), unknown payment (stored only), duplicate (delivered before)",
            "example": "applied",
        },
    )


@bp.route("/stripe")
class StripeWebhook(MethodView):
    @public
    @bp.response(200, WebhookOutcomeSchema, description="Accepted (also duplicates and events we ignore)")
    @bp.alt_response(
        400,
        **PROBLEM,
        description="webhook_signature_invalid: no or bad Stripe-Signature, too old, no webhook "
        "secret configured, or not a Stripe event; nothing is stored",
    )
    @bp.doc(
        security=[],
        parameters=[
            {
                "in": "header",
                "name": "Stripe-Signature",
                "required": True,
                "schema": {"type": "string"},
                "description": 't=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the '
                "endpoint's signing secret>",
            }
        ],
        requestBody={
            "required": True,
            "description": "A Stripe event object, as Stripe sends it (verified on the raw bytes)",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    )
    def post(self):
        """Receive a Stripe event

        Verifies the signature, stores the event once by its id, and applies what it says
        to the payment it names: payment_intent.succeeded (paid: the order moves to paid
        and is invoiced), payment_intent.amount_capturable_updated (authorized),
        payment_intent.payment_failed, payment_intent.canceled, charge.refunded
        (cumulative: a refund we made ourselves is not counted twice). Other types are
        stored and ignored."""
        body = request.get_data(cache=False)
        try:
            with transaction():
                outcome = payment_webhooks.handle_webhook("stripe", body, request.headers)
        except WebhookRejected as rejected:
            raise WebhookSignatureInvalid(f"The webhook was not accepted: {rejected}") from None
        return {"status": outcome}
