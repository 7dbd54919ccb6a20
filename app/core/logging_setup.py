"""Logging with a request (or job) id on every line; JSON lines in production."""

from __future__ import annotations

import contextvars
import logging
import sys

from flask import Flask, g, has_request_context
from pythonjsonlogger.json import JsonFormatter

# Set by the worker for the job it runs, so job log lines carry the job id.
job_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test runners and process managers
    replace it; a handler holding the old one would write to a closed file)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and "request_id" in g:
            record.request_id = g.request_id
        else:
            record.request_id = job_id_var.get() or "-"
        return True


def configure_logging(app: Flask) -> None:
    handler = StderrHandler()
    handler.addFilter(RequestIdFilter())
    if app.config["LOG_FORMAT"] == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    # Replace handlers a previous create_app() (tests, CLI) installed, rather than stacking them.
    for existing in [h for h in root.handlers if getattr(h, "is_crm_handler", False)]:
        root.removeHandler(existing)
    handler.is_crm_handler = True
    root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])
    # Alembic announces every plugin at INFO on each start; only its warnings matter.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    app.logger.handlers.clear()
    app.logger.propagate = True
