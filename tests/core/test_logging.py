"""Every log line carries the request (or job) id; production logs JSON lines."""

import json
import logging

from flask import Blueprint, current_app

from app.core.logging_setup import RequestIdFilter, job_id_var


def test_log_lines_in_a_request_carry_its_request_id(app):
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "hello", None, None)
    with app.test_request_context():
        from flask import g

        g.request_id = "req-123456789"
        RequestIdFilter().filter(record)
    assert record.request_id == "req-123456789"


def test_log_lines_in_a_job_carry_the_job_id():
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "hello", None, None)
    token = job_id_var.set("job-42")
    try:
        RequestIdFilter().filter(record)
    finally:
        job_id_var.reset(token)
    assert record.request_id == "job-42"


def test_production_logs_json_lines_with_the_request_id(monkeypatch, app, capsys):
    from app import create_app

    monkeypatch.setenv("SECRET_KEY", "production-like-secret")
    monkeypatch.setenv("DATA_ENCRYPTION_KEY", "x3tLqDOTzB5v5xUyGZbP6uGdG8Jm1uT3y9m6w2tJ0sU=")
    monkeypatch.setenv("DATABASE_URL", app.config["SQLALCHEMY_DATABASE_URI"])
    production = create_app("production")
    bp = Blueprint("logging_probe", __name__)

    @bp.route("/probe")
    def probe():
        current_app.logger.warning("probe line\nwith a newline")
        return "ok"

    probe.is_public = True
    production.register_blueprint(bp)
    try:
        production.test_client().get("/probe", headers={"X-Request-ID": "probe-request-1"})
        lines = [line for line in capsys.readouterr().err.splitlines() if "probe line" in line]
        assert len(lines) == 1, "a newline in a message must not split the log line"
        entry = json.loads(lines[0])
        assert entry["request_id"] == "probe-request-1" and entry["level"] == "WARNING"
    finally:
        create_app("testing")  # put the test logging configuration back
