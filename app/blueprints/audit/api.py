"""Staff API of the audit log, for SIEMs and compliance tooling."""

from flask.views import MethodView

from app.blueprints.audit import AUDIT_READ, api_bp, queries
from app.blueprints.audit.schemas import AuditEntrySchema, AuditFilterSchema
from app.core.permissions import require_permission
from app.extensions import db

BEARER = [{"bearerAuth": []}]


@api_bp.route("/audit")
class AuditLog(MethodView):
    @require_permission(AUDIT_READ)
    @api_bp.arguments(AuditFilterSchema, location="query")
    @api_bp.response(200, AuditEntrySchema(many=True))
    @api_bp.paginate(page_size=50, max_page_size=100)
    @api_bp.doc(security=BEARER)
    def get(self, filters, pagination_parameters):
        """Audit entries, newest first, filtered like the portal page"""
        page = db.paginate(
            queries.filtered_entries(filters),
            page=pagination_parameters.page,
            per_page=pagination_parameters.page_size,
            error_out=False,
        )
        pagination_parameters.item_count = page.total
        return page.items
