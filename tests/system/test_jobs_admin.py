"""Admins inspect, retry and delete failed jobs in the portal and the API."""

import pytest
from redis import Redis
from rq import Queue
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from app import create_app
from app.core import jobs
from app.core.models import AuditEntry
from tests.factories.auth import PASSWORD, UserFactory, make_token


def failing_job():
    raise RuntimeError("carrier API said no")


@pytest.fixture
def queued(redis_url, db, app):
    """The app in queue mode, with one failed job in the registry."""
    queued = create_app("testing", JOBS_INLINE=False)
    connection = Redis.from_url(redis_url)
    queue = Queue("default", connection=connection)
    queue.empty()
    registry = FailedJobRegistry("default", connection=connection)
    for job_id in registry.get_job_ids():
        registry.remove(job_id, delete_job=True)
    job = queue.enqueue(failing_job)
    from rq import SimpleWorker

    SimpleWorker([queue], connection=connection).work(burst=True)
    assert job.id in registry.get_job_ids()
    with queued.app_context():
        yield queued, job.id


def test_failed_job_is_listed_with_its_error_and_can_be_retried_from_the_portal(queued, db):
    queued_app, job_id = queued
    from tests.conftest import Portal

    admin = UserFactory(roles=["admin"])
    portal = Portal(queued_app.test_client())
    portal.login(admin.email, PASSWORD)
    html = portal.get("/admin/jobs").text
    assert "failing_job" in html and "carrier API said no" in html
    assert 'data-confirm="Delete this failed job?' in html

    detail = portal.get(f"/admin/jobs/{job_id}")
    assert "Traceback" in detail.text

    response = portal.post(f"/admin/jobs/{job_id}/retry")
    assert response.status_code == 302
    assert jobs.failed_jobs() == []
    assert jobs.get_queue("default").count == 1
    assert (
        db.session.scalar(select(AuditEntry).where(AuditEntry.action == "job.retried")).actor_id == admin.id
    )


def test_failed_jobs_api_lists_retries_and_deletes(queued, db):
    queued_app, job_id = queued
    admin = UserFactory(roles=["admin"])
    headers = {"Authorization": f"Bearer {make_token(admin, ['system.jobs'])}"}
    client = queued_app.test_client()

    listed = client.get("/api/v1/admin/jobs/failed", headers=headers)
    assert listed.status_code == 200
    assert [j["id"] for j in listed.get_json()] == [job_id]
    assert listed.get_json()[0]["error"].endswith("carrier API said no")

    assert client.delete(f"/api/v1/admin/jobs/failed/{job_id}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/admin/jobs/failed/{job_id}", headers=headers).status_code == 404


def test_failed_jobs_api_needs_the_jobs_scope(queued, db):
    queued_app, _ = queued
    admin = UserFactory(roles=["admin"])
    headers = {"Authorization": f"Bearer {make_token(admin, ['system.outbox'])}"}
    response = queued_app.test_client().get("/api/v1/admin/jobs/failed", headers=headers)
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"


def test_failed_jobs_api_says_clearly_when_jobs_run_inline(client, admin, app):
    if not app.config["JOBS_INLINE"]:
        pytest.skip("this app instance queues jobs")
    headers = {"Authorization": f"Bearer {make_token(admin, ['system.jobs'])}"}
    response = client.get("/api/v1/admin/jobs/failed", headers=headers)
    assert response.status_code == 409
    assert response.get_json()["code"] == "jobs_inline"
