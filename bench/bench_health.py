"""Claim: /healthz and /readyz serve load at 16 connections (throughput and p95).

- healthz vs hello: the same gunicorn serving a WSGI app that does nothing
  (bench/baseline_app.py). The ratio is the share of the machine's HTTP ceiling that
  Flask and the app's per-request work (request id, security headers, ...) leave.
- readyz vs hello: the same ceiling, for a request that also runs `SELECT 1` on
  PostgreSQL and a Redis PING.
- readyz vs healthz: what the two checks cost on top of the app's fixed per-request work.
- readyz vs pgbench SELECT 1 and vs redis-benchmark PING (16 clients each): the rate the
  two dependencies reach alone on this machine, the hard ceiling for /readyz.

Run alone: `.venv/bin/python bench/bench_health.py` (or all benches: `make bench`).
"""

from __future__ import annotations

import harness
from harness import Context, Figure

NAME = "health"


def run(ctx: Context) -> list[Figure]:
    hello, healthz, readyz = ctx.load_many(
        [
            ("hello", ctx.hello_url("/")),
            ("healthz", ctx.app_url("/healthz")),
            ("readyz", ctx.app_url("/readyz")),
        ]
    )
    postgres = ctx.pgbench_select1()
    redis = ctx.redis_ping()
    return [
        Figure.compare(NAME, "healthz", healthz, "hello", hello),
        Figure.compare(NAME, "readyz", readyz, "hello", hello),
        Figure.compare(NAME, "readyz", readyz, "healthz", healthz),
        Figure.compare(NAME, "readyz", readyz, "pgbench SELECT 1", postgres),
        Figure.compare(NAME, "readyz", readyz, "redis PING", redis),
    ]


if __name__ == "__main__":
    raise SystemExit(harness.main({NAME: run}))
