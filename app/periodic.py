"""Every periodic job, registered in one place. Run by the scheduler:

    rq cron app.periodic --url $REDIS_URL      (or: make scheduler)

The scheduler only enqueues; workers (python worker.py) run the jobs in the app context.
"""

from rq import cron

from app.blueprints.customers.jobs import recompute_rfm_bands
from app.blueprints.inventory.jobs import check_low_stock
from app.blueprints.orders.jobs import expire_stale_carts
from app.blueprints.system.jobs import prune_outbox, record_scheduler_heartbeat
from app.core.idempotency import prune_idempotency_records

cron.register(record_scheduler_heartbeat, queue_name="high", interval=60)
cron.register(prune_outbox, queue_name="default", cron="17 3 * * *", kwargs={"days": 30})
# Low-stock alerts the movements did not raise or resolve (thresholds changed, levels that started low).
cron.register(check_low_stock, queue_name="default", cron="*/15 * * * *")
# Open carts nobody touched for CART_EXPIRY_DAYS are closed (they reserve nothing).
cron.register(expire_stale_carts, queue_name="default", cron="40 * * * *")
# Idempotency keys are kept IDEMPOTENCY_KEEP_HOURS (at least 24), then forgotten.
cron.register(prune_idempotency_records, queue_name="default", cron="25 * * * *")
# RFM bands rank customers against each other: recomputed for everyone, set-based, nightly.
cron.register(recompute_rfm_bands, queue_name="reports", cron="30 2 * * *")
