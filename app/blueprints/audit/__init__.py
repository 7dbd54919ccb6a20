"""The audit log in the portal: who changed what, when, from where."""

from flask import Blueprint
from flask_smorest import Blueprint as ApiBlueprint

from app.core.navigation import register_nav
from app.core.permissions import define_permission

AUDIT_READ = define_permission("audit.read", "Browse and export the audit log", "Admin")

bp = Blueprint("audit", __name__)
api_bp = ApiBlueprint("audit_api", __name__, url_prefix="/api/v1/admin", description="Audit log")

register_nav("Admin", "Audit log", "audit.log", AUDIT_READ, order=40)

from app.blueprints.audit import api as _api  # noqa: E402,F401
from app.blueprints.audit import views as _views  # noqa: E402,F401
from app.core import audit as _append_only_guard  # noqa: E402,F401  (registers the ORM guard)
