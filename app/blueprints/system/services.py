"""Use cases of running the system: failed jobs and test mail, each audited."""

from __future__ import annotations

from datetime import datetime

from app.core import audit, jobs
from app.core.mail import OutgoingMail, send_mail
from app.core.timeutil import utcnow


def retry_failed_job(job_id: str, *, actor) -> jobs.FailedJob:
    job = jobs.get_failed_job(job_id)
    jobs.retry_failed_job(job_id)
    audit.record(
        "job.retried", actor=actor, target_type="job", target_id=job_id, summary=f"Retried {job.func_name}"
    )
    return job


def delete_failed_job(job_id: str, *, actor) -> jobs.FailedJob:
    job = jobs.get_failed_job(job_id)
    jobs.delete_failed_job(job_id)
    audit.record(
        "job.deleted", actor=actor, target_type="job", target_id=job_id, summary=f"Deleted {job.func_name}"
    )
    return job


def send_test_mail(to: str, *, actor) -> OutgoingMail:
    """A real templated message through the real queue, to prove mail delivery works."""
    mail = send_mail(
        to, "Test message", "test_message", sent_by=getattr(actor, "name", "an operator"), sent_at=utcnow()
    )
    audit.record(
        "mail.test_sent",
        actor=actor,
        target_type="mail",
        target_id=mail.message_id[:64],
        summary=f"Test mail to {to}",
    )
    return mail


def scheduler_last_seen() -> datetime | None:
    from app.blueprints.system.jobs import HEARTBEAT_KEY

    raw = jobs.redis_connection().get(HEARTBEAT_KEY)
    return datetime.fromisoformat(raw.decode()) if raw else None
