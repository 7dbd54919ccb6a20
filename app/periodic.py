"""Every periodic job, registered in one place. Run by the scheduler:

    rq cron app.periodic --url $REDIS_URL      (or: make scheduler)

The scheduler only enqueues; workers (python worker.py) run the jobs in the app context.
"""

from rq import cron

from app.blueprints.system.jobs import prune_outbox, record_scheduler_heartbeat

cron.register(record_scheduler_heartbeat, queue_name="high", interval=60)
cron.register(prune_outbox, queue_name="default", cron="17 3 * * *", kwargs={"days": 30})
