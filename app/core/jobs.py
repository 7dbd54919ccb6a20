"""Background jobs on RQ, with an inline fallback when there is no Redis.

`enqueue()` is the one way to start background work. Inside a transaction the job is
queued only after the commit (a worker must never pick up a job for rows it cannot
see yet). Without `REDIS_URL` the job runs inline in the same process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry

from app.core.errors import Conflict, NotFound, ServiceUnavailable
from app.core.transaction import on_commit

log = logging.getLogger(__name__)

# Named queues, most urgent first: a worker started without arguments drains them in this order.
QUEUES = ("high", "default", "email", "reports")
RETRY_INTERVALS = [10, 60, 300]  # seconds between attempts: back off, then give up


def jobs_inline() -> bool:
    return bool(current_app.config.get("JOBS_INLINE"))


def redis_connection() -> Redis:
    connection = current_app.extensions.get("redis")
    if connection is None:
        connection = Redis.from_url(current_app.config["REDIS_URL"])
        current_app.extensions["redis"] = connection
    return connection


def get_queue(name: str = "default") -> Queue:
    if name not in QUEUES:
        raise ValueError(f"unknown queue {name!r}; queues are {', '.join(QUEUES)}")
    return Queue(name, connection=redis_connection())


def enqueue(func: Callable, *args, queue: str = "default", retries: int = 3, **kwargs) -> None:
    """Run `func(*args, **kwargs)` in the background, after the current commit."""
    on_commit(lambda: _enqueue_now(func, args, kwargs, queue, retries))


def _enqueue_now(func, args, kwargs, queue, retries) -> None:
    if jobs_inline():
        log.info("running job %s inline", func.__qualname__)
        _run_inline(func, args, kwargs)
        return
    retry = Retry(max=retries, interval=RETRY_INTERVALS[:retries]) if retries else None
    try:
        # One round trip: RQ otherwise sends the queue's registration and the job apart.
        with redis_connection().pipeline() as pipe:
            get_queue(queue).enqueue(func, *args, retry=retry, pipeline=pipe, **kwargs)
            pipe.execute()
    except RedisError:
        # The use case already committed; rather than lose its follow-up work while
        # Redis is down, do it now in this process (jobs are idempotent).
        log.error("Redis unreachable: running job %s inline instead of queueing it", func.__qualname__)
        _run_inline(func, args, kwargs)


def _run_inline(func, args, kwargs) -> None:
    try:
        func(*args, **kwargs)
    except Exception:
        log.exception("inline job %s failed", func.__qualname__)


def require_queue() -> None:
    """Refuse, clearly, to inspect a queue that does not exist or cannot be reached."""
    if jobs_inline():
        raise Conflict("Jobs run inline on this installation; there is no queue.", code="jobs_inline")
    try:
        redis_connection().ping()
    except RedisError as exc:
        raise ServiceUnavailable("The job queue (Redis) cannot be reached right now.") from exc


@dataclass(frozen=True)
class FailedJob:
    id: str
    queue: str
    func_name: str
    args_repr: str
    error: str
    trace: str
    failed_at: datetime | None
    attempts_left: int


def describe_failed(job: Job, queue: str) -> FailedJob:
    trace = job.latest_result().exc_string if job.latest_result() else (job.exc_info or "")
    trace = trace or ""
    last_line = trace.strip().splitlines()[-1] if trace.strip() else "unknown error"
    return FailedJob(
        id=job.id,
        queue=queue,
        func_name=job.func_name,
        args_repr=", ".join([repr(a) for a in job.args] + [f"{k}={v!r}" for k, v in job.kwargs.items()]),
        error=last_line,
        trace=trace,
        failed_at=job.ended_at,
        attempts_left=job.retries_left or 0,
    )


def failed_jobs(limit: int = 200) -> list[FailedJob]:
    """Failed jobs across all queues, newest first."""
    connection = redis_connection()
    found: list[FailedJob] = []
    for name in QUEUES:
        registry = FailedJobRegistry(name, connection=connection)
        ids = registry.get_job_ids(0, limit - 1)
        for job in Job.fetch_many(ids, connection=connection):
            if job is not None:
                found.append(describe_failed(job, name))
    found.sort(key=lambda j: j.failed_at or datetime.min, reverse=True)
    return found[:limit]


def _failed_job(job_id: str) -> tuple[Job, FailedJobRegistry]:
    connection = redis_connection()
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError as exc:
        raise NotFound(f"No job {job_id}.") from exc
    registry = FailedJobRegistry(job.origin, connection=connection)
    if job_id not in registry.get_job_ids():
        raise NotFound(f"Job {job_id} is not in the failed-job registry.")
    return job, registry


def get_failed_job(job_id: str) -> FailedJob:
    job, _ = _failed_job(job_id)
    return describe_failed(job, job.origin)


def retry_failed_job(job_id: str) -> None:
    job, registry = _failed_job(job_id)
    registry.requeue(job)


def delete_failed_job(job_id: str) -> None:
    job, registry = _failed_job(job_id)
    registry.remove(job, delete_job=True)


def queue_sizes() -> dict[str, int]:
    return {name: get_queue(name).count for name in QUEUES}
