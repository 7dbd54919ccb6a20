"""Periodic jobs are registered in one place and do what they say."""

from datetime import timedelta

from rq.cron import CronScheduler
from sqlalchemy import func, select

from app.blueprints.system.jobs import prune_outbox
from app.core.models import OutboxMessage
from app.core.timeutil import utcnow


def test_scheduler_config_registers_the_periodic_jobs(redis_url):
    from redis import Redis

    scheduler = CronScheduler(connection=Redis.from_url(redis_url))
    scheduler.load_config_from_file("app.periodic")
    registered = {job.func_name: job for job in scheduler.get_jobs()}
    assert "app.blueprints.system.jobs.record_scheduler_heartbeat" in registered
    assert "app.blueprints.system.jobs.prune_outbox" in registered
    assert registered["app.blueprints.system.jobs.prune_outbox"].cron == "17 3 * * *"


def test_prune_outbox_deletes_only_old_mail(db):
    def message(n, age_days):
        return OutboxMessage(
            message_id=f"<{n}@test>",
            created_at=utcnow() - timedelta(days=age_days),
            sender="a@example.com",
            recipients="b@example.com",
            subject=f"m{n}",
            text_body="t",
            html_body="h",
        )

    db.session.add_all([message(1, 45), message(2, 31), message(3, 2)])
    db.session.flush()
    assert prune_outbox(days=30) == 2
    assert prune_outbox(days=30) == 0  # idempotent
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 1
