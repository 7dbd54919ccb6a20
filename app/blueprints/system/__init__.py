"""Running the system: dashboard, health, background jobs, outbox, API docs."""

from flask import Blueprint
from flask_smorest import Blueprint as ApiBlueprint

from app.core.navigation import register_nav
from app.core.permissions import define_permission

JOBS_MANAGE = define_permission("system.jobs", "Inspect, retry and delete failed background jobs", "Admin")
OUTBOX_READ = define_permission(
    "system.outbox", "Read mail kept in the outbox and send test mail", "Admin", default_roles=("support",)
)

bp = Blueprint("system", __name__)
api_bp = ApiBlueprint("system_api", __name__, url_prefix="/api/v1/admin", description="Background jobs")

register_nav("Admin", "Background jobs", "system.jobs", JOBS_MANAGE, order=50)
register_nav("Admin", "Outbox", "system.outbox", OUTBOX_READ, order=60)

from app.blueprints.system import api as _api  # noqa: E402,F401
from app.blueprints.system import cli as _cli  # noqa: E402,F401
from app.blueprints.system import views as _views  # noqa: E402,F401
