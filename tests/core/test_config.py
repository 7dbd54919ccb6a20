"""Settings come from the environment; production refuses to start half-configured."""

import pytest

from config import ConfigurationError, database_uri, load_settings


def test_production_refuses_to_start_without_secret_key_and_database_url(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ConfigurationError) as error:
        load_settings("production")
    assert "SECRET_KEY" in str(error.value) and "DATABASE_URL" in str(error.value)


def test_production_refuses_to_start_without_an_encryption_key(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "s3cret-from-the-vault")
    monkeypatch.setenv("DATABASE_URL", "postgresql://db.internal/crm")
    monkeypatch.delenv("DATA_ENCRYPTION_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="DATA_ENCRYPTION_KEY"):
        load_settings("production")


def test_production_names_only_what_is_missing(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "s3cret-from-the-vault")
    monkeypatch.setenv("DATA_ENCRYPTION_KEY", "x3tLqDOTzB5v5xUyGZbP6uGdG8Jm1uT3y9m6w2tJ0sU=")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="DATABASE_URL") as error:
        load_settings("production")
    assert "SECRET_KEY" not in str(error.value)


def test_production_is_the_default_profile(monkeypatch):
    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="production"):
        load_settings()


def test_production_hardens_cookies_hsts_and_logs_json(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "s3cret-from-the-vault")
    monkeypatch.setenv("DATA_ENCRYPTION_KEY", "x3tLqDOTzB5v5xUyGZbP6uGdG8Jm1uT3y9m6w2tJ0sU=")
    monkeypatch.setenv("DATABASE_URL", "postgresql://db.internal/crm")
    settings = load_settings("production")
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["HSTS_SECONDS"] > 0
    assert settings["LOG_FORMAT"] == "json"
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://db.internal/crm"


def test_development_runs_on_sqlite_with_inline_jobs_and_database_mail(monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL", "MAIL_BACKEND", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings("development")
    assert settings["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert settings["SQLALCHEMY_DATABASE_URI"].endswith("instance/crm.db")
    assert settings["JOBS_INLINE"] is True
    assert settings["MAIL_BACKEND"] == "database"


def test_redis_url_moves_jobs_to_the_queue(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    assert load_settings("development")["JOBS_INLINE"] is False


def test_unknown_profile_is_rejected():
    with pytest.raises(ConfigurationError, match="APP_ENV"):
        load_settings("staging-ish")


def test_malformed_number_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("MAIL_PORT", "twenty-five")
    with pytest.raises(ConfigurationError, match="MAIL_PORT"):
        load_settings("development")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_database_url_always_uses_psycopg3(given, expected):
    assert database_uri(given) == expected
