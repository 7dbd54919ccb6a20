"""My account: profile, email and password changes behind re-authentication, sign out
everywhere, API tokens created and revoked in the portal."""

import re

from sqlalchemy import select

from app.blueprints.auth.models import ApiToken
from app.core.models import AuditEntry, OutboxMessage
from tests.conftest import csrf_token_from
from tests.factories.auth import PASSWORD, UserFactory


def signed_in(portal, **user_fields):
    user = UserFactory(**user_fields)
    portal.login(user.email, PASSWORD)
    return user


def expire_reauthentication(portal):
    with portal.client.session_transaction() as session:
        session["reauthenticated_at"] = 0


def test_profile_update_is_saved_and_audited_with_before_and_after(db, portal):
    user = signed_in(portal, name="Ada Byron")
    response = portal.post("/account", data={"name": "Ada Lovelace", "timezone": "Europe/London"})
    assert response.status_code == 302
    assert user.name == "Ada Lovelace" and user.timezone == "Europe/London"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.profile_updated"))
    assert entry.data["changes"]["name"] == ["Ada Byron", "Ada Lovelace"]


def test_unknown_timezone_re_renders_with_the_error_and_input(db, portal):
    signed_in(portal)
    response = portal.post("/account", data={"name": "Ada", "timezone": "Mars/Olympus"})
    assert response.status_code == 422
    assert "Use a name like Europe/Amsterdam" in response.text and 'value="Mars/Olympus"' in response.text


def test_changing_email_asks_to_confirm_identity_first_and_tells_the_old_address(db, portal):
    user = signed_in(portal, email="old@example.com")
    expire_reauthentication(portal)
    detour = portal.get("/account/email")
    assert detour.headers["Location"].startswith("/account/confirm")

    confirm = portal.get("/account/confirm?next=/account/email")
    wrong = portal.client.post(
        "/account/confirm?next=/account/email",
        data={"password": "not my password", "csrf_token": csrf_token_from(confirm.text)},
    )
    assert wrong.status_code == 422
    portal.client.post(
        "/account/confirm?next=/account/email",
        data={"password": PASSWORD, "csrf_token": csrf_token_from(confirm.text)},
    )
    response = portal.post("/account/email", data={"email": "new@example.com"})
    assert response.status_code == 302
    assert user.email == "new@example.com"
    notice = db.session.scalar(select(OutboxMessage).where(OutboxMessage.recipients == "old@example.com"))
    assert "changed" in notice.subject


def test_email_already_used_by_another_user_is_a_field_error(db, portal):
    UserFactory(email="taken@example.com")
    signed_in(portal)
    response = portal.post("/account/email", data={"email": "taken@example.com"})
    assert response.status_code == 422 and "Already in use" in response.text


def test_changing_password_needs_the_current_one_and_signs_out_every_session(db, portal, app):
    user = signed_in(portal)
    other = type(portal)(app.test_client())
    other.login(user.email, PASSWORD)
    new = "a new long passphrase"
    wrong = portal.post(
        "/account/password", data={"current_password": "not it at all", "password": new, "confirm": new}
    )
    assert wrong.status_code == 422 and "current password is not right" in wrong.text.lower()
    response = portal.post(
        "/account/password", data={"current_password": PASSWORD, "password": new, "confirm": new}
    )
    assert response.headers["Location"] == "/login"
    assert portal.get("/").status_code == 302
    assert other.get("/").status_code == 302
    portal.login(user.email, new)


def test_sign_out_everywhere_ends_other_sessions_too(db, portal, app):
    user = signed_in(portal)
    other = type(portal)(app.test_client())
    other.login(user.email, PASSWORD)
    portal.post("/account/sign-out-everywhere")
    assert portal.get("/").status_code == 302
    assert other.get("/").status_code == 302


def test_token_created_in_the_portal_is_shown_once_and_works_on_the_api(db, portal, client):
    signed_in(portal, roles=["admin"])
    page = portal.post(
        "/account/tokens", data={"name": "ERP sync", "scopes": ["system.jobs"], "no_expiry": "y"}
    )
    assert page.status_code == 200
    secret = re.search(r'id="new-token">([^<]+)<', page.text).group(1)
    assert client.get("/api/v1/admin/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    account = portal.get("/account").text
    assert "ERP sync" in account and secret not in account


def test_a_token_needs_a_recent_sign_in_so_a_stolen_session_cannot_mint_one(db, portal):
    user = signed_in(portal, roles=["admin"])
    with portal.client.session_transaction() as session:
        session["reauthenticated_at"] = 0  # signed in long ago

    response = portal.client.post(
        "/account/tokens",
        data={"name": "persist", "scopes": ["system.jobs"], "no_expiry": "y", "csrf_token": portal.token},
        headers={"Referer": "http://localhost/account"},
    )

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/confirm?next=/account")
    assert db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id)) is None


def test_token_scopes_offered_are_only_the_users_permissions(db, portal):
    signed_in(portal, roles=["sales"])
    page = portal.get("/account").text
    assert "system.jobs" not in page
    response = portal.post("/account/tokens", data={"name": "x", "scopes": ["system.jobs"]})
    assert response.status_code == 422


def test_revoking_a_token_in_the_portal_stops_it(db, portal, client):
    user = signed_in(portal, roles=["admin"])
    page = portal.post(
        "/account/tokens", data={"name": "temp", "scopes": ["system.jobs"], "expires_in_days": "7"}
    )
    secret = re.search(r'id="new-token">([^<]+)<', page.text).group(1)
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert token.expires_at is not None
    portal.post(f"/account/tokens/{token.id}/revoke")
    assert client.get("/api/v1/admin/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_someone_elses_token_cannot_be_revoked(db, portal):
    owner = UserFactory(roles=["admin"])
    from tests.factories.auth import make_token

    make_token(owner, ["system.jobs"])
    theirs = db.session.scalar(select(ApiToken).where(ApiToken.user_id == owner.id))
    signed_in(portal, roles=["admin"])
    assert portal.post(f"/account/tokens/{theirs.id}/revoke").status_code == 404
    assert theirs.revoked_at is None


def test_token_last_use_is_recorded(db, client):
    from tests.factories.auth import make_token

    user = UserFactory(roles=["admin"])
    secret = make_token(user, ["system.jobs"])
    client.get("/api/v1/admin/me", headers={"Authorization": f"Bearer {secret}"})
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert token.last_used_at is not None
