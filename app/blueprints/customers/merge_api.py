"""Staff API of duplicates (/api/v1/admin/customers/duplicates, .../{survivor_id}/merge):
likely duplicate pairs page by page, and merging one customer into another."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from flask_login import current_user
from marshmallow import validate

from app.blueprints.customers import CUSTOMERS_MERGE, api_bp, duplicates, merge, services
from app.blueprints.customers.models import Customer
from app.blueprints.customers.schemas import CustomerDetailSchema, CustomerSchema, db_id
from app.core.errors import InvalidInput
from app.core.permissions import require_permission
from app.core.transaction import transaction
from app.extensions import db

BEARER = [{"bearerAuth": []}]
ID = "int(max=2147483647)"
REASONS_DOC = "; ".join(f"`{reason.code}`: {reason.label.lower()}" for reason in duplicates.REASONS)


class DuplicatePairSchema(ma.Schema):
    first = ma.fields.Nested(CustomerSchema, metadata={"description": "The customer with the lower id"})
    second = ma.fields.Nested(CustomerSchema)
    reasons = ma.fields.List(ma.fields.String(), metadata={"description": f"Strongest first. {REASONS_DOC}"})
    score = ma.fields.Integer(metadata={"description": "The sum of the reasons' weights; pairs come by it"})
    suggested_survivor_id = ma.fields.Function(
        lambda pair: pair.suggested_survivor.id,
        metadata={"description": "The one to keep: more orders, then a storefront password, then older"},
    )


class MergeInSchema(ma.Schema):
    duplicate_id = db_id(required=True, metadata={"description": "The customer merged away"})
    field_choices = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(validate=validate.OneOf(merge.SIDES)),
        load_default=dict,
        metadata={
            "description": 'Whose value each profile field keeps, e.g. {"first_name": "duplicate"}; '
            f"unnamed fields keep the survivor's. Fields: {', '.join(merge.MERGE_FIELDS)}"
        },
    )


class MergeOutSchema(ma.Schema):
    survivor = ma.fields.Nested(CustomerDetailSchema)
    duplicate = ma.fields.Nested(
        CustomerSchema, metadata={"description": "Now inactive, with merged_into_id"}
    )
    moved = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        metadata={"description": "Rows moved per kind, and storefront tokens revoked"},
    )
    field_choices = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())


def duplicate_in_body(customer_id: int) -> Customer:
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        raise InvalidInput("No such customer.", errors={"duplicate_id": ["No customer has this id."]})
    return customer


@api_bp.route("/customers/duplicates")
class CustomerDuplicates(MethodView):
    @require_permission(CUSTOMERS_MERGE)
    @api_bp.response(200, DuplicatePairSchema(many=True))
    @api_bp.paginate(page_size=25, max_page_size=100)
    @api_bp.doc(security=BEARER)
    def get(self, pagination_parameters):
        """Pairs of customers that are probably one person, strongest first, page by page"""
        page = duplicates.candidate_pairs(
            page=pagination_parameters.page, per_page=pagination_parameters.page_size
        )
        pagination_parameters.item_count = page.total
        return page.items


@api_bp.route(f"/customers/<{ID}:survivor_id>/merge")
class CustomerMerge(MethodView):
    @require_permission(CUSTOMERS_MERGE)
    @api_bp.arguments(MergeInSchema)
    @api_bp.response(200, MergeOutSchema)
    @api_bp.alt_response(
        409,
        description="Refused: one customer twice (code merge_same_customer), the duplicate was merged "
        "already (customer_already_merged) or the survivor was (survivor_merged)",
    )
    @api_bp.doc(security=BEARER)
    def post(self, data, survivor_id):
        """Merge a duplicate into this customer, in one transaction.

        Interactions, consent events, addresses, phones and tags (no doubles), static segment
        memberships and purchase figures move to the survivor; the duplicate's storefront
        tokens are revoked and it stays as an inactive record with `merged_into_id`.
        Unknown fields in `field_choices` are a 422."""
        with transaction():
            survivor = services.get_customer(survivor_id)
            duplicate = duplicate_in_body(data["duplicate_id"])
            return merge.merge_customers(
                survivor, duplicate, actor=current_user, field_choices=data["field_choices"]
            )
