"""Admin > Users and Admin > Roles & permissions in the portal: who may open them, what
they show, forms that keep what was typed, confirmations, and sessions ended at once."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from app.blueprints.auth import admin_views
from app.blueprints.auth.admin import create_role
from app.blueprints.auth.models import Role, RolePermission, User
from app.core.models import AuditEntry
from app.core.timeutil import utcnow
from tests.conftest import Portal
from tests.factories.auth import PASSWORD, UserFactory, make_token


def role_named(db, name):
    return db.session.scalar(select(Role).where(Role.name == name))


def make_role(db, name, codes):
    role = create_role(name=name, description="", actor=None)
    role.permissions = [RolePermission(code=code) for code in codes]
    db.session.flush()
    return role


def second_portal(portal, user):
    other = Portal(portal.client.application.test_client())
    other.login(user.email, PASSWORD)
    return other


def flashes(html):
    return re.findall(r'<div class="alert (?:success|error|info|warning)">(.*?)</div>', html, re.S)


# --- Access ---------------------------------------------------------------------------


TOKEN_ENDPOINTS = {"auth.create_user_token", "auth.revoke_user_token"}


def test_every_admin_page_is_declared_with_users_manage_or_tokens_manage(app):
    endpoints = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if app.view_functions[rule.endpoint].__module__ == admin_views.__name__
    ]
    assert len(endpoints) == 15
    for endpoint in endpoints:
        expected = "tokens.manage" if endpoint in TOKEN_ENDPOINTS else "users.manage"
        assert app.view_functions[endpoint].required_permission == expected, endpoint


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/admin/users"),
        ("get", "/admin/users/new"),
        ("post", "/admin/users/new"),
        ("get", "/admin/users/{user}"),
        ("get", "/admin/users/{user}/edit"),
        ("post", "/admin/users/{user}/edit"),
        ("post", "/admin/users/{user}/deactivate"),
        ("post", "/admin/users/{user}/reactivate"),
        ("post", "/admin/users/{user}/end-sessions"),
        ("post", "/admin/users/{user}/unlock"),
        ("get", "/admin/roles"),
        ("post", "/admin/roles"),
        ("get", "/admin/roles/new"),
        ("post", "/admin/roles/new"),
        ("get", "/admin/roles/{role}"),
        ("post", "/admin/roles/{role}"),
        ("get", "/admin/roles/{role}/delete"),
        ("post", "/admin/roles/{role}/delete"),
    ],
)
def test_each_admin_page_needs_users_manage(portal, db, method, url):
    sales = UserFactory(roles=["sales"])
    portal.login(sales.email, PASSWORD)
    target = url.format(user=sales.id, role=role_named(db, "sales").id)
    response = getattr(portal, method)(target)
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert sales.active is True and role_named(db, "sales") is not None


def test_admin_pages_send_anonymous_visitors_to_sign_in(client, db):
    for url in ("/admin/users", "/admin/roles"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_sidebar_offers_users_and_roles_only_to_who_may_manage_users(portal, admin_portal, db):
    html = admin_portal.get("/").text
    assert 'href="/admin/users"' in html and 'href="/admin/roles"' in html
    sales = second_portal(portal, UserFactory(roles=["sales"]))
    html = sales.get("/").text
    assert 'href="/admin/users"' not in html and 'href="/admin/roles"' not in html


# --- User list ------------------------------------------------------------------------


def test_user_list_searches_filters_and_keeps_them_in_sort_links(admin_portal, db):
    UserFactory(name="Ann Archer", roles=["sales"])
    UserFactory(name="Bob Baker", roles=["support"])
    response = admin_portal.get("/admin/users?q=archer&role=sales")
    assert response.status_code == 200
    html = response.text
    assert "<title>Users" in html and "<h1>Users</h1>" in html and 'class="breadcrumbs"' in html
    assert "Ann Archer" in html and "Bob Baker" not in html
    assert 'href="/admin/users/new"' in html
    sort_link = re.search(r'href="(/admin/users\?[^"]*sort=email[^"]*)"', html).group(1)
    assert "q=archer" in sort_link and "role=sales" in sort_link


def test_user_list_status_filter_shows_deactivated_users(admin_portal, db):
    UserFactory(name="Gone Away", roles=["sales"], active=False)
    UserFactory(name="Still Here", roles=["sales"])
    html = admin_portal.get("/admin/users?status=deactivated").text
    assert "Gone Away" in html and "Still Here" not in html


def test_user_list_sorts_by_last_sign_in(admin_portal, db):
    UserFactory(name="Early Bird", roles=["sales"], last_login_at=utcnow() - timedelta(days=3))
    UserFactory(name="Late Comer", roles=["sales"], last_login_at=utcnow() - timedelta(days=1))
    html = admin_portal.get("/admin/users?sort=last_login&role=sales").text
    assert html.index("Early Bird") < html.index("Late Comer")
    html = admin_portal.get("/admin/users?sort=-last_login&role=sales").text
    assert html.index("Late Comer") < html.index("Early Bird")


def test_user_list_says_what_to_do_when_nothing_matches(admin_portal, db):
    html = admin_portal.get("/admin/users?q=nobody-by-this-name").text
    assert "No users match these filters." in html


def test_user_list_runs_the_same_number_of_queries_for_more_rows(admin_portal, db):
    statements = []

    def count(*_args):
        statements.append(1)

    def queries_for_page():
        admin_portal.get("/admin/users")  # warm up caches
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert admin_portal.get("/admin/users").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(statements)

    UserFactory.create_batch(2, roles=["sales", "support"])
    few = queries_for_page()
    UserFactory.create_batch(15, roles=["sales", "support"])
    assert queries_for_page() == few


# --- Creating and editing users -------------------------------------------------------


def test_creating_a_user_opens_their_page_with_a_flash(admin_portal, db):
    response = admin_portal.post(
        "/admin/users/new",
        data={
            "name": "Nia New",
            "email": "nia@example.com",
            "roles": ["sales"],
            "password": "quiet-river-42x",
        },
    )
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "nia@example.com"))
    assert response.headers["Location"] == f"/admin/users/{user.id}"
    assert [role.name for role in user.roles] == ["sales"]
    assert "Nia New can now sign in as nia@example.com." in flashes(
        admin_portal.get(response.headers["Location"]).text
    )


def test_new_user_form_shows_the_password_rule_and_keeps_what_was_typed(admin_portal, db):
    page = admin_portal.get("/admin/users/new").text
    assert "12 to 128 characters" in page
    assert re.search(r'<label for="roles-\d+">sales</label>', page)
    response = admin_portal.post(
        "/admin/users/new",
        data={"name": "Tia Typed", "email": "tia@example.com", "roles": ["support"], "password": "short"},
    )
    assert response.status_code == 422
    html = response.text
    assert re.search(r'id="password-error">Use 12 to 128 characters.</p>', html)
    assert 'value="Tia Typed"' in html and 'value="tia@example.com"' in html
    assert re.search(r'<input checked id="roles-\d+" name="roles" type="checkbox" value="support">', html)
    assert db.session.scalar(select(User).where(User.email == "tia@example.com")) is None


def test_new_user_with_a_taken_email_shows_the_conflict_next_to_the_email(admin_portal, admin, db):
    response = admin_portal.post(
        "/admin/users/new",
        data={"name": "Copy Cat", "email": admin.email, "roles": ["sales"], "password": "quiet-river-42x"},
    )
    assert response.status_code == 422
    assert 'id="email-error">Another user has this email address.</p>' in response.text
    assert 'value="Copy Cat"' in response.text


def test_editing_a_user_saves_and_audits_the_changes(admin_portal, admin, db):
    user = UserFactory(name="Old Name", roles=["sales"])
    response = admin_portal.post(
        f"/admin/users/{user.id}/edit", data={"name": "New Name", "email": user.email, "roles": ["support"]}
    )
    assert response.status_code == 302
    assert user.name == "New Name" and [role.name for role in user.roles] == ["support"]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.updated"))
    assert entry.actor_id == admin.id
    assert entry.data["changes"] == {"name": ["Old Name", "New Name"], "roles": [["sales"], ["support"]]}


def test_taking_away_the_last_admin_role_re_renders_the_form_with_the_reason(admin_portal, admin, db):
    response = admin_portal.post(
        f"/admin/users/{admin.id}/edit",
        data={"name": "Renamed Too", "email": admin.email, "roles": ["sales"]},
    )
    assert response.status_code == 422
    assert "would leave no active user who can manage users" in response.text
    assert 'value="Renamed Too"' in response.text
    assert [role.name for role in admin.roles] == ["admin"] and admin.name != "Renamed Too"


# --- User page and its actions --------------------------------------------------------


def test_user_page_shows_key_facts_tokens_and_the_deactivation_consequence(admin_portal, db):
    user = UserFactory(name="Tom Token", roles=["admin"], last_login_at=utcnow())
    make_token(user, ["audit.read"], name="ERP sync")
    html = admin_portal.get(f"/admin/users/{user.id}").text
    assert "<h1>Tom Token</h1>" in html
    assert "ERP sync" in html and "never" in html  # last use
    assert "Two-factor" in html and "Off" in html
    assert f'href="/admin/users/{user.id}/edit"' in html
    assert re.search(
        r'action="/admin/users/\d+/deactivate"\s+data-confirm="Deactivate Tom Token\? They are signed out '
        r"everywhere at once, their 1 API token\(s\) are revoked for good",
        html,
    )


def test_missing_user_is_a_404_page(admin_portal):
    assert admin_portal.get("/admin/users/999999").status_code == 404


def test_deactivating_a_user_ends_their_open_session_at_once(portal, admin_portal, db):
    victim = UserFactory(roles=["sales"])
    victim_portal = second_portal(portal, victim)
    assert victim_portal.get("/").status_code == 200
    response = admin_portal.post(f"/admin/users/{victim.id}/deactivate")
    assert response.status_code == 302
    assert any(
        "is deactivated" in message for message in flashes(admin_portal.get(f"/admin/users/{victim.id}").text)
    )
    next_request = victim_portal.get("/")
    assert next_request.status_code == 302 and next_request.headers["Location"].startswith("/login")
    assert victim.active is False


def test_an_admin_cannot_deactivate_themselves_from_the_portal(admin_portal, admin, db):
    UserFactory(roles=["admin"])
    page = admin_portal.get(f"/admin/users/{admin.id}").text
    assert f"/admin/users/{admin.id}/deactivate" not in page
    response = admin_portal.post(f"/admin/users/{admin.id}/deactivate", follow_redirects=True)
    assert "You cannot deactivate your own account." in response.text
    assert admin.active is True


def test_reactivating_ending_sessions_and_unlocking_each_flash_what_happened(admin_portal, db):
    user = UserFactory(name="Lou Locked", roles=["sales"], locked_until=utcnow() + timedelta(minutes=9))
    page = admin_portal.get(f"/admin/users/{user.id}").text
    assert "Locked until" in page and f"/admin/users/{user.id}/unlock" in page
    html = admin_portal.post(f"/admin/users/{user.id}/unlock", follow_redirects=True).text
    assert "Lou Locked can sign in again right away." in html and user.locked_until is None
    version = user.session_version
    html = admin_portal.post(f"/admin/users/{user.id}/end-sessions", follow_redirects=True).text
    assert "Lou Locked is signed out everywhere." in html and user.session_version == version + 1
    user.active = False
    db.session.flush()
    html = admin_portal.post(f"/admin/users/{user.id}/reactivate", follow_redirects=True).text
    assert "Lou Locked can sign in again." in html and user.active is True


# --- Roles and the permission matrix --------------------------------------------------


def test_roles_page_shows_the_matrix_grouped_by_domain(admin_portal, db):
    admin_role = role_named(db, "admin")
    html = admin_portal.get("/admin/roles").text
    assert "<h1>Roles &amp; permissions</h1>" in html and 'href="/admin/roles/new"' in html
    assert re.search(r'<th scope="rowgroup" colspan="\d+">Admin</th>', html)
    assert re.search(rf'value="{admin_role.id}:users.manage" checked>', html)
    assert re.search(rf'<label for="grant-{admin_role.id}-users.manage" class="visually-hidden">', html)


def test_saving_the_matrix_grants_and_revokes_what_changed(admin_portal, db):
    role = make_role(db, "auditors", ["system.jobs"])
    response = admin_portal.post("/admin/roles", data={"role": [role.id], "grant": [f"{role.id}:audit.read"]})
    assert response.status_code == 302
    assert role.permission_codes == {"audit.read"}
    assert "auditors: 1 added, 1 removed" in admin_portal.get("/admin/roles").text


def test_unchecking_the_last_users_manage_re_renders_the_matrix_as_submitted(admin_portal, db):
    admin_role = role_named(db, "admin")
    other = make_role(db, "auditors", [])
    grants = [f"{admin_role.id}:{code}" for code in admin_role.permission_codes - {"users.manage"}]
    response = admin_portal.post(
        "/admin/roles", data={"role": [admin_role.id, other.id], "grant": [*grants, f"{other.id}:audit.read"]}
    )
    assert response.status_code == 422
    assert "would leave no active user who can manage users" in response.text
    assert re.search(rf'value="{other.id}:audit.read" checked>', response.text)
    assert not re.search(rf'value="{admin_role.id}:users.manage" checked>', response.text)
    assert "users.manage" in role_named(db, "admin").permission_codes
    assert other.permission_codes == set()


def test_creating_a_role_and_a_taken_name_keeps_what_was_typed(admin_portal, db):
    response = admin_portal.post("/admin/roles/new", data={"name": "Buyers", "description": "Purchasing"})
    assert response.status_code == 302 and role_named(db, "Buyers") is not None
    response = admin_portal.post("/admin/roles/new", data={"name": "buyers", "description": "Again"})
    assert response.status_code == 422
    assert 'id="name-error">Another role has this name.</p>' in response.text
    assert 'value="Again"' in response.text


def test_requiring_mfa_for_a_role_is_saved_and_audited(admin_portal, db):
    support = role_named(db, "support")
    response = admin_portal.post(
        f"/admin/roles/{support.id}", data={"name": "support", "description": "Helpers", "require_mfa": "y"}
    )
    assert response.status_code == 302
    assert support.require_mfa is True and support.description == "Helpers"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "role.updated"))
    assert entry.data["changes"]["two_factor_required"] == [False, True]
    assert "MFA required" in admin_portal.get("/admin/roles").text


def test_built_in_roles_offer_no_delete(admin_portal, db):
    sales = role_named(db, "sales")
    assert f"/admin/roles/{sales.id}/delete" not in admin_portal.get(f"/admin/roles/{sales.id}").text
    assert "cannot be deleted" in admin_portal.get(f"/admin/roles/{sales.id}/delete").text
    admin_portal.post(f"/admin/roles/{sales.id}/delete")
    assert role_named(db, "sales") is not None


def test_role_delete_confirmation_says_who_loses_what(admin_portal, db):
    role = make_role(db, "night shift", ["system.jobs", "audit.read"])
    make_role(db, "auditors", ["audit.read"])
    UserFactory(name="Ann Both", roles=["night shift", "auditors"])
    UserFactory(name="Bob Only", roles=["night shift"])
    html = admin_portal.get(f"/admin/roles/{role.id}/delete").text
    assert "<h1>Delete role night shift?</h1>" in html
    assert "2 users hold this role." in html
    ann_row = re.search(r"Ann Both.*?</tr>", html, re.S).group(0)
    bob_row = re.search(r"Bob Only.*?</tr>", html, re.S).group(0)
    assert "system.jobs" in ann_row and "audit.read" not in ann_row
    assert "system.jobs" in bob_row and "audit.read" in bob_row
    assert 'data-confirm="Delete the role night shift? 2 user(s) lose it now.' in html


def test_deleting_a_role_from_its_confirmation_page(admin_portal, db):
    role = make_role(db, "night shift", ["system.jobs"])
    holder = UserFactory(roles=["night shift", "sales"])
    response = admin_portal.post(f"/admin/roles/{role.id}/delete")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/roles"
    assert role_named(db, "night shift") is None
    assert [r.name for r in holder.roles] == ["sales"]
    assert "Role night shift deleted; 1 user(s) no longer hold it." in admin_portal.get("/admin/roles").text


def test_admin_actions_refuse_a_post_without_the_csrf_token(admin_portal, db):
    user = UserFactory(roles=["sales"])
    response = admin_portal.client.post(f"/admin/users/{user.id}/deactivate")
    assert response.status_code == 400
    assert user.active is True


def test_admin_resets_a_users_lost_two_factor_and_signs_them_out(db, admin_portal, app):
    from tests.auth.test_mfa import enroll
    from tests.conftest import Portal
    from tests.factories.auth import PASSWORD, UserFactory

    user = UserFactory(roles=["support"])
    device = Portal(app.test_client())
    device.login(user.email, PASSWORD)
    enroll(user)
    db.session.flush()
    page = admin_portal.get(f"/admin/users/{user.id}").text
    assert "Reset two-factor" in page and "Do this only after checking who is asking" in page
    response = admin_portal.post(f"/admin/users/{user.id}/reset-mfa")
    assert response.status_code == 302
    assert not user.mfa_enabled
    assert device.get("/").status_code == 302


def test_admin_creates_a_token_for_an_integration_user_shown_once(db, admin_portal, client):
    import re

    from tests.factories.auth import UserFactory

    integration = UserFactory(roles=["admin"], name="ERP integration")
    page = admin_portal.post(
        f"/admin/users/{integration.id}/tokens",
        data={"name": "ERP", "scopes": ["system.jobs"], "no_expiry": "y"},
    )
    assert page.status_code == 200 and "ERP integration" in page.text
    secret = re.search(r'id="new-token">([^<]+)<', page.text).group(1)
    me = client.get("/api/v1/admin/me", headers={"Authorization": f"Bearer {secret}"}).get_json()
    assert me["email"] == integration.email and me["scopes"] == ["system.jobs"]
    assert secret not in admin_portal.get(f"/admin/users/{integration.id}").text


def test_token_scopes_for_another_user_stay_within_their_permissions(db, admin_portal):
    from tests.factories.auth import UserFactory

    sales = UserFactory(roles=["sales"])
    response = admin_portal.post(
        f"/admin/users/{sales.id}/tokens", data={"name": "x", "scopes": ["system.jobs"]}
    )
    assert response.status_code == 422
