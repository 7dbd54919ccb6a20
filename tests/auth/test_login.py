"""Portal sign-in: one answer for every failure, a fresh session, safe redirects."""

import pytest
from sqlalchemy import select

from app.core.models import AuditEntry
from tests.conftest import csrf_token_from
from tests.factories.auth import PASSWORD, UserFactory


def sign_in(client, email, password, next_url=None):
    token = csrf_token_from(client.get("/login").text)
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"email": email, "password": password, "csrf_token": token})


def test_valid_credentials_open_the_dashboard_and_are_audited(client, db):
    user = UserFactory(roles=["support"])
    response = sign_in(client, user.email, PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert f"Welcome back, {user.name}" in client.get("/").text
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "auth.login")).actor_id == user.id


def test_email_is_matched_case_insensitively(client, db):
    UserFactory(email="mixed@example.com")
    assert sign_in(client, "  MIXED@Example.com ", PASSWORD).status_code == 302


@pytest.mark.parametrize("case", ["wrong password", "unknown email", "inactive user"])
def test_every_failed_sign_in_gets_the_same_answer_and_keeps_the_email(client, db, case):
    user = UserFactory(active=case != "inactive user")
    email = "nobody@example.com" if case == "unknown email" else user.email
    password = "wrong-password-123" if case == "wrong password" else PASSWORD
    response = sign_in(client, email, password)
    assert response.status_code == 422
    assert "That email and password do not match an active account." in response.text
    assert f'value="{email}"' in response.text
    assert client.get("/").status_code == 302


def test_next_parameter_only_redirects_within_the_site(client, db):
    user = UserFactory()
    assert (
        sign_in(client, user.email, PASSWORD, next_url="/admin/outbox").headers["Location"] == "/admin/outbox"
    )
    client.post("/logout", data={"csrf_token": csrf_token_from(client.get("/").text)})
    for hostile in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        response = sign_in(client, user.email, PASSWORD, next_url=hostile)
        assert response.headers["Location"] == "/"
        client.post("/logout", data={"csrf_token": csrf_token_from(client.get("/").text)})


@pytest.mark.parametrize("hostile", ["/a%0Db", "/a%0Ab", "/x%0D%0ASet-Cookie:+a%3Db", "/a%7Fb"])
def test_a_next_with_control_characters_goes_to_the_dashboard_not_an_error(client, db, hostile):
    user = UserFactory()
    assert sign_in(client, user.email, PASSWORD, next_url=hostile).headers["Location"] == "/"
    # Signed in already, the sign-in page redirects at once: the same rule.
    response = client.get(f"/login?next={hostile}")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_sign_out_needs_a_post_with_csrf(client, db):
    user = UserFactory()
    sign_in(client, user.email, PASSWORD)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    response = client.post("/logout", data={"csrf_token": csrf_token_from(client.get("/").text)})
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_bumping_the_session_version_ends_open_sessions(client, db):
    user = UserFactory()
    sign_in(client, user.email, PASSWORD)
    assert client.get("/").status_code == 200
    user.session_version += 1
    db.session.flush()
    assert client.get("/").status_code == 302


def test_session_cookie_is_not_accepted_by_the_api(client, db):
    user = UserFactory()
    sign_in(client, user.email, PASSWORD)
    assert client.get("/api/v1/admin/me").status_code == 401


def test_signed_in_user_visiting_login_goes_to_the_dashboard(client, db):
    user = UserFactory()
    sign_in(client, user.email, PASSWORD)
    assert client.get("/login").headers["Location"] == "/"
