"""When Redis is down or absent, pages degrade with a clear message, never a 500."""

import pytest

from app import create_app
from app.core.mail import send_mail
from app.core.models import OutboxMessage
from app.core.timeutil import utcnow
from app.core.transaction import transaction
from tests.conftest import Portal
from tests.factories.auth import PASSWORD, UserFactory


@pytest.fixture
def redis_down(app, unused_tcp_port):
    broken = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL=f"redis://127.0.0.1:{unused_tcp_port}/0",
        JOBS_INLINE=False,
    )
    with broken.app_context():
        yield broken


def admin_portal_on(flask_app):
    admin = UserFactory(roles=["admin"])
    portal = Portal(flask_app.test_client())
    portal.login(admin.email, PASSWORD)
    return portal


def test_dashboard_shows_the_queue_outage_instead_of_failing(db, redis_down):
    portal = admin_portal_on(redis_down)
    page = portal.get("/")
    assert page.status_code == 200
    assert "cannot be reached" in page.text


def test_jobs_page_and_api_answer_503_when_redis_is_down(db, redis_down):
    from tests.factories.auth import make_token

    portal = admin_portal_on(redis_down)
    assert portal.get("/admin/jobs").status_code == 503
    admin = UserFactory(roles=["admin"])
    response = redis_down.test_client().get(
        "/api/v1/admin/jobs/failed", headers={"Authorization": f"Bearer {make_token(admin, ['system.jobs'])}"}
    )
    assert response.status_code == 503 and response.mimetype == "application/problem+json"


def test_mail_is_still_delivered_inline_when_redis_is_down(db, redis_down):
    from sqlalchemy import select

    with redis_down.test_request_context(), transaction():
        mail = send_mail("ops@example.com", "Outage", "test_message", sent_by="Ops", sent_at=utcnow())
    assert db.session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == mail.message_id))


def test_retrying_a_job_without_a_queue_is_a_clear_409_not_a_500(admin_portal, app):
    if not app.config["JOBS_INLINE"]:
        pytest.skip("this app instance queues jobs")
    response = admin_portal.post("/admin/jobs/some-id/retry")
    assert response.status_code == 409 and "inline" in response.text
    assert admin_portal.post("/admin/jobs/some-id/delete").status_code == 409
