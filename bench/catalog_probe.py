"""Look inside the storefront product list against the bench database: for each URL,
the statements the API runs (counted and timed, second pass, when psycopg has prepared
them) and the plan of each (EXPLAIN ANALYZE). Run by bench_catalog.py with the app's
environment, like datagen.py; prints one JSON line.

    BENCH_CATALOG_PROBE="<url>\\n<url>" catalog_probe.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPEATS = 20


def probe(client, engine, url: str) -> dict:
    from sqlalchemy import event

    statements: list[tuple[str, object, float]] = []
    started: dict[int, float] = {}

    def before(conn, _cursor, _statement, _parameters, _context, _many):
        started[id(conn)] = time.perf_counter()

    def after(conn, _cursor, statement, parameters, _context, _many):
        statements.append((statement, parameters, time.perf_counter() - started.pop(id(conn))))

    for _ in range(3):  # warm: compiled-statement caches, prepared statements
        client.get(url)
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    seconds = []
    try:
        for _ in range(REPEATS):
            statements.clear()
            begun = time.perf_counter()
            response = client.get(url)
            seconds.append(time.perf_counter() - begun)
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    plans = []
    with engine.connect() as connection:
        cursor = connection.connection.cursor()
        for statement, parameters, took in statements:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters)
            plans.append(
                {
                    "sql": statement[:2000],
                    "ms": round(took * 1000, 2),
                    "plan": [row[0] for row in cursor.fetchall()],
                }
            )
    return {
        "url": url,
        "status": response.status_code,
        "x_pagination": response.headers.get("X-Pagination"),
        "statements": len(statements),
        "median_ms": round(statistics.median(seconds) * 1000, 2),
        "statement_plans": plans,
    }


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from app import create_app
    from app.extensions import db

    # Every request computed (no answer cache) and never throttled: the probe is about the SQL.
    app = create_app(STORE_API_CACHE_SECONDS=0, STORE_API_RATE_LIMIT="1000000 per minute")
    urls = [line for line in os.environ.get("BENCH_CATALOG_PROBE", "").splitlines() if line]
    with app.app_context():
        client = app.test_client()
        results = [probe(client, db.engine, url) for url in urls]
    print(json.dumps({"probes": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
