"""RQ worker running jobs inside the application context.

python worker.py                 # all queues, most urgent first
python worker.py email reports   # only these
python worker.py --burst         # drain the queues, then exit
"""

from __future__ import annotations

import argparse
import sys

from redis import Redis
from rq import Queue, Worker

from app import create_app
from app.core.jobs import QUEUES
from app.core.logging_setup import job_id_var
from app.extensions import db


class AppWorker(Worker):
    """Runs each job in a fresh app context (its own database session)."""

    flask_app = None

    def main_work_horse(self, job, queue):
        # The forked work horse must not share the parent's pooled database connections.
        with self.flask_app.app_context():
            db.engine.dispose(close=False)
        super().main_work_horse(job, queue)

    def perform_job(self, job, queue):
        token = job_id_var.set(job.id)
        try:
            with self.flask_app.app_context():
                return super().perform_job(job, queue)
        finally:
            job_id_var.reset(token)


def build_worker(app, queue_names, worker_class=AppWorker) -> Worker:
    connection = Redis.from_url(app.config["REDIS_URL"])
    queues = [Queue(name, connection=connection) for name in queue_names]
    worker_class.flask_app = app
    return worker_class(queues, connection=connection)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Run a background job worker.")
    parser.add_argument(
        "queues", nargs="*", default=list(QUEUES), help=f"queues to serve (default: {' '.join(QUEUES)})"
    )
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    args = parser.parse_args(argv)
    unknown = set(args.queues) - set(QUEUES)
    if unknown:
        parser.error(f"unknown queue(s) {', '.join(sorted(unknown))}; queues are {', '.join(QUEUES)}")
    app = create_app()
    if not app.config.get("REDIS_URL"):
        parser.error("REDIS_URL is not set: without Redis, jobs run inline and no worker is needed")
    worker = build_worker(app, args.queues)
    worker.work(burst=args.burst, with_scheduler=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
