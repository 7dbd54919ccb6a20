"""Staff identity: users, roles, permissions, sign-in, MFA, API tokens."""

from flask import Blueprint
from flask_smorest import Blueprint as ApiBlueprint

from app.core.permissions import define_permission

USERS_MANAGE = define_permission(
    "users.manage", "Create, edit, deactivate and unlock staff users; edit roles and permissions", "Admin"
)
TOKENS_MANAGE = define_permission("tokens.manage", "Create and revoke API tokens for any user", "Admin")

bp = Blueprint("auth", __name__)
api_bp = ApiBlueprint("auth_api", __name__, url_prefix="/api/v1/admin", description="Staff identity")


def init_app(app):
    from app.blueprints.auth.identity import init_identity

    init_identity(app)


from app.blueprints.auth import account_views as _account_views  # noqa: E402,F401
from app.blueprints.auth import admin_views as _admin_views  # noqa: E402,F401
from app.blueprints.auth import api as _api  # noqa: E402,F401
from app.blueprints.auth import cli as _cli  # noqa: E402,F401
from app.blueprints.auth import identity as _identity  # noqa: E402,F401
from app.blueprints.auth import mfa_views as _mfa_views  # noqa: E402,F401
from app.blueprints.auth import seed as _seed  # noqa: E402,F401
from app.blueprints.auth import views as _views  # noqa: E402,F401
