"""Administration of users and roles: the last-administrator rule on each of its paths,
deactivation, role deletion impact, the permission matrix and the audit trail."""

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.blueprints.auth import tokens
from app.blueprints.auth.admin import (
    create_role,
    deactivate_user,
    delete_role,
    end_user_sessions,
    reactivate_user,
    role_deletion_impact,
    save_permission_matrix,
    unlock_user,
    update_role,
    update_user,
    user_list_query,
)
from app.blueprints.auth.models import Role, RolePermission, User
from app.core.errors import Conflict, InvalidInput
from app.core.models import AuditEntry
from app.core.timeutil import utcnow
from app.core.transaction import transaction
from app.extensions import db as _db
from tests.factories.auth import UserFactory, make_token


def entries(db, action):
    query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    return list(db.session.scalars(query))


def role_named(db, name):
    return db.session.scalar(select(Role).where(Role.name == name))


def make_role(name, codes, *, actor=None):
    role = create_role(name=name, description="", actor=actor)
    role.permissions = [RolePermission(code=code) for code in codes]
    _db.session.flush()
    return role


def keep(user, role_names):
    return update_user(user, name=user.name, email=user.email, role_names=role_names, actor=None)


# --- The last-administrator rule -------------------------------------------------------


def test_deactivating_the_last_administrator_is_refused_and_changes_nothing(db, admin):
    helper = UserFactory(roles=["support"])
    version = admin.session_version
    with pytest.raises(Conflict) as error:
        deactivate_user(admin, actor=helper)
    assert error.value.code == "last_administrator"
    assert "users.manage" in error.value.detail
    assert admin.active is True and admin.session_version == version
    assert entries(db, "user.deactivated") == []


def test_deactivating_an_administrator_is_allowed_while_another_remains(db, admin):
    other = UserFactory(roles=["admin"])
    deactivate_user(other, actor=admin)
    assert other.active is False


def test_a_deactivated_holder_does_not_count_as_an_administrator(db, admin):
    UserFactory(roles=["admin"], active=False)
    with pytest.raises(Conflict):
        deactivate_user(admin, actor=UserFactory(roles=["sales"]))


def test_taking_the_admin_role_from_the_last_administrator_is_refused(db, admin):
    with pytest.raises(Conflict) as error:
        keep(admin, ["sales"])
    assert error.value.code == "last_administrator"
    assert [role.name for role in admin.roles] == ["admin"]
    assert entries(db, "user.updated") == []


def test_moving_users_manage_to_another_role_of_the_same_user_is_allowed(db, admin):
    make_role("keepers", ["users.manage"])
    keep(admin, ["keepers"])
    assert [role.name for role in admin.roles] == ["keepers"]


def test_unchecking_users_manage_where_no_other_active_user_has_it_is_refused(db, admin):
    admin_role = role_named(db, "admin")
    without = admin_role.permission_codes - {"users.manage"}
    with pytest.raises(Conflict) as error:
        save_permission_matrix({admin_role.id: without}, actor=admin)
    assert error.value.code == "last_administrator"
    assert "users.manage" in role_named(db, "admin").permission_codes
    assert entries(db, "role.permissions_changed") == []


def test_unchecking_users_manage_is_allowed_when_another_role_still_grants_it(db, admin):
    keepers = make_role("keepers", ["users.manage"])
    UserFactory(roles=["keepers"])
    admin_role = role_named(db, "admin")
    changed = save_permission_matrix(
        {admin_role.id: admin_role.permission_codes - {"users.manage"}, keepers.id: {"users.manage"}},
        actor=admin,
    )
    assert changed == {"admin": {"added": [], "removed": ["users.manage"]}}


def test_deleting_the_only_role_that_grants_users_manage_to_an_active_user_is_refused(db):
    keepers = make_role("keepers", ["users.manage"])
    holder = UserFactory(roles=["keepers"])  # nobody holds the built-in admin role
    with pytest.raises(Conflict) as error:
        delete_role(keepers, actor=holder)
    assert error.value.code == "last_administrator"
    assert role_named(db, "keepers") is not None
    assert [role.name for role in holder.roles] == ["keepers"]
    assert entries(db, "role.deleted") == []


def test_two_admins_deactivating_each_other_at_once_leave_one_of_them_active(app, committed_db):
    if committed_db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL; SQLite lets one transaction write at a time")
    first, second = UserFactory(roles=["admin"]), UserFactory(roles=["admin"])
    committed_db.session.commit()
    both_loaded = threading.Barrier(2, timeout=10)
    outcomes = {}

    def deactivate(target_id, actor_id):
        with app.app_context():
            try:
                with transaction():
                    target, actor = _db.session.get(User, target_id), _db.session.get(User, actor_id)
                    both_loaded.wait()
                    deactivate_user(target, actor=actor)
                    time.sleep(0.3)  # still uncommitted while the other one checks
                outcomes[target_id] = "deactivated"
            except Conflict:
                outcomes[target_id] = "refused"
            finally:
                _db.session.remove()

    threads = [
        threading.Thread(target=deactivate, args=(first.id, second.id)),
        threading.Thread(target=deactivate, args=(second.id, first.id)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(outcomes.values()) == ["deactivated", "refused"]
    committed_db.session.expire_all()
    assert [first.active, second.active].count(True) == 1


# --- Users ----------------------------------------------------------------------------


def test_deactivating_ends_all_sessions_and_revokes_every_token(db, admin):
    user = UserFactory(roles=["admin"])
    secrets = [make_token(user, ["system.jobs"], name="one"), make_token(user, ["audit.read"], name="two")]
    version = user.session_version
    revoked = deactivate_user(user, actor=admin)
    assert revoked == 2
    assert user.active is False and user.session_version == version + 1
    assert all(token.revoked_at is not None for token in tokens.tokens_of(user))
    assert all(tokens.identify_bearer(secret) is None for secret in secrets)
    (entry,) = entries(db, "user.deactivated")
    assert entry.actor_id == admin.id and entry.target_id == str(user.id) and entry.data["revoked"] == 2
    assert len(entries(db, "token.revoked")) == 2


def test_an_administrator_cannot_deactivate_themselves(db, admin):
    UserFactory(roles=["admin"])
    with pytest.raises(Conflict) as error:
        deactivate_user(admin, actor=admin)
    assert error.value.code == "self_deactivation" and admin.active is True


def test_reactivating_lets_the_user_in_again_and_is_audited(db, admin):
    user = UserFactory(roles=["sales"], active=False)
    assert reactivate_user(user, actor=admin) is True
    assert user.active is True
    assert entries(db, "user.reactivated")[0].target_id == str(user.id)
    assert reactivate_user(user, actor=admin) is False  # nothing to do, nothing recorded
    assert len(entries(db, "user.reactivated")) == 1


def test_ending_sessions_bumps_the_session_version_and_is_audited(db, admin):
    user = UserFactory(roles=["sales"])
    version = user.session_version
    end_user_sessions(user, actor=admin)
    assert user.session_version == version + 1
    assert entries(db, "user.sessions_ended")[0].actor_id == admin.id


def test_unlocking_lifts_the_lock_and_is_audited_as_an_admin_unlock(db, admin):
    user = UserFactory(roles=["sales"], failed_logins=7, locked_until=utcnow() + timedelta(minutes=10))
    unlock_user(user, actor=admin)
    assert user.locked_until is None and user.failed_logins == 0
    entry = entries(db, "auth.unlocked")[0]
    assert entry.actor_id == admin.id and "admin" in entry.summary


def test_user_edit_records_before_and_after_of_the_changed_fields_only(db, admin):
    user = UserFactory(name="Ann Old", roles=["sales"])
    changes = update_user(
        user, name="Ann New", email=user.email, role_names=["support", "sales"], actor=admin
    )
    assert changes == {"name": ["Ann Old", "Ann New"], "roles": [["sales"], ["sales", "support"]]}
    (entry,) = entries(db, "user.updated")
    assert entry.data["changes"] == changes
    assert "password" not in str(entry.data)
    assert (
        update_user(user, name="Ann New", email=user.email, role_names=["sales", "support"], actor=admin)
        == {}
    )
    assert len(entries(db, "user.updated")) == 1


def test_user_edit_refuses_an_email_another_user_has(db, admin):
    taken = UserFactory(email="taken@example.com")
    user = UserFactory(roles=["sales"])
    with pytest.raises(Conflict) as error:
        update_user(user, name=user.name, email="Taken@Example.com", role_names=["sales"], actor=admin)
    assert error.value.errors == {"email": ["Another user has this email address."]}
    assert taken.email == "taken@example.com"


def test_user_edit_refuses_unknown_roles_and_empty_names(db, admin):
    user = UserFactory(roles=["sales"])
    with pytest.raises(InvalidInput) as error:
        update_user(user, name=user.name, email=user.email, role_names=["wizard"], actor=admin)
    assert "roles" in error.value.errors
    with pytest.raises(InvalidInput) as error:
        update_user(user, name="  ", email=user.email, role_names=["sales"], actor=admin)
    assert "name" in error.value.errors


def test_user_list_searches_name_and_email_and_filters_by_role_and_status(db):
    ann = UserFactory(name="Ann Archer", email="ann@example.com", roles=["sales"])
    bob = UserFactory(name="Bob Baker", email="bob@shop.example", roles=["support"], active=False)
    cid = UserFactory(name="Cid Cole", email="cid@example.com", roles=["sales"])
    cid.locked_until = utcnow() + timedelta(minutes=5)
    db.session.flush()

    def found(**filters):
        return [user.id for user in db.session.scalars(user_list_query(**filters))]

    assert found(search="ARCH") == [ann.id]
    assert found(search="shop.example") == [bob.id]
    assert found(search="100%") == []  # wildcards in the search are literal
    assert found(role="sales") == [ann.id, cid.id]
    assert found(status="deactivated") == [bob.id]
    assert found(status="locked") == [cid.id]
    assert found(role="sales", sort="-name") == [cid.id, ann.id]


# --- Roles ----------------------------------------------------------------------------


def test_role_deletion_impact_lists_each_holder_with_what_no_other_role_gives_them(db):
    doomed = make_role("night shift", ["system.jobs", "audit.read"])
    make_role("auditors", ["audit.read"])
    covered = UserFactory(name="Ann", roles=["night shift", "auditors"])
    exposed = UserFactory(name="Bob", roles=["night shift"])
    UserFactory(name="Cid", roles=["auditors"])
    impact = role_deletion_impact(doomed)
    assert [(loss.user.id, loss.lost) for loss in impact] == [
        (covered.id, ["system.jobs"]),
        (exposed.id, ["audit.read", "system.jobs"]),
    ]


def test_deleting_a_role_takes_it_from_its_holders_and_records_their_losses(db, admin):
    doomed = make_role("night shift", ["system.jobs"])
    holder = UserFactory(roles=["night shift", "sales"])
    delete_role(doomed, actor=admin)
    assert role_named(db, "night shift") is None
    assert [role.name for role in holder.roles] == ["sales"]
    (entry,) = entries(db, "role.deleted")
    assert entry.data["holders"] == [{"email": holder.email, "lost": ["system.jobs"]}]
    assert entry.data["permissions"] == ["system.jobs"]


def test_built_in_roles_cannot_be_deleted(db, admin):
    with pytest.raises(Conflict) as error:
        delete_role(role_named(db, "sales"), actor=admin)
    assert error.value.code == "built_in_role"


def test_matrix_save_adds_and_removes_exactly_the_changed_codes(db, admin):
    first = make_role("first", ["system.jobs", "audit.read"])
    second = make_role("second", ["audit.read"])
    changed = save_permission_matrix(
        {first.id: {"audit.read", "system.outbox"}, second.id: {"audit.read"}}, actor=admin
    )
    assert changed == {"first": {"added": ["system.outbox"], "removed": ["system.jobs"]}}
    assert first.permission_codes == {"audit.read", "system.outbox"}
    assert second.permission_codes == {"audit.read"}
    (entry,) = entries(db, "role.permissions_changed")
    assert entry.target_id == str(first.id)
    assert entry.data == {"added": ["system.outbox"], "removed": ["system.jobs"]}


def test_matrix_save_leaves_roles_not_on_the_page_and_unknown_stored_codes_alone(db, admin):
    first = make_role("first", ["audit.read", "retired.permission"])
    untouched = make_role("untouched", ["audit.read"])
    save_permission_matrix({first.id: set()}, actor=admin)
    assert first.permission_codes == {"retired.permission"}
    assert untouched.permission_codes == {"audit.read"}


def test_matrix_save_rejects_codes_no_domain_defines(db, admin):
    role = make_role("first", [])
    with pytest.raises(InvalidInput):
        save_permission_matrix({role.id: {"orders.teleport"}}, actor=admin)
    assert role.permission_codes == set()


def test_role_names_are_unique_regardless_of_case(db, admin):
    create_role(name="Buyers", description="", actor=admin)
    with pytest.raises(Conflict) as error:
        create_role(name="  buyers ", description="", actor=admin)
    assert "name" in error.value.errors


def test_built_in_roles_keep_their_name_but_can_be_edited(db, admin):
    sales = role_named(db, "sales")
    with pytest.raises(InvalidInput):
        update_role(sales, name="Sellers", description="", require_mfa=False, actor=admin)
    changes = update_role(sales, name="sales", description="People who sell", require_mfa=True, actor=admin)
    assert changes["two_factor_required"] == [False, True]
    assert sales.require_mfa is True
    (entry,) = entries(db, "role.updated")
    assert entry.data["changes"]["description"][1] == "People who sell"


def test_creating_a_role_is_audited(db, admin):
    role = create_role(name="Buyers", description="Purchasing", require_mfa=True, actor=admin)
    (entry,) = entries(db, "role.created")
    assert entry.target_id == str(role.id) and entry.actor_id == admin.id
    assert entry.data == {"name": "Buyers", "two_factor_required": True}  # policy, not a secret
