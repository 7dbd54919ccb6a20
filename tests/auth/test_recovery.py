"""Password recovery: same answer for everyone; one-hour, single-use link; sessions end;
MFA still asked afterwards."""

import re

from freezegun import freeze_time
from sqlalchemy import select

from app.blueprints.auth import recovery
from app.core.models import OutboxMessage
from tests.conftest import csrf_token_from
from tests.factories.auth import PASSWORD, UserFactory

NEW_PASSWORD = "a brand new passphrase"


def request_reset(client, email):
    token = csrf_token_from(client.get("/password-reset").text)
    return client.post("/password-reset", data={"email": email, "csrf_token": token}, follow_redirects=True)


def reset_link(db, email) -> str:
    message = db.session.scalar(
        select(OutboxMessage).where(OutboxMessage.recipients == email).order_by(OutboxMessage.id.desc())
    )
    assert message is not None, "no reset mail"
    return re.search(r"http://localhost(/password-reset/\S+)", message.text_body).group(1)


def test_known_and_unknown_emails_get_the_same_answer(db, client):
    user = UserFactory()
    known = request_reset(client, user.email)
    unknown = request_reset(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert (
        "If an account uses that address" in known.text and "If an account uses that address" in unknown.text
    )
    assert (
        db.session.scalar(select(OutboxMessage).where(OutboxMessage.recipients == "nobody@example.com"))
        is None
    )


def test_reset_link_sets_a_new_password_once_and_ends_sessions(db, client, app):
    user = UserFactory()
    other_device = app.test_client()
    token = csrf_token_from(other_device.get("/login").text)
    other_device.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert other_device.get("/").status_code == 200

    request_reset(client, user.email)
    link = reset_link(db, user.email)
    page = client.get(link)
    response = client.post(
        link,
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf_token_from(page.text)},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert other_device.get("/").status_code == 302, "the old session survived the reset"
    assert client.get("/").status_code == 302, "a reset must not sign anyone in"

    again = client.get(link, follow_redirects=True)
    assert "not valid any more" in again.text


def test_reset_link_expires_after_an_hour(db):
    user = UserFactory()
    with freeze_time("2026-01-01 10:00:00"):
        token = recovery.reset_token(user)
    with freeze_time("2026-01-01 10:59:00"):
        assert recovery.user_for_reset_token(token) == user
    with freeze_time("2026-01-01 11:00:30"):
        assert recovery.user_for_reset_token(token) is None


def test_tampered_link_is_refused(db):
    user = UserFactory()
    token = recovery.reset_token(user)
    assert recovery.user_for_reset_token(token[:-2] + "xx") is None
    assert recovery.user_for_reset_token("garbage") is None


def test_weak_new_password_re_renders_with_the_rule(db, client):
    user = UserFactory()
    request_reset(client, user.email)
    link = reset_link(db, user.email)
    page = client.get(link)
    response = client.post(
        link,
        data={
            "password": "qwerty123456",
            "confirm": "qwerty123456",
            "csrf_token": csrf_token_from(page.text),
        },
    )
    assert response.status_code == 422
    assert "common or breached" in response.text


def test_reset_does_not_bypass_mfa(db, client):
    from tests.auth.test_mfa import enroll

    user = UserFactory()
    enroll(user)
    request_reset(client, user.email)
    link = reset_link(db, user.email)
    page = client.get(link)
    client.post(
        link,
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf_token_from(page.text)},
    )
    token = csrf_token_from(client.get("/login").text)
    response = client.post(
        "/login", data={"email": user.email, "password": NEW_PASSWORD, "csrf_token": token}
    )
    assert response.headers["Location"] == "/login/mfa"
    assert client.get("/").status_code == 302
