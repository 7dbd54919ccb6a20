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

# The segment: country, total spent above X, bought in category Y (with its
# sub-categories) within 90 days. Y is a top category of the generated catalog, found by
# its slug (catalog_rows.py: ids are dealt out as the tree is built).
CATEGORY_SLUG = "clothing"


def segment_rules(category_id: int) -> dict:
    return {
        "op": "and",
        "rules": [
            {"field": "country", "operator": "in", "value": ["NL", "BE"]},
            {"field": "total_spent", "operator": "gt", "value": "250"},
            {
                "field": "bought_in_category",
                "operator": "any_of",
                "value": {"categories": [category_id], "days": 90},
            },
        ],
    }


# The same question as someone would write it by hand: a paid order that was not
# cancelled, placed in the last 90 days, with a line of a product linked to the category
# or a category below it (its path starts with the category's path).
HAND_SQL = """
SELECT count(*)
FROM customers c
WHERE c.merged_into_id IS NULL
  AND c.country IN ('NL', 'BE')
  AND c.total_spent > 250
  AND EXISTS (
    SELECT 1
    FROM orders o JOIN order_lines l ON l.order_id = o.id
    WHERE o.customer_id = c.id
      AND o.paid_at IS NOT NULL AND o.status <> 'cancelled'
      AND o.placed_at >= now() - interval '90 days'
      AND l.product_id IN (
        SELECT pc.product_id
        FROM product_categories pc JOIN categories cat ON cat.id = pc.category_id
        WHERE cat.path LIKE '{path}%'
      )
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
    """count_members(segment_rules(Y)) and HAND_SQL, `repeats` times each after one warm-up
    of each, alternating which goes first so both see the same cache and background load."""
    from sqlalchemy import func, select, text

    from app.blueprints.catalog.models import Category
    from app.blueprints.customers import segments
    from app.blueprints.customers.models import Customer
    from app.blueprints.customers.segment_rules import compile_rules
    from app.blueprints.orders import customer_segments  # noqa: F401  (registers "bought in a category")
    from app.extensions import db

    category = db.session.execute(
        select(Category.id, Category.path).where(Category.slug == CATEGORY_SLUG)
    ).one()
    rules = segment_rules(category.id)
    # The path is the generator's own digits and slashes, inlined as a person would type it.
    hand_sql = HAND_SQL.format(path=category.path)

    def app_count():
        return segments.count_members(rules)

    def hand_count():
        return db.session.execute(text(hand_sql)).scalar_one()

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
        compile_rules(rules) & Customer.merged_into_id.is_(None)
    )
    app_sql = literal_sql(app_statement)
    return {
        "rules": rules,
        "repeats": repeats,
        "app_seconds": times["app"],
        "hand_seconds": times["hand"],
        "app_median": statistics.median(times["app"]),
        "hand_median": statistics.median(times["hand"]),
        "app_counts": sorted(counts["app"]),
        "hand_counts": sorted(counts["hand"]),
        "app_sql": app_sql,
        "hand_sql": hand_sql,
        "app_plan": explain(app_sql),
        "hand_plan": explain(hand_sql),
    }


def probe_search() -> dict:
    """Each query through the API's own page (25 customers in the order the API gives them
    and the total for the pagination header), twice: the second pass is timed, as in a
    long-running worker. Every statement of the slowest query's page is explained."""
    from sqlalchemy import event

    from app.blueprints.customers import api, queries
    from app.extensions import db

    queries_typed = [line.split("\t", 1) for line in os.environ["BENCH_SEARCH_PROBE"].splitlines() if line]

    def page(text: str):
        result = queries.customer_page(api.customer_filter({"q": text}), page=1, per_page=25)
        return result.total, len(result.items)

    results = []
    for timed_pass in (False, True):
        for kind, text in queries_typed:
            seconds, (total, shown) = timed(lambda text=text: page(text))
            db.session.rollback()
            if timed_pass:
                results.append({"class": kind, "q": text, "seconds": seconds, "total": total, "shown": shown})
    slowest = max(results, key=lambda r: r["seconds"])
    statements: list[tuple[str, object]] = []

    def keep(_conn, _cursor, statement, parameters, _context, _many):
        statements.append((statement, parameters))

    engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", keep)
    try:
        page(slowest["q"])
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    db.session.rollback()
    plans = []
    for statement, parameters in statements:
        plans.append(explain_bound(statement, parameters))
    return {"queries": results, "slowest": slowest, "slowest_plans": plans}


def explain_bound(statement: str, parameters) -> list[str]:
    """EXPLAIN ANALYZE of a statement as the driver sent it, with its parameters."""
    from app.extensions import db

    cursor = db.session.connection().connection.cursor()
    try:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters)
        return [row[0] for row in cursor.fetchall()]
    finally:
        cursor.close()
        db.session.rollback()


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
