"""Generated customers for benchmarks: believable demographics and purchase figures,
written with COPY so a million rows take about a minute, in constant memory.

The spread follows what stores see: most customers in a few countries and big cities,
a long tail of small ones; names as common or as rare as in those countries (names.py);
a third never ordered; spend roughly log-normal. Dates are relative to the start of
today (UTC), so "ordered within 90 days" selects what it would in a live store.

Their orders (the purchase history the figures add up from) are purchase_rows.py's.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import names

COUNTRIES = [("NL", 40), ("DE", 20), ("BE", 12), ("FR", 10), ("GB", 8), ("ES", 5), ("IT", 5)]
CITIES = {
    "NL": ["Amsterdam", "Rotterdam", "Utrecht", "Den Haag", "Eindhoven", "Groningen", "Leiden", "Zwolle"],
    "DE": ["Berlin", "Hamburg", "München", "Köln", "Frankfurt", "Leipzig"],
    "BE": ["Antwerpen", "Gent", "Brussel", "Leuven", "Brugge"],
    "FR": ["Paris", "Lyon", "Lille", "Nantes", "Bordeaux"],
    "GB": ["London", "Manchester", "Bristol", "Leeds"],
    "ES": ["Madrid", "Barcelona", "Valencia"],
    "IT": ["Roma", "Milano", "Torino"],
}
LANGUAGES = {"NL": "nl", "DE": "de", "BE": "nl", "FR": "fr", "GB": "en", "ES": "es", "IT": "it"}
TAGS = ["vip", "wholesale", "newsletter", "returns-often", "b2b", "gift-buyer"]
# Customers who buy for a business and gave its name.
COMPANY_SHARE = 0.08
SOURCES = ["google", "instagram", "newsletter", "friend", "store", "tiktok"]
COLUMNS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "company",
    "date_of_birth",
    "gender",
    "country",
    "city",
    "language",
    "acquisition_source",
    "status",
    "preferred_channel",
    "preferred_categories",
    "preferred_brands",
    "created_at",
    "updated_at",
    "order_count",
    "total_spent",
    "average_order_value",
    "first_order_at",
    "last_order_at",
    "rfm_recency",
    "rfm_frequency",
    "rfm_monetary",
    "lifetime_value",
    "predicted_lifetime_value",
)
NOW = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def weighted(rng: random.Random, pairs):
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def band(value: float, edges: tuple[float, ...]) -> int:
    """1..5 by which of the four edges `value` passes."""
    return 1 + sum(value > edge for edge in edges)


def customer_row(index: int, rng: random.Random) -> tuple:
    country = weighted(rng, COUNTRIES)
    created = NOW - timedelta(days=rng.randint(0, 5 * 365), seconds=rng.randint(0, 86_399))
    orders = 0 if rng.random() < 0.33 else min(200, int(rng.paretovariate(1.6)))
    spent = round(sum(math.exp(rng.gauss(4.0, 0.6)) for _ in range(min(orders, 20))) * max(1, orders / 20), 2)
    first_order = created + timedelta(days=rng.randint(0, 30)) if orders else None
    last_order = (NOW - timedelta(days=int(rng.expovariate(1 / 120)))) if orders else None
    if last_order and first_order and last_order < first_order:
        last_order = first_order
    if orders == 1:
        first_order = last_order  # one order is the first and the last (purchase_rows.py reads these)
    days_since = (NOW - last_order).days if last_order else 10_000
    return (
        index,
        f"customer{index:07d}@bench.example.org",
        names.first_name(rng, country),
        names.last_name(rng, country),
        names.company(rng, country) if rng.random() < COMPANY_SHARE else None,
        date(1946, 1, 1) + timedelta(days=rng.randint(0, 60 * 365)),
        rng.choice([None, None, "female", "male", "non-binary"]),
        country,
        rng.choice(CITIES[country]),
        LANGUAGES[country],
        rng.choice(SOURCES),
        rng.choices(["active", "lead", "inactive", "blocked"], weights=[80, 12, 7, 1])[0],
        "email",
        "[]",
        "[]",
        created,
        created,
        orders,
        f"{spent:.2f}",
        f"{(spent / orders if orders else 0):.2f}",
        first_order,
        last_order,
        6 - band(days_since, (30, 90, 180, 365)) if orders else None,
        band(orders, (1, 2, 4, 8)) if orders else None,
        band(spent, (50, 150, 400, 1000)) if orders else None,
        f"{spent:.2f}",
        f"{spent * 1.3:.2f}",
    )


def rows(count: int, seed: int = 2026) -> Iterator[tuple]:
    rng = random.Random(seed)
    for index in range(1, count + 1):
        yield customer_row(index, rng)


def tag_rows(count: int, seed: int = 7) -> Iterator[tuple[int, str]]:
    rng = random.Random(seed)
    for customer_id in range(1, count + 1):
        for tag in rng.sample(TAGS, k=rng.choice([0, 0, 0, 1, 1, 2])):
            yield customer_id, tag


# The non-unique indexes of the loaded tables, with the statements that create them and the
# statistics targets of their columns (which pg_get_indexdef leaves out).
SECONDARY_INDEXES = """
SELECT c.relname, pg_get_indexdef(i.indexrelid),
       ARRAY(SELECT ARRAY[a.attnum, a.attstattarget] FROM pg_attribute a
             WHERE a.attrelid = i.indexrelid AND a.attstattarget >= 0)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid IN ('customers'::regclass, 'customer_tags'::regclass, 'customer_phones'::regclass)
  AND NOT i.indisunique
ORDER BY c.relname
"""


# A mobile number (E.164) for seven customers in ten, in their country's mobile range: what
# a search of digits ("06 1234", "612345") looks inside.
PHONES_SQL = """
INSERT INTO customer_phones (customer_id, number, kind)
SELECT id,
       CASE country WHEN 'NL' THEN '+316' WHEN 'DE' THEN '+4915' WHEN 'BE' THEN '+324'
                    WHEN 'FR' THEN '+336' WHEN 'GB' THEN '+447' WHEN 'ES' THEN '+346'
                    WHEN 'IT' THEN '+393' ELSE '+316' END
       || lpad(CAST(floor(random() * 100000000) AS bigint)::text, 8, '0'),
       'mobile'
FROM customers WHERE random() < 0.7 ORDER BY id
"""


def copy_customers(count: int) -> dict[str, int]:
    from sqlalchemy import text

    from app.extensions import db

    engine = db.engine
    if engine.dialect.name != "postgresql":
        raise SystemExit("the customer generator streams with COPY: point DATABASE_URL at PostgreSQL")
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            # Secondary indexes are dropped for the load and built again after it, as a bulk
            # import does: a million rows into the trigram GIN indexes one by one would take
            # minutes; built at once they take seconds. Unique indexes stay (they are rules).
            cursor.execute(SECONDARY_INDEXES)
            indexes = cursor.fetchall()
            for name, _definition, _statistics in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
            with cursor.copy(f"COPY customers ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows(count):
                    copy.write_row(row)
            tags = 0
            with cursor.copy("COPY customer_tags (customer_id, tag) FROM STDIN") as copy:
                for row in tag_rows(count):
                    copy.write_row(row)
                    tags += 1
            cursor.execute("SELECT setseed(0.2026)")  # the same numbers on every run
            cursor.execute(PHONES_SQL)
            phones = cursor.rowcount
            cursor.execute("SET maintenance_work_mem = '256MB'")
            for name, definition, statistics in indexes:
                cursor.execute(definition)
                for column, target in statistics:
                    cursor.execute(f'ALTER INDEX "{name}" ALTER COLUMN {column} SET STATISTICS {target}')
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as connection:
        # Ids were given explicitly: move the sequences past them for later inserts.
        for table in ("customers", "customer_tags", "customer_phones"):
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )
            )
    return {"customers": count, "customer_tags": tags, "customer_phones": phones}
