"""Staff API of tracking and delivery issues (/api/v1/admin):

    GET  /shipments/{number}/tracking-events     [fulfilment.read]  newest first, paginated
    POST /shipments/{number}/tracking-events     [fulfilment.ship]  record one by hand
    GET  /delivery-issues                        [fulfilment.read]  open first, filtered, paginated
    GET  /delivery-issues/{id}                   [fulfilment.read]
    POST /delivery-issues/{id}/resolve           [fulfilment.ship]

Every change runs as one use case in one transaction with the order's row locked.
"""

from __future__ import annotations

from flask.views import MethodView
from flask_login import current_user

from app.blueprints.fulfilment import FULFILMENT_READ, FULFILMENT_SHIP, api_bp, delivery_issues, tracking
from app.blueprints.fulfilment.tracking_schemas import (
    DeliveryIssueFilterSchema,
    DeliveryIssueSchema,
    RecordedTrackingEventSchema,
    ResolveIssueSchema,
    TrackingEventCreateSchema,
    TrackingEventSchema,
)
from app.blueprints.orders.order_models import Order
from app.core.api import ProblemSchema
from app.core.errors import PROBLEM_JSON
from app.core.pagination import api_page
from app.core.permissions import require_permission
from app.core.transaction import transaction
from app.extensions import db

BEARER = [{"bearerAuth": []}]
PROBLEM = {"schema": ProblemSchema, "content_type": PROBLEM_JSON}
SHIPMENT_NUMBER = "string(maxlength=30)"  # longer is no shipment number: a plain 404
ISSUE_ID = "int(max=2147483647)"
INVALID = "Invalid fields (`errors` names them)"


def acting_staff():
    """The signed-in staff user as a plain object (services store its id, audits its email)."""
    return current_user._get_current_object()


def recorded(event, shipment, order) -> dict:
    """The event with what it did to the shipment and the order."""
    fields = ("id", "status", "description", "location", "source", "occurred_at", "recorded_at")
    return {
        **{name: getattr(event, name) for name in fields},
        "shipment_status": shipment.status,
        "order_status": order.status,
    }


@api_bp.route(f"/shipments/<{SHIPMENT_NUMBER}:shipment_number>/tracking-events")
class ShipmentTrackingEvents(MethodView):
    @require_permission(FULFILMENT_READ)
    @api_bp.response(200, TrackingEventSchema(many=True))
    @api_bp.alt_response(404, **PROBLEM, description="shipment_not_found")
    @api_bp.paginate(page_size=50, max_page_size=100)
    @api_bp.doc(security=BEARER)
    def get(self, shipment_number, pagination_parameters):
        """A shipment's tracking events, newest first [fulfilment.read]

        From the provider's webhooks and from staff (`source`); events that arrived late
        are listed by when they happened."""
        shipment = tracking.shipment_by_number(shipment_number)
        return api_page(tracking.tracking_events_of(shipment), pagination_parameters)

    @require_permission(FULFILMENT_SHIP)
    @api_bp.arguments(TrackingEventCreateSchema)
    @api_bp.response(201, RecordedTrackingEventSchema)
    @api_bp.alt_response(404, **PROBLEM, description="shipment_not_found")
    @api_bp.alt_response(409, **PROBLEM, description="shipment_delivered: its tracking is complete")
    @api_bp.alt_response(422, **PROBLEM, description=INVALID)
    @api_bp.doc(security=BEARER)
    def post(self, body, shipment_number):
        """Record a tracking event by hand [fulfilment.ship]

        For carriers without webhooks (own courier) or what the carrier said on the phone.
        The shipment's status only moves forward; `delivered` delivers the order once every
        shipment arrived; `exception` opens a delivery issue. Audited, and on the order's
        timeline."""
        with transaction():
            shipment = tracking.shipment_by_number(shipment_number, for_update=True)
            event = tracking.record_staff_tracking_event(shipment, actor=acting_staff(), **body)
            answer = recorded(event, shipment, db.session.get(Order, shipment.order_id))
        return answer


@api_bp.route("/delivery-issues")
class DeliveryIssues(MethodView):
    @require_permission(FULFILMENT_READ)
    @api_bp.arguments(DeliveryIssueFilterSchema, location="query")
    @api_bp.response(200, DeliveryIssueSchema(many=True))
    @api_bp.alt_response(422, **PROBLEM, description="A filter value is not valid (`errors` names it)")
    @api_bp.paginate(page_size=25, max_page_size=100)
    @api_bp.doc(security=BEARER)
    def get(self, filters, pagination_parameters):
        """Delivery issues, open ones first, then the newest [fulfilment.read]

        `status` open or resolved (both when left out); created_from and created_to are UTC
        days, inclusive; `order_number` one order's issues."""
        issues = api_page(delivery_issues.filtered_issues(filters), pagination_parameters)
        return delivery_issues.issue_views(issues)


@api_bp.route(f"/delivery-issues/<{ISSUE_ID}:issue_id>")
class DeliveryIssueItem(MethodView):
    @require_permission(FULFILMENT_READ)
    @api_bp.response(200, DeliveryIssueSchema)
    @api_bp.alt_response(404, **PROBLEM, description="delivery_issue_not_found")
    @api_bp.doc(security=BEARER)
    def get(self, issue_id):
        """One delivery issue [fulfilment.read]"""
        return delivery_issues.issue_views([delivery_issues.issue_by_id(issue_id)])[0]


@api_bp.route(f"/delivery-issues/<{ISSUE_ID}:issue_id>/resolve")
class ResolveDeliveryIssue(MethodView):
    @require_permission(FULFILMENT_SHIP)
    @api_bp.arguments(ResolveIssueSchema)
    @api_bp.response(200, DeliveryIssueSchema)
    @api_bp.alt_response(404, **PROBLEM, description="delivery_issue_not_found")
    @api_bp.alt_response(409, **PROBLEM, description="delivery_issue_resolved: resolved already")
    @api_bp.alt_response(422, **PROBLEM, description=INVALID)
    @api_bp.doc(security=BEARER)
    def post(self, body, issue_id):
        """Resolve a delivery issue with what was done [fulfilment.ship]

        Audited, and on the order's timeline."""
        with transaction():
            issue = delivery_issues.issue_by_id(issue_id, for_update=True)
            delivery_issues.resolve_issue(issue, actor=acting_staff(), resolution=body["resolution"])
        return delivery_issues.issue_views([issue])[0]
