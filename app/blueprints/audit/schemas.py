"""Marshmallow schemas of the audit log: the filter (query args) and an entry (out)."""

import marshmallow as ma
from marshmallow import validate

from app.blueprints.audit.queries import AuditFilter


class AuditFilterSchema(ma.Schema):
    """The filters of the portal page, the CSV export and the API alike."""

    class Meta:
        unknown = ma.EXCLUDE  # page, page_size and the like belong to others

    actor = ma.fields.String(
        validate=validate.Length(max=254), metadata={"description": "Part of the actor's email"}
    )
    action = ma.fields.String(
        validate=validate.Length(max=100),
        metadata={"description": 'An action ("auth.login"), or a prefix ending in "." ("auth.")'},
    )
    object_type = ma.fields.String(validate=validate.Length(max=50), metadata={"description": "e.g. User"})
    object_id = ma.fields.String(validate=validate.Length(max=64))
    date_from = ma.fields.Date(metadata={"description": "First day (UTC), YYYY-MM-DD"})
    date_to = ma.fields.Date(metadata={"description": "Last day (UTC), included, YYYY-MM-DD"})

    @ma.pre_load
    def drop_blanks(self, data, **_kwargs):
        # An empty form field means "no filter", not "the empty string".
        return {
            key: value.strip() if isinstance(value, str) else value
            for key in data
            if (value := data[key]) is not None and (not isinstance(value, str) or value.strip())
        }

    @ma.validates_schema
    def dates_in_order(self, data, **_kwargs):
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ma.ValidationError("Must not be before the start date.", "date_to")

    @ma.post_load
    def to_filter(self, data, **_kwargs) -> AuditFilter:
        return AuditFilter(**data)


class AuditEntrySchema(ma.Schema):
    id = ma.fields.Integer()
    occurred_at = ma.fields.AwareDateTime()
    actor_id = ma.fields.Integer(allow_none=True)
    actor = ma.fields.String(attribute="actor_label", metadata={"description": 'Email, or "system"'})
    action = ma.fields.String()
    object_type = ma.fields.String(attribute="target_type", allow_none=True)
    object_id = ma.fields.String(attribute="target_id", allow_none=True)
    summary = ma.fields.String()
    ip = ma.fields.String(attribute="ip_address", allow_none=True)
    request_id = ma.fields.String(allow_none=True)
    data = ma.fields.Dict(
        metadata={
            "description": 'Details; edits carry "changes": {"field": [before, after]}, secrets redacted'
        }
    )
