"""Use cases of the audit log itself. Reading it changes nothing; exporting it is audited."""

from __future__ import annotations

from app.blueprints.audit.queries import AuditFilter
from app.core import audit
from app.core.models import AuditEntry


def record_export(filters: AuditFilter, *, actor, format: str = "csv") -> AuditEntry:
    """Whoever takes a copy of the log out of the system leaves a trace, with what they took."""
    described = ", ".join(f"{key}={value}" for key, value in filters.as_dict().items()) or "everything"
    return audit.record(
        "audit.exported",
        actor=actor,
        summary=f"Exported the audit log as {format.upper()} ({described})",
        filter=filters.as_dict(),
        format=format,
    )
