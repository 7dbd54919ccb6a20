"""Shared fixtures.

The suite runs against DATABASE_URL/REDIS_URL when set (CI: PostgreSQL and Redis) and
falls back to a SQLite file with inline jobs otherwise. The schema is built by the real
migrations, once per run. Each test runs inside a transaction that is rolled back, so
tests see each other's data never; tests that need data other processes can see (a
worker, a browser) use `committed_db` instead, which empties the tables afterwards.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import os
import re
import shutil
import tempfile

import pytest
from flask import Flask, has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import _app_ctx_id
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.orm import scoped_session, sessionmaker

os.environ.setdefault("APP_ENV", "testing")
# Without a server, each run gets its own SQLite file, so parallel runs never share one.
_SQLITE_DIR = tempfile.mkdtemp(prefix="crm-tests-")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_SQLITE_DIR}/test.db")
atexit.register(shutil.rmtree, _SQLITE_DIR, ignore_errors=True)

from app import create_app  # noqa: E402  (after the environment is set)
from app.core.migrations_cli import init_migrations  # noqa: E402
from app.extensions import db as _db  # noqa: E402

CSRF_PATTERN = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


def reset_schema(app) -> None:
    """An empty database, then every migration: the schema tests run on is the real one."""
    init_migrations(app)
    with app.app_context():
        engine = _db.engine
        if engine.dialect.name == "postgresql":
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        else:
            _db.drop_all()
            with engine.begin() as connection:
                connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade()


class IsolatedRequestClient(FlaskClient):
    """Each request runs in a fresh context, so it gets its own app context, `g` and
    session, as in production, instead of sharing the test's. Its session still uses
    the test's connection, so it sees the test's data and is rolled back with it."""

    def open(self, *args, **kwargs):
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if has_app_context():
            _db.session.expire_all()  # what the request changed is re-read by the test
        return response


# Every app a test creates (some build their own with other settings) uses it.
Flask.test_client_class = IsolatedRequestClient


@pytest.fixture(scope="session")
def app():
    app = create_app("testing", JOBS_INLINE=True)
    reset_schema(app)
    if app.config.get("REDIS_URL"):
        from redis import Redis

        Redis.from_url(app.config["REDIS_URL"]).flushdb()
    return app


@pytest.fixture(autouse=True)
def fresh_rate_limits(app):
    """Each test starts with no requests counted against any rate limit: limits are per
    client address, and every test client is 127.0.0.1 (tests of a limit set their own)."""
    from app.extensions import limiter

    # A test may have pointed the limiter at a store that is down: nothing to reset then.
    with app.app_context(), contextlib.suppress(RedisError):
        limiter.reset()


@pytest.fixture
def db(app):
    """A session whose work is rolled back after the test, commits included."""
    with app.app_context():
        connection = _db.engine.connect()
        outer = connection.begin()
        original = _db.session
        # A plain Session: Flask-SQLAlchemy's own picks the engine per model and
        # would ignore the connection that holds the outer transaction.
        factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        _db.session = scoped_session(factory, scopefunc=_app_ctx_id)
        try:
            yield _db
        finally:
            _db.session.remove()
            _db.session = original
            outer.rollback()
            connection.close()


def empty_all_tables() -> None:
    with _db.engine.begin() as connection:
        for table in reversed(_db.metadata.sorted_tables):
            # Rows of a tree (categories) point at each other: cut the links first.
            self_references = [fk.parent for fk in table.foreign_keys if fk.column.table is table]
            if self_references:
                connection.execute(table.update().values({column.name: None for column in self_references}))
            connection.execute(table.delete())


@pytest.fixture
def committed_db(app):
    """Real commits, visible to other processes; every table is emptied afterwards."""
    with app.app_context():
        empty_all_tables()
        try:
            yield _db
        finally:
            _db.session.remove()
            empty_all_tables()


@pytest.fixture
def concurrent(committed_db):
    """Committed data for tests of concurrent writers: PostgreSQL only (SQLite lets one
    transaction write at a time)."""
    if committed_db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL: SQLite lets one transaction write at a time")
    return committed_db


@pytest.fixture
def client(app, db):
    return app.test_client()


def csrf_token_from(html: str) -> str:
    match = CSRF_PATTERN.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


class Portal:
    """A test client that signs in through the real login form and sends CSRF tokens."""

    def __init__(self, client):
        self.client = client
        self.token = None

    def login(self, email: str, password: str):
        page = self.client.get("/login")
        response = self.client.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": csrf_token_from(page.text)},
        )
        assert response.status_code == 302, response.text
        self.token = csrf_token_from(self.client.get("/", follow_redirects=True).text)
        return response

    def get(self, *args, **kwargs):
        return self.client.get(*args, **kwargs)

    def post(self, url, data=None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token)
        return self.client.post(url, data=data, **kwargs)


@pytest.fixture
def portal(client):
    return Portal(client)


@pytest.fixture
def admin(db):
    from tests.factories.auth import UserFactory

    return UserFactory(roles=["admin"])


@pytest.fixture
def admin_portal(portal, admin):
    portal.login(admin.email, "correct-horse-battery")
    return portal


@pytest.fixture
def redis_url(app):
    url = app.config.get("REDIS_URL")
    if not url:
        pytest.skip("needs REDIS_URL (CI runs it against a real Redis)")
    return url


@pytest.fixture
def unused_tcp_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
