"""Inbound tracking webhooks: `POST /api/v1/hooks/<provider>` (ParcelHub: /hooks/parcelhub).

No bearer token: the provider proves itself with a signature over the raw body (ParcelHub:
the `ParcelHub-Signature` header, an HMAC with PARCELHUB_WEBHOOK_SECRET at most 5 minutes
old), so the endpoint is public and the body is read raw, byte for byte as signed. An event
that cannot be trusted is a 400 and nothing is stored. Every trusted event is stored once
and answered 200, also when it is about a shipment we do not know: anything but a 2xx makes
the provider deliver it again for days. A delivery seen before answers "duplicate".

The payments domain's `/api/v1/hooks/stripe` is a rule of its own; werkzeug matches a
fixed path before this one with a variable part, so both work side by side.
"""

from __future__ import annotations

import marshmallow as ma
from flask import request
from flask.views import MethodView

from app.blueprints.fulfilment import hooks_api_bp, tracking_webhooks
from app.blueprints.fulfilment.providers import WebhookRejected
from app.core.api import ProblemSchema
from app.core.errors import PROBLEM_JSON, DomainError
from app.core.permissions import public
from app.core.transaction import transaction

bp = hooks_api_bp
PROBLEM = {"schema": ProblemSchema, "content_type": PROBLEM_JSON}
OUTCOMES = (
    "What was done: applied (it is the shipment's status now), recorded late (kept as history: a "
    "later status was known already), unknown shipment (stored only), duplicate (delivered before), "
    "ignored (not a tracking event)"
)


class WebhookSignatureInvalid(DomainError):
    status = 400
    code = "webhook_signature_invalid"


class EventOutcomeSchema(ma.Schema):
    event_id = ma.fields.String(required=True, metadata={"example": "evt_9f2c"})
    status = ma.fields.String(required=True, metadata={"description": OUTCOMES, "example": "applied"})


class TrackingWebhookOutcomeSchema(ma.Schema):
    status = ma.fields.String(
        required=True,
        metadata={"description": OUTCOMES + " (of the first event)", "example": "applied"},
    )
    events = ma.fields.List(ma.fields.Nested(EventOutcomeSchema), required=True)


@bp.route("/<string(maxlength=30):provider>")
class TrackingWebhook(MethodView):
    @public
    @bp.response(
        200, TrackingWebhookOutcomeSchema, description="Accepted (also duplicates and unknown shipments)"
    )
    @bp.alt_response(
        400,
        **PROBLEM,
        description="webhook_signature_invalid: no or bad signature, too old, no webhook secret configured, "
        "or not an event of this provider; nothing is stored",
    )
    @bp.alt_response(404, **PROBLEM, description="unknown_provider: no shipping provider sends webhooks here")
    @bp.doc(
        security=[],
        parameters=[
            {
                "in": "header",
                "name": "ParcelHub-Signature",
                "required": False,
                "schema": {"type": "string"},
                "description": 'ParcelHub: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with '
                "PARCELHUB_WEBHOOK_SECRET>",
            }
        ],
        requestBody={
            "required": True,
            "description": "The provider's event as it sends it (verified on the raw bytes). ParcelHub: "
            '{"id", "type": "tracking.updated", "data": {"shipment_id", "tracking_number", "status", '
            '"occurred_at", "message", "location", "estimated_delivery"}}',
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    )
    def post(self, provider):
        """Receive a shipping provider's tracking event

        Verifies the signature, stores the event once by its id, finds the shipment by the
        provider's id of it or its tracking number, and records the tracking event: the
        shipment moves forward (never back), `delivered` may deliver the order, an
        exception opens a delivery issue for support."""
        body = request.get_data(cache=False)
        try:
            with transaction():
                outcomes = tracking_webhooks.handle_tracking_webhook(provider, body, request.headers)
        except WebhookRejected as rejected:
            raise WebhookSignatureInvalid(f"The webhook was not accepted: {rejected}") from None
        events = [{"event_id": outcome.event_id, "status": outcome.status} for outcome in outcomes]
        return {"status": events[0]["status"] if events else tracking_webhooks.IGNORED, "events": events}
