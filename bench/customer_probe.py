"""Time the customers domain's queries inside the app, against the bench database.

Run by bench_segments.py and bench_search.py as a child process with the app's environment
(DATABASE_URL of the bench database), like datagen.py; prints one JSON line.

    customer_probe.py segment --repeats 7   # count_members(rules) vs the hand-written SQL
    customer_probe.py search                # the API's list select for each query in
                                            # BENCH_SEARCH_PROBE (kind<TAB>text lines)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The segment with the rules that exist today. "Bought in category Y within 90 days"
# needs orders, which do not exist yet; "has the tag vip or ordered within 90 days" stands in
# for that third rule (an EXISTS over a child table OR-ed with an indexed column).
SEGMENT_RULES = {
    "op": "and",
    "rules": [
        {"field": "country", "operator": "in", "value": ["NL", "BE"]},
        {"field": "total_spent", "operator": "gte", "value": "250"},
        {
            "op": "or",
            "rules": [
                {"field": "tags", "operator": "has_any", "value": ["vip"]},
                {"field": "last_order_within_days", "operator": "eq", "value": 90},
            ],
        },
    ],
}

# The same question as someone would write it by hand.
HAND_SQL = """
SELECT count(*)
FROM customers c
WHERE c.merged_into_id IS NULL
  AND c.country IN ('NL', 'BE')
  AND c.total_spent >= 250
  AND (
    EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id AND t.tag = 'vip')
    OR c.last_order_at >= now() - interval '90 days'
  )
""".strip()


def timed(call) -> tuple[float, object]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def literal_sql(statement) -> str:
    """The statement as PostgreSQL gets it, values inlined (named paramstyle: no doubled percent signs)."""
    from sqlalchemy.dialects import postgresql

    dialect = postgresql.dialect(paramstyle="named")
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def explain(sql: str) -> list[str]:
    """EXPLAIN ANALYZE of our own SQL, sent as it is (no parameters, so no placeholders)."""
    from app.extensions import db

    cursor = db.session.connection().connection.cursor()
    try:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return [row[0] for row in cursor.fetchall()]
    finally:
        cursor.close()


def probe_segment(repeats: int) -> dict:
    """count_members(SEGMENT_RULES) and HAND_SQL, `repeats` times each after one warm-up
    of each, alternating which goes first so both see the same cache and background load."""
    from sqlalchemy import func, select, text

    from app.blueprints.customers import segments
    from app.blueprints.customers.models import Customer
    from app.blueprints.customers.segment_rules import compile_rules
    from app.extensions import db

    def app_count():
        return segments.count_members(SEGMENT_RULES)

    def hand_count():
        return db.session.execute(text(HAND_SQL)).scalar_one()

    times: dict[str, list[float]] = {"app": [], "hand": []}
    counts: dict[str, set] = {"app": set(), "hand": set()}
    for index in range(repeats + 1):
        order = [("app", app_count), ("hand", hand_count)]
        for name, call in order if index % 2 else reversed(order):
            seconds, count = timed(call)
            counts[name].add(count)
            if index:  # the first round warms up
                times[name].append(seconds)
        db.session.rollback()
    app_statement = select(func.count(Customer.id)).where(
        compile_rules(SEGMENT_RULES) & Customer.merged_into_id.is_(None)
    )
    app_sql = literal_sql(app_statement)
    return {
        "rules": SEGMENT_RULES,
        "repeats": repeats,
        "app_seconds": times["app"],
        "hand_seconds": times["hand"],
        "app_median": statistics.median(times["app"]),
        "hand_median": statistics.median(times["hand"]),
        "app_counts": sorted(counts["app"]),
        "hand_counts": sorted(counts["hand"]),
        "app_sql": app_sql,
        "hand_sql": HAND_SQL,
        "app_plan": explain(app_sql),
        "hand_plan": explain(HAND_SQL),
    }


def probe_search() -> dict:
    """Each query through the API's own select and pagination (the list page of 25 and its
    total), twice: the second pass is timed, when psycopg prepares the statement and
    PostgreSQL may have settled on a generic plan, as in a long-running worker."""
    from sqlalchemy import func, select

    from app.blueprints.customers import api
    from app.extensions import db

    queries = [line.split("\t", 1) for line in os.environ["BENCH_SEARCH_PROBE"].splitlines() if line]

    def page(text: str):
        query = api.customer_list_query({"q": text, "sort": "-created_at"})
        result = db.paginate(query, page=1, per_page=25, error_out=False)
        return result.total, len(result.items)

    results = []
    for timed_pass in (False, True):
        for kind, text in queries:
            seconds, (total, shown) = timed(lambda text=text: page(text))
            db.session.rollback()
            if timed_pass:
                results.append({"class": kind, "q": text, "seconds": seconds, "total": total, "shown": shown})
    slowest = max(results, key=lambda r: r["seconds"])
    query = api.customer_list_query({"q": slowest["q"], "sort": "-created_at"})
    count = select(func.count()).select_from(query.order_by(None).subquery())
    return {
        "queries": results,
        "slowest": slowest,
        "slowest_count_plan": explain(literal_sql(count)),
        "slowest_page_plan": explain(literal_sql(query.limit(25))),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["segment", "search"])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from app import create_app

    app = create_app()
    with app.app_context():
        result = probe_segment(args.repeats) if args.what == "segment" else probe_search()
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
