"""Staff API of segments (/api/v1/admin/segments): build, evaluate and list members.

Campaign and promotion tools read members page by page; rules are JSON data checked by
the field registry, and bad rules are a 422 with an error per path.
"""

from __future__ import annotations

from flask.views import MethodView
from flask_login import current_user
from sqlalchemy.orm import selectinload

from app.blueprints.customers import CUSTOMERS_READ, SEGMENTS_WRITE, api_bp, segments
from app.blueprints.customers.models import Customer
from app.blueprints.customers.schemas import CustomerSchema
from app.blueprints.customers.segment_models import Segment
from app.blueprints.customers.segment_schemas import (
    AddedSchema,
    AddMembersSchema,
    CountSchema,
    EvaluateSchema,
    SegmentCreateSchema,
    SegmentSchema,
    SegmentUpdateSchema,
)
from app.core.permissions import require_permission
from app.core.transaction import transaction
from app.extensions import db

BEARER = [{"bearerAuth": []}]
ID = "int(max=2147483647)"


def segment_out(segment: Segment, count: int | None) -> dict:
    return {
        "id": segment.id,
        "name": segment.name,
        "description": segment.description,
        "kind": segment.kind,
        "rules": segment.rules,
        "member_count": count,
        "created_by": segment.created_by.email if segment.created_by else None,
        "created_at": segment.created_at,
        "updated_at": segment.updated_at,
    }


def with_count(segment: Segment) -> dict:
    return segment_out(segment, segments.member_counts([segment])[segment.id])


@api_bp.route("/segments")
class Segments(MethodView):
    @require_permission(CUSTOMERS_READ)
    @api_bp.response(200, SegmentSchema(many=True))
    @api_bp.paginate(page_size=50, max_page_size=100)
    @api_bp.doc(security=BEARER)
    def get(self, pagination_parameters):
        """Segments by name, each with its live member count"""
        page = db.paginate(
            segments.segments_query(),
            page=pagination_parameters.page,
            per_page=pagination_parameters.page_size,
            error_out=False,
        )
        pagination_parameters.item_count = page.total
        counts = segments.member_counts(page.items)
        return [segment_out(segment, counts[segment.id]) for segment in page.items]

    @require_permission(SEGMENTS_WRITE)
    @api_bp.arguments(SegmentCreateSchema)
    @api_bp.response(201, SegmentSchema)
    @api_bp.alt_response(409, description="Another segment has this name (code segment_name_taken)")
    @api_bp.doc(security=BEARER)
    def post(self, data):
        """Create a segment: dynamic with rules, or static (add members afterwards)"""
        with segments.name_race_is_a_conflict(), transaction():
            segment = segments.create_segment(**data, actor=current_user)
        return with_count(segment)


@api_bp.route("/segments/evaluate")
class EvaluateSegment(MethodView):
    @require_permission(CUSTOMERS_READ)
    @api_bp.arguments(EvaluateSchema)
    @api_bp.response(200, CountSchema)
    @api_bp.doc(security=BEARER)
    def post(self, data):
        """How many customers the rules select now, without saving anything"""
        return {"count": segments.count_members(data["rules"], path="rules")}


@api_bp.route(f"/segments/<{ID}:segment_id>")
class SegmentItem(MethodView):
    @require_permission(CUSTOMERS_READ)
    @api_bp.response(200, SegmentSchema)
    @api_bp.doc(security=BEARER)
    def get(self, segment_id):
        """One segment with its rules and live member count"""
        return with_count(segments.get_segment(segment_id))

    @require_permission(SEGMENTS_WRITE)
    @api_bp.arguments(SegmentUpdateSchema)
    @api_bp.response(200, SegmentSchema)
    @api_bp.alt_response(409, description="Another segment has this name (code segment_name_taken)")
    @api_bp.doc(security=BEARER)
    def patch(self, data, segment_id):
        """Change the name, description or rules given"""
        with segments.name_race_is_a_conflict(), transaction():
            segment = segments.get_segment(segment_id)
            segments.update_segment(segment, **data, actor=current_user)
        return with_count(segment)

    @require_permission(SEGMENTS_WRITE)
    @api_bp.response(204)
    @api_bp.doc(security=BEARER)
    def delete(self, segment_id):
        """Delete a segment; its customers stay"""
        with transaction():
            segments.delete_segment(segments.get_segment(segment_id), actor=current_user)


@api_bp.route(f"/segments/<{ID}:segment_id>/members")
class SegmentMembers(MethodView):
    @require_permission(CUSTOMERS_READ)
    @api_bp.response(200, CustomerSchema(many=True))
    @api_bp.paginate(page_size=50, max_page_size=100)
    @api_bp.doc(security=BEARER)
    def get(self, segment_id, pagination_parameters):
        """The segment's customers now, by name, page by page (merged records left out)"""
        query = segments.members_query(segments.get_segment(segment_id)).options(
            selectinload(Customer.phones), selectinload(Customer.tags)
        )
        page = db.paginate(
            query, page=pagination_parameters.page, per_page=pagination_parameters.page_size, error_out=False
        )
        pagination_parameters.item_count = page.total
        return page.items

    @require_permission(SEGMENTS_WRITE)
    @api_bp.arguments(AddMembersSchema)
    @api_bp.response(200, AddedSchema)
    @api_bp.alt_response(409, description="The segment is dynamic (code segment_not_static)")
    @api_bp.doc(security=BEARER)
    def post(self, data, segment_id):
        """Add customers to a static segment by id"""
        with transaction():
            segment = segments.get_segment(segment_id)
            added = segments.add_members(segment, data["customer_ids"], actor=current_user)
        return {"added": added}


@api_bp.route(f"/segments/<{ID}:segment_id>/members/<{ID}:customer_id>")
class SegmentMember(MethodView):
    @require_permission(SEGMENTS_WRITE)
    @api_bp.response(204)
    @api_bp.alt_response(409, description="The segment is dynamic (code segment_not_static)")
    @api_bp.doc(security=BEARER)
    def delete(self, segment_id, customer_id):
        """Take a customer off a static segment (nothing happens if they were not on it)"""
        with transaction():
            segments.remove_members(segments.get_segment(segment_id), [customer_id], actor=current_user)
