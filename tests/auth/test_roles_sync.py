"""Built-in roles get each new default permission once; a removed default stays removed."""

from sqlalchemy import select

from app.blueprints.auth import services
from app.blueprints.auth.models import Role
from app.core.permissions import PERMISSIONS, define_permission


def support_role(db):
    return db.session.scalar(select(Role).where(Role.name == "support"))


def test_new_domain_defaults_reach_existing_roles_once(db):
    services.ensure_built_in_roles()
    define_permission("test.widgets", "Use widgets", "Admin", default_roles=("support",))
    try:
        services.ensure_built_in_roles()
        role = support_role(db)
        assert "test.widgets" in role.permission_codes
        role.permissions = [p for p in role.permissions if p.code != "test.widgets"]  # an admin removes it
        db.session.flush()
        services.ensure_built_in_roles()
        assert "test.widgets" not in support_role(db).permission_codes
    finally:
        PERMISSIONS.pop("test.widgets")


def test_sync_roles_command_reports_each_built_in_role(app, db):
    result = app.test_cli_runner().invoke(args=["crm", "sync-roles"])
    assert result.exit_code == 0
    for name in ("admin", "sales", "support", "marketing"):
        assert name in result.output
