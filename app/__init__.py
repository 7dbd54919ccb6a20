"""Application factory: config, extensions, domains, error handling, CLI."""

from __future__ import annotations

import importlib
import importlib.util
import re

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from app.core.permissions import public
from config import INSTANCE_DIR, load_settings

# Domains in import order (see ARCHITECTURE.md): each exposes `bp` and `api_bp`.
DOMAINS = ("auth", "system", "audit", "customers", "catalog", "inventory", "orders", "fulfilment")


class DatabaseIdConverter(IntegerConverter):
    """`<int:id>` in every route: ids beyond a database integer are a plain 404, not an
    overflow deep in the driver."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def create_app(profile: str | None = None, **overrides) -> Flask:
    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.url_map.converters["int"] = DatabaseIdConverter
    app.config.from_mapping(load_settings(profile))
    app.config.from_mapping(overrides)
    INSTANCE_DIR.mkdir(exist_ok=True)
    if app.config["TRUSTED_PROXIES"]:
        # Client IP (audit, rate limits) and https scheme come from the proxy's headers.
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    from app.core.logging_setup import configure_logging

    configure_logging(app)
    init_extensions(app)
    register_domains(app)
    init_templates(app)

    from app.core.cli import crm

    app.cli.add_command(crm)
    return app


def init_extensions(app: Flask) -> None:
    from app.core import models as _core_models  # noqa: F401  (tables of core)
    from app.core.migrations_cli import register_migration_commands
    from app.core.security import init_security
    from app.extensions import api, csrf, db, limiter, login_manager

    db.init_app(app)
    register_migration_commands(app)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    api.init_app(app)
    # The OpenAPI document is public on purpose: it describes, it exposes nothing.
    app.view_functions["api-docs.openapi_json"] = public(app.view_functions["api-docs.openapi_json"])
    app.view_functions["static"] = public(app.view_functions["static"])
    init_security(app)


def register_domains(app: Flask) -> None:
    from app.extensions import api

    for name in DOMAINS:
        domain = importlib.import_module(f"app.blueprints.{name}")
        if importlib.util.find_spec(f"app.blueprints.{name}.models"):
            importlib.import_module(f"app.blueprints.{name}.models")
        app.register_blueprint(domain.bp)
        for api_blueprint in (domain.api_bp, *getattr(domain, "extra_api_blueprints", ())):
            api.register_blueprint(api_blueprint)
        if hasattr(domain, "init_app"):
            domain.init_app(app)


def init_templates(app: Flask) -> None:
    from flask_wtf.csrf import generate_csrf

    from app.core import formatting
    from app.core.navigation import visible_navigation
    from app.core.pagination import page_url

    app.jinja_env.globals.update(
        navigation=visible_navigation,
        page_url=page_url,
        csrf_token=generate_csrf,
        store_name=lambda: app.config["STORE_NAME"],
    )
    formatting.register_filters(app)


def _regexp_replace_first(value, pattern, replacement):
    """regexp_replace(value, pattern, replacement) as PostgreSQL does it without flags."""
    if value is None or pattern is None or replacement is None:
        return None
    return re.sub(pattern, replacement, value, count=1)


@event.listens_for(Engine, "connect")
def configure_sqlite(dbapi_connection, _record):
    """SQLite: enforce foreign keys, let SQLAlchemy (not pysqlite) manage transactions so
    SAVEPOINTs work as on PostgreSQL, and give it PostgreSQL's regexp_replace (the customer
    search compares surnames without their particles with it)."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        dbapi_connection.isolation_level = None
        dbapi_connection.create_function("regexp_replace", 3, _regexp_replace_first, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


@event.listens_for(Engine, "begin")
def begin_sqlite(connection):
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN")
