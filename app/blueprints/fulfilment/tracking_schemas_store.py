"""Schemas of the storefront's order tracking (`GET /api/v1/store/orders/{number}/tracking`).

They dump `tracking_queries.OrderTracking`: what a customer may see, nothing more (no
event sources, no staff, no address beyond city and country).
"""

import marshmallow as ma
from marshmallow import validate

from app.blueprints.fulfilment.models import TRACKING_STATUSES
from app.blueprints.fulfilment.tracking_queries import MILESTONE_LABELS, STAGE_LABELS

TRACKING_STATUS_LIST = ", ".join(TRACKING_STATUSES)


class TrackingQuerySchema(ma.Schema):
    token = ma.fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={
            "description": "The order's tracking token, from the link in the order's mails. "
            "Not needed with the customer token of the order's owner."
        },
    )


class TrackingLineSchema(ma.Schema):
    sku = ma.fields.String()
    product_name = ma.fields.String(attribute="name")
    variant_title = ma.fields.String(attribute="title")
    quantity = ma.fields.Integer(metadata={"description": "Units of this line in this parcel"})


class TrackingUpdateSchema(ma.Schema):
    status = ma.fields.String(metadata={"description": f"One of: {TRACKING_STATUS_LIST}"})
    status_label = ma.fields.String(metadata={"description": "The status in words"})
    description = ma.fields.String(metadata={"description": "What the carrier said (may be empty)"})
    location = ma.fields.String(metadata={"description": "Where it happened (may be empty)"})
    occurred_at = ma.fields.AwareDateTime()


class TrackingShipmentSchema(ma.Schema):
    number = ma.fields.String(metadata={"description": 'The parcel\'s number: "100042-1"'})
    carrier = ma.fields.String()
    service = ma.fields.String()
    tracking_number = ma.fields.String()
    tracking_url = ma.fields.String(
        metadata={"description": "The carrier's own tracking page (may be empty)"}
    )
    status = ma.fields.String(metadata={"description": f"The latest tracking status: {TRACKING_STATUS_LIST}"})
    status_label = ma.fields.String()
    shipped_at = ma.fields.AwareDateTime()
    estimated_delivery = ma.fields.Date(allow_none=True)
    delivered_at = ma.fields.AwareDateTime(allow_none=True)
    lines = ma.fields.List(ma.fields.Nested(TrackingLineSchema))
    events = ma.fields.List(
        ma.fields.Nested(TrackingUpdateSchema), metadata={"description": "Tracking events, newest first"}
    )


class TrackingMilestoneSchema(ma.Schema):
    kind = ma.fields.String(metadata={"description": f"One of: {', '.join(MILESTONE_LABELS)}"})
    label = ma.fields.String()
    occurred_at = ma.fields.AwareDateTime()


class TrackingStepSchema(ma.Schema):
    stage = ma.fields.String(metadata={"description": f"One of: {', '.join(STAGE_LABELS)}"})
    label = ma.fields.String()
    done = ma.fields.Boolean(metadata={"description": "Reached"})
    current = ma.fields.Boolean(metadata={"description": "Where the order is now"})
    at = ma.fields.AwareDateTime(allow_none=True, metadata={"description": "When it was reached, if known"})


class TrackingDestinationSchema(ma.Schema):
    city = ma.fields.String()
    country = ma.fields.String(metadata={"description": "ISO 3166-1 alpha-2"})


class OrderTrackingSchema(ma.Schema):
    class Meta:
        description = (
            "Where an order is. `stage` is the customer's stepper (placed, paid, shipped, "
            "out_for_delivery, delivered; or cancelled); `status` is the order's own status. "
            "`last_changed` is when anything here last changed."
        )

    number = ma.fields.String()
    status = ma.fields.String(metadata={"description": "The order's status"})
    status_label = ma.fields.String()
    stage = ma.fields.String(metadata={"description": f"One of: {', '.join(STAGE_LABELS)}"})
    stage_label = ma.fields.String()
    placed_at = ma.fields.AwareDateTime()
    estimated_delivery = ma.fields.Date(
        allow_none=True,
        metadata={"description": "The latest estimated delivery of the parcels still on their way"},
    )
    ship_to = ma.fields.Nested(TrackingDestinationSchema)
    steps = ma.fields.List(ma.fields.Nested(TrackingStepSchema))
    shipments = ma.fields.List(ma.fields.Nested(TrackingShipmentSchema))
    events = ma.fields.List(
        ma.fields.Nested(TrackingMilestoneSchema),
        attribute="milestones",
        metadata={"description": "The order's own milestones, newest first"},
    )
    last_changed = ma.fields.AwareDateTime(
        metadata={"description": "When anything in this answer last changed"}
    )
