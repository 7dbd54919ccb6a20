"""Two requests may both pass a service's check ("is this SKU free?") before either
commits; the database's unique or foreign-key constraint then refuses the second. That is
a conflict with the current state, a 409, never a 500.

API handlers that can name the field wrap their use case in `constraint_race_is_a_conflict`;
every other path (portal forms included) gets the generic 409 from `handle_integrity_error`,
which the error handling registers app-wide.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError

from app.core.errors import HTTP_DETAILS, Conflict, error_response, handle_domain_error

log = logging.getLogger(__name__)

UNIQUE_VIOLATION, FOREIGN_KEY_VIOLATION = "23505", "23503"  # PostgreSQL SQLSTATEs
CHANGED_MEANWHILE = "Someone changed this meanwhile; reload and try again."


def is_constraint_race(error: IntegrityError) -> bool:
    """A unique or foreign-key violation (what a race causes), not a NOT NULL or CHECK
    violation (which would be a bug: services validate those)."""
    state = getattr(error.orig, "sqlstate", None)
    if state is not None:
        return state in (UNIQUE_VIOLATION, FOREIGN_KEY_VIOLATION)
    text = str(error.orig)
    return "UNIQUE constraint failed" in text or "FOREIGN KEY constraint failed" in text


@contextmanager
def constraint_race_is_a_conflict(
    fields: Mapping[str, str] | None = None, *, message: str = "Already in use.", code: str | None = None
):
    """Turn a constraint race into a 409 naming the field: `fields` maps a text found in
    the database's error (a constraint name as PostgreSQL reports it, a column as SQLite
    does) to the body field it guards. `code` defaults to "<field>_taken"."""
    try:
        yield
    except IntegrityError as error:
        if not is_constraint_race(error):
            raise
        text = str(error.orig).lower()
        for needle, field in (fields or {}).items():
            if needle in text:
                raise Conflict(
                    f"Another change took this {field} meanwhile; reload and try again.",
                    code=code or f"{field}_taken",
                    errors={field: [message]},
                ) from error
        raise Conflict(CHANGED_MEANWHILE, code="changed_meanwhile") from error


def handle_integrity_error(error: IntegrityError):
    if is_constraint_race(error):
        log.info("constraint race answered with 409: %s", error.orig)
        return handle_domain_error(Conflict(CHANGED_MEANWHILE, code="changed_meanwhile"))
    log.error("integrity error", exc_info=error)
    return error_response(500, detail=HTTP_DETAILS[500])
