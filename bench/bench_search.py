"""Claim: customer search by email or name prefix answers with a p95 under 30 ms at a
million customers (BENCH_SIZE=large), through the real API.

- figure (the claim): GET /api/v1/admin/customers?q=<query>&page_size=25 with a bearer
  token (scope customers.read, made by datagen), wrk with as many connections as gunicorn
  has workers (BENCH_WORKERS, 2): every search has a worker, none waits in a queue, so the
  p95 is what a search takes on a busy server. Queries rotate through QUERY_COUNT that
  people type (wrk_search.lua): surname beginnings drawn as often as the names are common
  ("jans", "müll", "van der b"), email beginnings of 4 to 7 digits ("customer0012" finds
  1,000 customers, "customer0012345" one), a first name with the beginning of a surname
  ("emma de v"). The API answers with the page and the total.
- baseline: /healthz through the same gunicorn in the same run, same connections (the
  app's fixed cost per request); the ratio is of the p95s.
- context (not the claim): the same two at BENCH_CONNECTIONS (16), 8 requests queued per
  worker: by Little's law the p95 there is about 16 / throughput, a figure of capacity.
- diagnosis: every query once more inside the app (customer_probe.py search: the API's
  page and total, timed per query), by kind of query, with every statement of the slowest
  one explained in the results file (notes.search); and PHONE_QUERY_COUNT searches of
  digits (part of a mobile number), which also look inside phone numbers.

What `q` runs (customers/search.py): the beginning of five keys (the name last name first,
the surname without particles first, first name first, the email, the company), each from
its own (key COLLATE "C", id) b-tree in best-match order, 25 rows a key for page 1, merged;
a total counted up to 500; "contains" only when nothing begins with the text.

Run alone (customers only, no catalog or orders: a minute to load):
`BENCH_SIZE=large BENCH_DATA=staff,api_token,customers .venv/bin/python bench/run.py search`.
"""

from __future__ import annotations

import random
import statistics
from urllib.parse import quote

import harness
import names
from customer_rows import COUNTRIES
from harness import Context, Figure

NAME = "search"
LIMIT_MS = 30.0
QUERY_COUNT = 240
SEARCH_SCRIPT = harness.BENCH_DIR / "wrk_search.lua"
PROBE = harness.BENCH_DIR / "customer_probe.py"
PATH = "/api/v1/admin/customers"


def surname_start(rng: random.Random, surname: str, shortest: int = 3) -> str:
    """How much of a surname someone types: its particles ("van der") and at least
    `shortest` letters of the rest (all of it, sometimes)."""
    *particles, core = surname.split(" ")
    typed = core[: rng.randint(min(shortest, len(core)), len(core))]
    return " ".join([*particles, typed])


def search_queries(customers: int, count: int = QUERY_COUNT, seed: int = 2027) -> list[tuple[str, str]]:
    """(kind, text) pairs, the same for every run of a size: half surname beginnings, a third
    email beginnings, the rest a first name and a surname's beginning. Names are drawn by
    how common they are, so common names are searched for more often, as they are."""
    rng = random.Random(seed)
    countries = [c for c, _ in COUNTRIES]
    weights = [w for _, w in COUNTRIES]
    queries = []
    for index in range(count):
        country = rng.choices(countries, weights)[0]
        surname = names.SURNAMES[country].pick(rng)
        kind = ("surname", "email", "full name")[0 if index % 6 < 3 else 1 if index % 6 < 5 else 2]
        if kind == "surname":
            text = surname_start(rng, surname, shortest=4 if " " not in surname else 2)
        elif kind == "email":
            digits = f"{rng.randint(1, customers):07d}"
            text = "customer" + digits[: rng.randint(4, 7)]
        else:
            text = f"{names.FIRST[country].pick(rng)} {surname_start(rng, surname, shortest=2)}"
        queries.append((kind, text if rng.random() < 0.5 else text.lower()))
    return queries


PHONE_QUERY_COUNT = 40


def phone_queries(count: int = PHONE_QUERY_COUNT, seed: int = 2028) -> list[tuple[str, str]]:
    """("phone", text) pairs for the diagnosis: part of a mobile number as people type it,
    with the trunk zero and spaces ("06 1234 5") or bare digits ("4512387"). Datagen gives
    seven customers in ten a mobile number (customer_rows.PHONES_SQL)."""
    rng = random.Random(seed)
    typed = []
    for index in range(count):
        digits = "".join(str(rng.randint(0, 9)) for _ in range(rng.randint(4, 7)))
        typed.append(("phone", f"06 {digits[:4]} {digits[4:]}".strip() if index % 2 else digits))
    return typed


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def diagnose(ctx: Context, queries: list[tuple[str, str]]) -> None:
    """Each query inside the app, by kind: how long the API's select and total take and how
    many customers they find. Logged, and kept in the results file."""
    lines = "\n".join(f"{kind}\t{text}" for kind, text in queries)
    result = ctx.run_script(PROBE, "search", env={"BENCH_SEARCH_PROBE": lines})
    ctx.notes[NAME] = result
    rows = result["queries"]
    for kind in ("surname", "email", "full name", "phone", None):
        picked = [r for r in rows if kind is None or r["class"] == kind]
        ms = [r["seconds"] * 1000 for r in picked]
        totals = [r["total"] for r in picked]
        harness.log(
            f"in the app, {kind or 'all'} ({len(picked)}): "
            f"select + total median {statistics.median(ms):.1f} ms, "
            f"p95 {percentile(ms, 0.95):.1f} ms, max {max(ms):.1f} ms; "
            f"matches median {statistics.median(totals):.0f}, max {max(totals)}"
        )
    slowest = sorted(rows, key=lambda r: r["seconds"], reverse=True)[:5]
    harness.log(
        "slowest: "
        + ", ".join(f"{r['q']!r} {r['seconds'] * 1000:.1f} ms ({r['total']} matches)" for r in slowest)
    )
    for number, plan in enumerate(result["slowest_plans"], 1):
        for line in plan:
            if "Scan" in line or "Execution Time" in line or "Sort" in line or "Append" in line:
                harness.log(f"slowest, statement {number}: {line.strip()}")


def run(ctx: Context) -> list[Figure]:
    token = ctx.secrets.get("api_token")
    if not token:
        raise harness.BenchError("datagen made no API token (secrets.api_token)")
    customers = ctx.data["loaded"]["customers"]
    queries = search_queries(customers)
    ctx.wrk_env["BENCH_API_TOKEN"] = token
    ctx.wrk_env["BENCH_SEARCH_QUERIES"] = "\n".join(quote(text) for _, text in queries)
    busy = ctx.settings.workers  # one request per worker: the server busy, nothing queued
    crowded = ctx.settings.connections
    healthz, search, healthz_crowded, search_crowded = ctx.load_many(
        [
            (f"healthz, {busy} connections", ctx.app_url("/healthz"), None, busy),
            (f"customer search, {busy} connections", ctx.app_url(PATH), SEARCH_SCRIPT, busy),
            ("healthz", ctx.app_url("/healthz")),
            ("customer search", ctx.app_url(PATH), SEARCH_SCRIPT),
        ]
    )
    diagnose(ctx, queries + phone_queries())
    valid = search.ok and healthz.ok
    under = search.p95_ms < LIMIT_MS
    note = f"p95 under {LIMIT_MS:.0f} ms: {'yes' if under else 'NO'}"
    return [
        Figure(
            bench=NAME,
            name=f"customer search p95 ({busy} connections = workers, {customers} customers)",
            measured=search.describe(),
            value=search.p95_ms,
            baseline_name=f"healthz p95, {busy} connections",
            baseline=healthz.describe(),
            baseline_value=healthz.p95_ms,
            ok=valid and under,
            note=note if valid else f"INVALID: errors under load; {note}",
        ),
        Figure(
            bench=NAME,
            name=f"customer search p95 ({crowded} connections: {crowded // busy} per worker queue, context)",
            measured=search_crowded.describe(),
            value=search_crowded.p95_ms,
            baseline_name=f"healthz p95, {crowded} connections",
            baseline=healthz_crowded.describe(),
            baseline_value=healthz_crowded.p95_ms,
            ok=search_crowded.ok and healthz_crowded.ok,
            note=f"{search_crowded.rate:.0f} searches/s; under {LIMIT_MS:.0f} ms: "
            f"{'yes' if search_crowded.p95_ms < LIMIT_MS else 'no'}",
        ),
    ]


if __name__ == "__main__":
    raise SystemExit(harness.main({NAME: run}))
