"""Liveness and readiness checks for load balancers and orchestrators."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import text

from app.core.jobs import redis_connection
from app.extensions import db


def check_database() -> str | None:
    try:
        db.session.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # any failure means "not ready", never a 500
        db.session.rollback()
        return type(exc).__name__
    finally:
        db.session.close()


def check_redis() -> str | None:
    if not current_app.config.get("REDIS_URL"):
        return None
    try:
        redis_connection().ping()
        return None
    except Exception as exc:
        return type(exc).__name__


def readiness() -> dict[str, str]:
    """{"database": "ok" | "<error>", "redis": "ok" | "not configured" | "<error>"}"""
    database = check_database()
    redis = check_redis()
    return {
        "database": "ok" if database is None else f"unavailable ({database})",
        "redis": ("ok" if current_app.config.get("REDIS_URL") else "not configured (jobs run inline)")
        if redis is None
        else f"unavailable ({redis})",
    }
