"""Marshmallow schemas of the segment API: bodies in, segments and counts out."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.blueprints.customers.segment_models import SEGMENT_KINDS
from app.blueprints.customers.segment_rules import MAX_DEPTH, MAX_RULES

MAX_DB_INT = 2**31 - 1
RULES_EXAMPLE = {
    "op": "and",
    "rules": [
        {"field": "country", "operator": "in", "value": ["NL", "BE"]},
        {"field": "total_spent", "operator": "gte", "value": "250.00"},
        {
            "op": "or",
            "rules": [
                {"field": "tags", "operator": "has_any", "value": ["vip"]},
                {"field": "rfm_recency", "operator": "in", "value": [4, 5]},
            ],
        },
    ],
}


def rules_field(**kwargs) -> ma.fields.Dict:
    return ma.fields.Dict(
        metadata={
            "description": (
                'A group {"op": "and" | "or", "rules": [rule | group, ...]} of rules '
                '{"field", "operator", "value"}; groups nest at most '
                f"{MAX_DEPTH} deep, {MAX_RULES} rules in all. Problems come back as 422 with "
                'errors by path, like "rules.rules.0.value". Money is a decimal string.'
            ),
            "example": RULES_EXAMPLE,
        },
        **kwargs,
    )


class SegmentUpdateSchema(ma.Schema):
    """PATCH: only what is given changes; the kind of a segment never changes."""

    name = ma.fields.String(validate=validate.Length(min=1, max=100))
    description = ma.fields.String(validate=validate.Length(max=2000))
    rules = rules_field()


class SegmentCreateSchema(SegmentUpdateSchema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    kind = ma.fields.String(
        load_default="dynamic",
        validate=validate.OneOf(SEGMENT_KINDS),
        metadata={"description": "dynamic: members follow from rules; static: members are added by hand"},
    )
    rules = rules_field(load_default=None, allow_none=True)


class EvaluateSchema(ma.Schema):
    rules = rules_field(required=True)


class CountSchema(ma.Schema):
    count = ma.fields.Integer(metadata={"description": "Live customers matching the rules now"})


class AddMembersSchema(ma.Schema):
    customer_ids = ma.fields.List(
        ma.fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_DB_INT)),
        required=True,
        validate=validate.Length(min=1, max=1000),
    )


class AddedSchema(ma.Schema):
    added = ma.fields.Integer(metadata={"description": "Customers newly added (ones already in are skipped)"})


class SegmentSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    description = ma.fields.String()
    kind = ma.fields.String()
    rules = ma.fields.Dict(allow_none=True, metadata={"description": "The checked rules; null for static"})
    member_count = ma.fields.Integer(
        allow_none=True, metadata={"description": "Live members now; null when the rules no longer check"}
    )
    created_by = ma.fields.String(allow_none=True, metadata={"description": "Email of the creator"})
    created_at = ma.fields.AwareDateTime()
    updated_at = ma.fields.AwareDateTime()
