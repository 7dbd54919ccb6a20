"""Background jobs: queued after commit, run by a real RQ worker, failures kept for retry."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from app import create_app
from app.core import jobs
from app.core.mail import send_mail
from app.core.models import OutboxMessage
from app.core.transaction import transaction

ROOT = Path(__file__).resolve().parents[2]


def run_worker_burst(env_overrides: dict) -> subprocess.CompletedProcess:
    """`python worker.py --burst` in its own process, as operators run it."""
    env = {**os.environ, "APP_ENV": "testing", **env_overrides}
    return subprocess.run(
        [sys.executable, "worker.py", "--burst"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def queued_app(app, redis_url, committed_db):
    """The app with jobs going to Redis instead of running inline."""
    queued = create_app("testing", JOBS_INLINE=False)
    connection = Redis.from_url(redis_url)
    for name in jobs.QUEUES:
        Queue(name, connection=connection).empty()
        registry = FailedJobRegistry(name, connection=connection)
        for job_id in registry.get_job_ids():
            registry.remove(job_id, delete_job=True)
    with queued.app_context():
        yield queued


def test_mail_is_queued_after_commit_and_delivered_by_a_real_worker(queued_app, redis_url):
    with queued_app.test_request_context(), transaction():
        mail = send_mail("ops@example.com", "Hello", "test_message", sent_by="Tester", sent_at=_now())
        assert jobs.get_queue("email").count == 0, "job queued before the commit"
    assert jobs.get_queue("email").count == 1

    result = run_worker_burst({"REDIS_URL": redis_url, "MAIL_BACKEND": "database"})
    assert result.returncode == 0, result.stderr

    stored = committed_db_message(mail.message_id)
    assert stored is not None and stored.subject == "Hello"
    assert "Tester" in stored.text_body and "<html" in stored.html_body


def test_failed_job_lands_in_registry_and_can_be_retried(queued_app, redis_url, unused_tcp_port):
    with queued_app.test_request_context():
        with transaction():
            send_mail("ops@example.com", "Hello", "test_message", sent_by="Tester", sent_at=_now())
        # Retries back off for minutes; with none left, one attempt shows the failure path.
        job = jobs.get_queue("email").jobs[0]
        job.retries_left = 0
        job.save()

    # An SMTP server that is not there: delivery fails for real.
    failing_env = {"REDIS_URL": redis_url, "MAIL_BACKEND": "smtp", "MAIL_PORT": str(unused_tcp_port)}
    run_worker_burst(failing_env)

    failed = jobs.failed_jobs()
    assert len(failed) == 1
    assert failed[0].func_name == "app.core.mail.deliver_mail"
    assert "ConnectionRefusedError" in failed[0].trace

    jobs.retry_failed_job(failed[0].id)
    assert jobs.failed_jobs() == []
    result = run_worker_burst({"REDIS_URL": redis_url, "MAIL_BACKEND": "database"})
    assert result.returncode == 0, result.stderr
    assert committed_db_count() == 1


def test_without_redis_jobs_run_inline_after_commit(db, app):
    with app.test_request_context(), transaction():
        mail = send_mail("ops@example.com", "Inline", "test_message", sent_by="Tester", sent_at=_now())
        assert committed_message(db, mail.message_id) is None
    assert committed_message(db, mail.message_id) is not None


def test_enqueueing_to_an_unknown_queue_is_a_programming_error(queued_app):
    with pytest.raises(ValueError, match="unknown queue"):
        jobs.get_queue("urgent-ish")


def _now():
    from app.core.timeutil import utcnow

    return utcnow()


def committed_message(db, message_id):
    return db.session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == message_id))


def committed_db_message(message_id):
    from app.extensions import db

    db.session.remove()
    return db.session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == message_id))


def committed_db_count():
    from sqlalchemy import func

    from app.extensions import db

    db.session.remove()
    return db.session.scalar(select(func.count(OutboxMessage.id)))
