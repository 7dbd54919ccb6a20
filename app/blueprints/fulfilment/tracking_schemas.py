"""Marshmallow schemas of the staff tracking and delivery-issue API: a tracking event in and
out, an issue out, the issue list's filters and the resolution body.

Bodies reject unknown fields (marshmallow's default, RAISE); times go in and out as ISO 8601
with an offset (UTC out).
"""

from __future__ import annotations

from datetime import date

import marshmallow as ma
from marshmallow import ValidationError, validate, validates_schema

from app.blueprints.fulfilment.delivery_issues import MAX_RESOLUTION, IssueFilters
from app.blueprints.fulfilment.models import ISSUE_STATUSES, TRACKING_STATUSES
from app.blueprints.fulfilment.tracking import MAX_DESCRIPTION, MAX_LOCATION

STAFF_STATUSES = tuple(status for status in TRACKING_STATUSES if status != "label_created")
DAYS = validate.Range(min=date(1900, 1, 1), max=date(9999, 12, 30))


class TrackingEventCreateSchema(ma.Schema):
    """What a staff member saw or heard happen to the parcel."""

    status = ma.fields.String(
        required=True,
        validate=validate.OneOf(STAFF_STATUSES),
        metadata={"description": "picked_up, in_transit, out_for_delivery, delivered or exception"},
    )
    description = ma.fields.String(
        load_default="",
        validate=validate.Length(max=MAX_DESCRIPTION),
        metadata={"example": "Courier says the parcel is at the depot"},
    )
    location = ma.fields.String(load_default="", validate=validate.Length(max=MAX_LOCATION))
    occurred_at = ma.fields.AwareDateTime(
        load_default=None,
        metadata={"description": "When it happened (ISO 8601 with offset); default now. Not in the future."},
    )


class TrackingEventSchema(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.String(metadata={"description": ", ".join(TRACKING_STATUSES)})
    description = ma.fields.String()
    location = ma.fields.String()
    source = ma.fields.String(metadata={"description": "The provider's code (parcelhub), or staff"})
    occurred_at = ma.fields.AwareDateTime()
    recorded_at = ma.fields.AwareDateTime()


class RecordedTrackingEventSchema(TrackingEventSchema):
    shipment_status = ma.fields.String(
        metadata={"description": "The shipment's status after the event (statuses never move back)"}
    )
    order_status = ma.fields.String(metadata={"description": "delivered once every shipment arrived"})


class DeliveryIssueSchema(ma.Schema):
    class Meta:
        description = "A delivery issue (a task for support) with its shipment and order."

    id = ma.fields.Integer(attribute="issue.id")
    status = ma.fields.String(attribute="issue.status", metadata={"description": "open or resolved"})
    summary = ma.fields.String(attribute="issue.summary")
    order_number = ma.fields.String(attribute="order.number")
    shipment_number = ma.fields.String(attribute="shipment.number")
    shipment_status = ma.fields.String(attribute="shipment.status")
    carrier = ma.fields.String(attribute="shipment.carrier")
    tracking_number = ma.fields.String(attribute="shipment.tracking_number")
    tracking_event_id = ma.fields.Integer(attribute="issue.tracking_event_id", allow_none=True)
    created_at = ma.fields.AwareDateTime(attribute="issue.created_at")
    resolution = ma.fields.String(attribute="issue.resolution")
    resolved_at = ma.fields.AwareDateTime(attribute="issue.resolved_at", allow_none=True)
    resolved_by = ma.fields.String(allow_none=True, metadata={"description": "The staff member's email"})


class DeliveryIssueFilterSchema(ma.Schema):
    """Filters of the issue list; loads an `IssueFilters`."""

    class Meta:
        unknown = ma.EXCLUDE  # page and page_size belong to the pagination

    status = ma.fields.String(
        validate=validate.OneOf(ISSUE_STATUSES),
        metadata={"description": "open or resolved; both when left out"},
    )
    created_from = ma.fields.Date(validate=DAYS, metadata={"description": "First day (UTC), inclusive"})
    created_to = ma.fields.Date(validate=DAYS, metadata={"description": "Last day (UTC), inclusive"})
    order_number = ma.fields.String(validate=validate.Length(max=20))

    @ma.pre_load
    def drop_blanks(self, data, **_kwargs):
        return {
            key: value for key, value in data.items() if not (isinstance(value, str) and not value.strip())
        }

    @validates_schema
    def days_in_order(self, data, **_kwargs):
        if data.get("created_from") and data.get("created_to") and data["created_from"] > data["created_to"]:
            raise ValidationError({"created_to": ["Must not be before created_from."]})

    @ma.post_load
    def to_filters(self, data, **_kwargs) -> IssueFilters:
        return IssueFilters(**data)


class ResolveIssueSchema(ma.Schema):
    resolution = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_RESOLUTION),
        metadata={"description": "What was done", "example": "Re-sent with the corrected address"},
    )

    @ma.validates("resolution")
    def not_blank(self, value, **_kwargs):
        if not value.strip():
            raise ValidationError("Say what was done.")
