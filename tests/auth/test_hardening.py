"""Identity hardening: sign-in works with Redis down, locked accounts try no codes,
re-authentication failures count, initial passwords are replaced, devices can be
replaced, secrets can be re-encrypted, expiries are explicit."""

import pyotp
import pytest
from sqlalchemy import select

from app import create_app
from app.blueprints.auth import authentication, mfa
from app.core import crypto
from app.core.models import AuditEntry
from tests.auth.test_mfa import code_for_next_step, enroll
from tests.conftest import Portal, csrf_token_from
from tests.factories.auth import PASSWORD, UserFactory


def test_sign_in_still_works_when_the_rate_limit_store_is_down(db, app, unused_tcp_port):
    down = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{unused_tcp_port}/0",
        LOGIN_RATE_LIMIT="10 per minute",
    )
    user = UserFactory()
    portal = Portal(down.test_client())
    portal.login(user.email, PASSWORD)
    assert portal.get("/").status_code == 200


def test_a_locked_account_gets_no_second_factor_tries(db, client):
    user = UserFactory()
    secret, _ = enroll(user)
    token = csrf_token_from(client.get("/login").text)
    client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    token = csrf_token_from(client.get("/login/mfa").text)  # the password step began a new session
    for _ in range(authentication.LOCK_AFTER):
        client.post("/login/mfa", data={"code": "000000", "csrf_token": token})
    assert authentication.is_locked(user)
    response = client.post("/login/mfa", data={"code": code_for_next_step(secret), "csrf_token": token})
    assert response.status_code == 422, "a valid code must not open a locked account"
    assert client.get("/").status_code == 302
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "auth.mfa_failed")) is not None


def test_failed_re_authentication_counts_towards_the_lock(db, portal):
    user = UserFactory()
    portal.login(user.email, PASSWORD)
    page = portal.get("/account/confirm?next=/account")
    for _ in range(authentication.LOCK_AFTER):
        portal.client.post(
            "/account/confirm?next=/account",
            data={"password": "not it", "csrf_token": csrf_token_from(page.text)},
        )
    assert authentication.is_locked(user)


def test_an_initial_password_chosen_by_an_admin_must_be_replaced_first(db, admin_portal, app):
    admin_portal.post(
        "/admin/users/new",
        data={
            "name": "New Hire",
            "email": "hire@example.com",
            "roles": ["support"],
            "password": "chosen by the admin",
        },
    )
    newcomer = Portal(app.test_client())
    newcomer.login("hire@example.com", "chosen by the admin")
    assert newcomer.get("/").headers["Location"] == "/account/password"
    response = newcomer.post(
        "/account/password",
        data={
            "current_password": "chosen by the admin",
            "password": "my very own passphrase",
            "confirm": "my very own passphrase",
        },
    )
    assert response.headers["Location"] == "/login"
    newcomer.login("hire@example.com", "my very own passphrase")
    assert newcomer.get("/").status_code == 200


def test_cli_created_users_choose_their_own_password(app, db):
    from app.blueprints.auth import services

    services.ensure_built_in_roles()
    user = services.create_user(
        email="ops@example.com",
        name="Ops",
        password="typed by the operator",
        role_names=["admin"],
        actor=None,
    )
    assert not user.password_must_change


def test_a_user_whose_role_requires_mfa_can_move_it_to_a_new_device(db, portal):
    user = UserFactory(roles=["support"])
    portal.login(user.email, PASSWORD)
    _old_secret, old_codes = enroll(user)
    page = portal.get("/account/mfa?replace=1")
    assert page.status_code == 200 and "new device" in page.text
    with portal.client.session_transaction() as session:
        new_secret = session["mfa_setup_secret"]
    done = portal.post("/account/mfa?replace=1", data={"code": pyotp.TOTP(new_secret).now()})
    assert done.status_code == 200
    assert crypto.decrypt(user.mfa_secret_encrypted) == new_secret
    assert mfa.verify_second_factor(user, old_codes[0]) is None, "old recovery codes must stop working"


def test_rotating_the_encryption_key_keeps_secrets_readable_with_the_new_key_only(app, db):
    user = UserFactory()
    old, new = crypto.new_key(), crypto.new_key()
    app.config["DATA_ENCRYPTION_KEY"] = old
    try:
        secret, _ = enroll(user)
        app.config["DATA_ENCRYPTION_KEY"] = f"{new},{old}"
        result = app.test_cli_runner().invoke(args=["crm", "rotate-encryption-key"])
        assert result.exit_code == 0 and "Re-encrypted" in result.output
        app.config["DATA_ENCRYPTION_KEY"] = new
        db.session.refresh(user)
        assert crypto.decrypt(user.mfa_secret_encrypted) == secret
    finally:
        app.config["DATA_ENCRYPTION_KEY"] = None


def test_an_unreadable_secret_fails_closed(app, db):
    user = UserFactory()
    enroll(user)
    app.config["DATA_ENCRYPTION_KEY"] = crypto.new_key()
    try:
        assert mfa.verify_second_factor(user, "123456") is None
    finally:
        app.config["DATA_ENCRYPTION_KEY"] = None


def test_token_expiry_must_be_chosen_explicitly(db, portal):
    user = UserFactory(roles=["admin"])
    portal.login(user.email, PASSWORD)
    response = portal.post("/account/tokens", data={"name": "x", "scopes": ["system.jobs"]})
    assert response.status_code == 422 and "Never expires" in response.text


@pytest.mark.parametrize("command", [["failed-jobs"], ["retry-job", "abc"]])
def test_queue_commands_say_clearly_when_redis_is_unreachable(app, unused_tcp_port, command):
    down = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL=f"redis://127.0.0.1:{unused_tcp_port}/0",
        JOBS_INLINE=False,
    )
    result = down.test_cli_runner().invoke(args=["crm", *command])
    assert result.exit_code == 1 and "cannot be reached" in result.output


def test_a_user_cannot_turn_off_mfa_that_their_role_requires(db, portal):
    from app.blueprints.auth.models import Role

    user = UserFactory(roles=["support"])
    portal.login(user.email, PASSWORD)
    enroll(user)
    db.session.scalar(select(Role).where(Role.name == "support")).require_mfa = True
    db.session.flush()
    page = portal.post("/account/mfa/disable", follow_redirects=True)
    assert "requires two-factor authentication" in page.text
    assert user.mfa_enabled
