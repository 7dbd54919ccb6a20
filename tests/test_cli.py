"""Operator commands under `flask crm`."""

from sqlalchemy import func, select

from app.blueprints.auth.models import ApiToken, User
from app.core.models import OutboxMessage
from tests.factories.auth import UserFactory


def run(app, *args, input=None):
    return app.test_cli_runner().invoke(args=["crm", *args], input=input, catch_exceptions=False)


def test_seed_demo_creates_staff_once_and_is_idempotent(app, db):
    first = run(app, "seed-demo")
    assert first.exit_code == 0, first.output
    assert "admin@example.com" in first.output
    users = db.session.scalar(select(func.count(User.id)))
    assert users >= 4
    assert run(app, "seed-demo").exit_code == 0
    assert db.session.scalar(select(func.count(User.id))) == users


def test_seed_demo_if_empty_skips_a_database_with_users(app, db):
    UserFactory()
    result = run(app, "seed-demo", "--if-empty")
    assert "already loaded" in result.output


def test_seed_demo_refuses_production_without_force(app, db):
    app.config["APP_ENV"] = "production"
    try:
        result = app.test_cli_runner().invoke(args=["crm", "seed-demo"])
    finally:
        app.config["APP_ENV"] = "testing"
    assert result.exit_code != 0 and "Refusing" in result.output


def test_create_user_then_create_token_prints_the_secret_once(app, db):
    result = run(
        app,
        "create-user",
        "--email",
        "ops@example.com",
        "--name",
        "Ops",
        "--role",
        "admin",
        input="a-long-enough-password\na-long-enough-password\n",
    )
    assert result.exit_code == 0, result.output
    result = run(app, "create-token", "--email", "ops@example.com", "--name", "ERP", "--scope", "system.jobs")
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert secret.startswith("crm_")
    token = db.session.scalar(select(ApiToken).where(ApiToken.name == "ERP"))
    assert token.scopes == ["system.jobs"] and secret not in token.token_hash


def test_create_user_rejects_a_short_password_clearly(app, db):
    result = app.test_cli_runner().invoke(
        args=["crm", "create-user", "--email", "x@example.com", "--name", "X", "--role", "admin"],
        input="short\nshort\n",
    )
    assert result.exit_code != 0 and "12 to 128" in result.output


def test_create_token_for_unknown_user_is_a_clear_error(app, db):
    result = app.test_cli_runner().invoke(
        args=["crm", "create-token", "--email", "ghost@example.com", "--name", "x", "--scope", "system.jobs"]
    )
    assert result.exit_code != 0 and "No user" in result.output


def test_send_test_mail_delivers_through_the_configured_backend(app, db):
    result = run(app, "send-test-mail", "--to", "ops@example.com")
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(OutboxMessage).where(OutboxMessage.recipients == "ops@example.com"))


def test_failed_jobs_command_explains_inline_mode(app, db):
    result = app.test_cli_runner().invoke(args=["crm", "failed-jobs"])
    assert result.exit_code != 0 and "REDIS_URL" in result.output


def test_create_admin_prompts_for_the_password_and_grants_admin(app, db):
    result = run(
        app,
        "create-admin",
        "--email",
        "first@example.com",
        input="first admin passphrase\nfirst admin passphrase\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "first@example.com"))
    assert [r.name for r in user.roles] == ["admin"]
    assert user.password_hash.startswith("$argon2id$")


def test_create_admin_refuses_a_common_password(app, db):
    result = app.test_cli_runner().invoke(
        args=["crm", "create-admin", "--email", "first@example.com", "--password", "qwerty123456"]
    )
    assert result.exit_code != 0 and "common or breached" in result.output


def test_unlock_user_lifts_the_lock(app, db):
    from app.blueprints.auth import authentication

    user = UserFactory()
    for _ in range(5):
        authentication.authenticate(user.email, "wrong password here")
    assert user.locked_until is not None
    result = run(app, "unlock-user", "--email", user.email)
    assert result.exit_code == 0, result.output
    db.session.refresh(user)
    assert user.locked_until is None


def test_new_encryption_key_prints_a_usable_fernet_key(app):
    from cryptography.fernet import Fernet

    key = run(app, "new-encryption-key").output.strip()
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"
