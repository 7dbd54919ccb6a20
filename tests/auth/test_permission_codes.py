"""A user's permission codes: read in one query, kept for the rest of a request, and
forgotten as soon as a role or a user changes in that request."""

from sqlalchemy import event

from app.blueprints.auth import services
from app.blueprints.auth.models import RolePermission
from app.extensions import db as _db
from tests.factories.auth import UserFactory


def test_a_request_reads_a_users_permission_codes_once(app, db):
    user = UserFactory(roles=("support",))
    statements = []

    def count(_connection, _cursor, statement, *_args) -> None:
        statements.append(statement)

    with app.test_request_context():
        event.listen(_db.engine, "before_cursor_execute", count)
        try:
            checks = [user.has_permission("customers.read") for _ in range(20)]
        finally:
            event.remove(_db.engine, "before_cursor_execute", count)
    assert all(checks)
    assert len(statements) == 1


def test_a_permission_granted_during_a_request_counts_at_once(app, db):
    user = UserFactory(roles=("support",))
    with app.test_request_context():
        assert not user.has_permission("users.manage")
        role = services.roles_named(["support"])[0]
        role.permissions.append(RolePermission(code="users.manage"))
        db.session.flush()
        assert user.has_permission("users.manage")


def test_a_role_taken_away_during_a_request_counts_at_once(app, db):
    user = UserFactory(roles=("admin", "support"))
    with app.test_request_context():
        assert user.has_permission("users.manage")
        user.roles = services.roles_named(["support"])
        db.session.flush()
        assert not user.has_permission("users.manage")


def test_outside_a_request_the_codes_are_read_each_time(app, db):
    user = UserFactory(roles=("support",))
    assert not user.has_permission("users.manage")
    user.roles = services.roles_named(["admin"])
    db.session.flush()
    assert user.has_permission("users.manage")
