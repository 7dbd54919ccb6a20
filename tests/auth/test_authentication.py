"""Brute-force protection: exponential, capped lock; unlock by email link or admin."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.blueprints.auth import authentication
from app.core.models import AuditEntry, OutboxMessage
from app.core.timeutil import utcnow
from tests.conftest import csrf_token_from
from tests.factories.auth import PASSWORD, UserFactory


def fail(user, times):
    for _ in range(times):
        assert not authentication.authenticate(user.email, "wrong password here").ok


def test_lock_starts_at_the_fifth_failure_and_doubles_up_to_a_cap():
    assert authentication.lock_duration(5) == timedelta(minutes=1)
    assert authentication.lock_duration(6) == timedelta(minutes=2)
    assert authentication.lock_duration(8) == timedelta(minutes=8)
    assert authentication.lock_duration(50) == authentication.MAX_LOCK == timedelta(minutes=15)


def test_four_failures_do_not_lock(db):
    user = UserFactory()
    fail(user, 4)
    assert user.locked_until is None
    assert authentication.authenticate(user.email, PASSWORD).ok
    assert user.failed_logins == 0


def test_locked_account_refuses_even_the_right_password_until_the_lock_ends(db):
    user = UserFactory()
    fail(user, 5)
    assert user.locked_until > utcnow()
    result = authentication.authenticate(user.email, PASSWORD)
    assert result.outcome == "locked" and result.user is None
    user.locked_until = utcnow() - timedelta(seconds=1)  # the lock ran out
    assert authentication.authenticate(user.email, PASSWORD).ok


def test_lock_mails_an_unlock_link_that_works_once(db, client):
    user = UserFactory()
    fail(user, 5)
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.recipients == user.email))
    assert message is not None and "locked" in message.subject
    link = re.search(r"http://localhost(/unlock/\S+)", message.text_body).group(1)
    page = client.get(link)
    assert page.status_code == 200 and user.locked_until is not None, "opening the link must change nothing"
    token = csrf_token_from(page.text)
    assert client.post(link, data={"csrf_token": token}).status_code == 302
    assert user.locked_until is None and user.failed_logins == 0
    again = client.post(link, data={"csrf_token": token}, follow_redirects=True)
    assert "not valid any more" in again.text


def test_admin_unlock_clears_the_lock_and_is_audited(db, admin):
    user = UserFactory()
    fail(user, 5)
    authentication.unlock(user, actor=admin, how="admin")
    assert authentication.authenticate(user.email, PASSWORD).ok
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "auth.unlocked"))
    assert entry.actor_id == admin.id


def test_failures_are_audited_without_revealing_the_password(db):
    user = UserFactory()
    fail(user, 1)
    authentication.authenticate("nobody@example.com", "secret guess 123")
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "auth.login_failed")).all()
    assert len(entries) == 2
    assert all("guess" not in str(e.data) and "wrong password here" not in str(e.data) for e in entries)


def test_locked_account_gets_the_same_portal_answer_as_a_wrong_password(db, client):
    user = UserFactory()
    fail(user, 5)
    token = csrf_token_from(client.get("/login").text)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 422
    assert "That email and password do not match an active account." in response.text
    assert "lock" not in response.text.lower()


@pytest.fixture
def strict_login_limit(app):
    from app.extensions import limiter

    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    limiter.reset()
    yield
    app.config["LOGIN_RATE_LIMIT"] = "10000 per minute"
    limiter.reset()


def test_sign_in_attempts_per_ip_are_rate_limited_with_retry_after(db, client, strict_login_limit):
    token = csrf_token_from(client.get("/login").text)
    statuses = [
        client.post(
            "/login", data={"email": "x@example.com", "password": "nope-nope-nope", "csrf_token": token}
        )
        for _ in range(4)
    ]
    assert [r.status_code for r in statuses[:3]] == [422, 422, 422]
    assert statuses[3].status_code == 429
    assert statuses[3].mimetype == "text/html"
    assert int(statuses[3].headers["Retry-After"]) > 0


def test_hash_made_with_old_parameters_is_upgraded_at_sign_in(db):
    from argon2 import PasswordHasher

    from app.blueprints.auth import passwords

    user = UserFactory()
    user.password_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    assert passwords.needs_rehash(user.password_hash)
    assert authentication.authenticate(user.email, PASSWORD).ok
    assert not passwords.needs_rehash(user.password_hash)
    assert passwords.verify_password(user.password_hash, PASSWORD)
