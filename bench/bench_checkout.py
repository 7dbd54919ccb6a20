"""Claim: storefront checkouts by 32 concurrent buyers, carts of 1 to 5 lines over 200
SKUs with limited stock, sustain at least 0.15 x pgbench TPC-B's TPS on the same machine,
with a p95 under 150 ms; and they never oversell, never leave an order without its stock,
and never make two orders of one Idempotency-Key.

- data (checkout_probe.py, inside the app, into the harness's database): the demo shipping
  zones and tax rates, 200 products of one variant in one warehouse, and thousands of
  guest carts of 1 to 5 lines (SKUs by popularity, 1 or 2 units each) with an address and
  a shipping method. Ten of the SKUs (in about a tenth of the carts) have a few units and
  sell out in the first seconds; the rest have enough. Making the carts is setup, timed
  apart: the first few through the cart services, the rest in bulk with the same values.
- figure: POST /api/v1/store/carts/<id>/checkout on the app's gunicorn, each with a fresh
  Idempotency-Key and the manual gateway, by BUYERS wrk connections (wrk_checkout.lua), each
  request the next prepared cart: checkouts per second (orders made, answers 201 that are
  not replays), and wrk's p50 / p95 / p99 over every answer. Checkouts refused because a
  SKU sold out (409 out_of_stock) are counted apart, as are the retries: every 20th cart
  is sent twice at once with the same key (a retry while the first still runs), which must
  answer 201 (a replay) or 409 idempotency_request_in_progress.
- baseline: pgbench's built-in TPC-B-like transaction, scale 1, -c BUYERS -j BENCH_THREADS,
  into a scratch database, alternating with the checkouts: BENCH_ROUNDS rounds of
  BENCH_DURATION / BENCH_ROUNDS seconds each (at least MIN_ROUND_SECONDS), after a warm-up
  of the checkouts, so both see the same background load. Claims: checkouts/s >=
  RATIO_FLOOR x TPS, p95 < P95_LIMIT_MS.
- diagnosis: during each checkout round, the CPU time the app's workers, PostgreSQL and
  the rest used, per request (from /proc; logged and in the results file with the rounds):
  the machine's time per checkout, and whose it is. And (checkout_probe.py profile, in
  the results file under notes.checkout) one checkout at a time in one process, its wall
  and CPU time, statements and transactions, and the app functions with the largest
  share of the CPU.
- ceilings: after the rounds, two requests every checkout costs the app more than, by
  BUYERS connections for one round each: a read of the rounds' carts (GET
  /api/v1/store/carts/<id>: the cart loaded, priced and answered as JSON;
  wrk_cart_read.lua) and /healthz (Flask answering without any work). For each, with
  PostgreSQL and the rest costing what they cost per checkout in the rounds, the
  machine's cores over (that app cost + PostgreSQL + the rest) is the most checkouts a
  second the machine could give if the app's part of a checkout cost no more, and BUYERS
  over that rate the least mean latency the buyers could see (Little's law: each waits
  for one answer after another). Logged, in the figures' notes and in the results file
  (notes.checkout.floors and .ceilings). The cart read asks availability too, which a
  checkout leaves to its reservation (one statement), so its ceiling is a little
  generous; the /healthz ceiling is out of reach of any checkout.
- verified in SQL afterwards: no stock level with more reserved than on hand, no order
  whose ledger reservation (the sum under "order:<id>") differs from its lines' quantities
  less their backorders (and no reservation without its order), at most one order per
  retried key (per cart: unique anyway) and one order per completed key, and as many orders
  as checkouts answered 201 (up to one in flight per connection when wrk stopped a run).
  Any of them failing, an unexpected answer (what would be a 500), or running out of
  prepared carts makes the figure fail.

Run alone: `.venv/bin/python bench/bench_checkout.py` (or `bench/run.py checkout`);
BENCH_SIZE=tiny keeps the harness's own data load short (the checkout data is its own).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics

import harness
from harness import Context, Figure, Measurement

# Read when the harness builds the app's environment, after every bench module is
# imported: one address must not be throttled at hundreds of checkouts a second.
os.environ.setdefault("CHECKOUT_RATE_LIMIT", "10000000 per minute")

NAME = "checkout"
BUYERS = 32
SKUS = 200
RATIO_FLOOR = 0.15
P95_LIMIT_MS = 150.0
# A round shorter than this would measure mostly its first and last requests: 32 buyers
# on 2 workers queue for seconds when a checkout takes tens of milliseconds. The warm-up
# is at least WARMUP_SECONDS too: the workers' first checkouts load code and caches.
MIN_ROUND_SECONDS = 10
MIN_WARMUP_SECONDS = 5
# Carts prepared per second of load (warm-up included): more than the app can check out
# on this machine, so a run never runs out of them.
CARTS_PER_SECOND = 150
PROFILED = 30  # checkouts timed, and as many profiled, by checkout_probe.py profile
PROFILE_CARTS = 5 + 2 * PROFILED
PROBE = harness.BENCH_DIR / "checkout_probe.py"
SCRIPT = harness.BENCH_DIR / "wrk_checkout.lua"
READ_SCRIPT = harness.BENCH_DIR / "wrk_cart_read.lua"
PGBENCH_DB = "crm_pgbench_checkout"
PGBENCH_FALLBACK = "/usr/lib/postgresql/15/bin/pgbench"
COUNTERS = ("created", "replayed", "in_progress", "out_of_stock", "other", "exhausted", "retries")

OVERSOLD_SQL = (
    "SELECT count(*), coalesce(sum(reserved - on_hand), 0) FROM stock_levels WHERE reserved > on_hand"
)
# The rest look only at what the runs made: orders and keys above the ids before them
# ({orders} and {keys}; the data set may hold a purchase history of its own).
BEFORE_SQL = (
    "SELECT (SELECT coalesce(max(id), 0) FROM orders), (SELECT coalesce(max(id), 0) FROM idempotency_records)"
)
# Orders whose reservation in the ledger is not what their lines say, and reservations
# of an order reference that has no order.
UNRESERVED_SQL = """
WITH wanted AS (
    SELECT 'order:' || o.id AS reference, l.variant_id, sum(l.quantity - l.backordered_quantity) AS units
    FROM orders o JOIN order_lines l ON l.order_id = o.id
    WHERE o.id > {orders}
    GROUP BY o.id, l.variant_id
), held AS (
    SELECT reference, variant_id, sum(reserved_delta) AS units
    FROM inventory_movements
    WHERE reference ~ '^order:[0-9]+$' AND CAST(substr(reference, 7) AS bigint) > {orders}
    GROUP BY reference, variant_id
)
SELECT
    (SELECT count(DISTINCT w.reference) FROM wanted w
     LEFT JOIN held h ON h.reference = w.reference AND h.variant_id = w.variant_id
     WHERE coalesce(h.units, 0) <> w.units),
    (SELECT count(*) FROM held h
     WHERE h.units <> 0 AND NOT EXISTS (SELECT 1 FROM orders o WHERE 'order:' || o.id = h.reference))
"""
ORDERS_SQL = """
WITH made AS (SELECT * FROM orders WHERE id > {orders}),
keys AS (SELECT * FROM idempotency_records WHERE id > {keys} AND resource LIKE 'order:%')
SELECT
    (SELECT count(*) FROM made),
    (SELECT count(*) FROM keys WHERE status = 'completed'),
    (SELECT count(*) FROM (SELECT resource FROM keys GROUP BY resource HAVING count(*) > 1) twice),
    (SELECT count(*) FROM made o WHERE NOT EXISTS (SELECT 1 FROM keys r WHERE r.resource = 'order:' || o.id))
"""
RETRIED_SQL = """
SELECT count(*) FILTER (WHERE orders > 1), count(*) FILTER (WHERE keys > 1), count(*)
FROM (
    SELECT c.token,
           (SELECT count(*) FROM orders o WHERE o.cart_id = c.id) AS orders,
           (SELECT count(*) FROM idempotency_records r WHERE r.key = 'bench-' || c.token) AS keys
    FROM carts c WHERE c.token IN ({tokens})
) per_key
"""


def pgbench_binary() -> str:
    return shutil.which("pgbench") or PGBENCH_FALLBACK


def pgbench_round(ctx: Context, seconds: int) -> dict:
    """One TPC-B run of `seconds` by BUYERS clients against the initialised scratch database."""
    host, port, user = ctx.settings.pg
    load = ["-c", str(BUYERS), "-j", str(ctx.settings.threads), "-T", str(seconds)]
    output = harness.run(
        [pgbench_binary(), *load, "-h", host, "-p", str(port), "-U", user, PGBENCH_DB], timeout=seconds + 120
    ).stdout

    def number(pattern: str) -> float:
        match = re.search(pattern, output)
        return float(match.group(1)) if match else 0.0

    tps = number(r"tps = ([\d.]+) \(without initial connection time\)")
    if not tps:
        raise harness.BenchError(f"pgbench printed no tps:\n{output}")
    return {
        "tps": tps,
        "rate": tps,
        "mean_ms": number(r"latency average = ([\d.]+) ms"),
        "count": int(number(r"number of transactions actually processed: (\d+)")),
        "errors": int(number(r"number of failed transactions: (\d+)")),
    }


def prepare_pgbench(ctx: Context) -> None:
    host, port, user = ctx.settings.pg
    harness.drop_database(ctx.settings, PGBENCH_DB)
    harness.psql(ctx.settings, f'CREATE DATABASE "{PGBENCH_DB}"')
    ctx.stack.callback(harness.drop_database, ctx.settings, PGBENCH_DB)
    harness.run(
        [pgbench_binary(), "-i", "-s", "1", "-q", "-h", host, "-p", str(port), "-U", user, PGBENCH_DB],
        timeout=300,
    )


def checkout_round(ctx: Context, label: str, seconds: int, carts: tuple[int, int], path) -> dict:
    """wrk with BUYERS connections for `seconds`, over carts[0] .. carts[0] + carts[1] - 1."""
    settings = ctx.settings
    url = harness.require_loopback(ctx.app_url("/"))
    threads = min(settings.threads, BUYERS)
    env = {
        **os.environ,
        "BENCH_CHECKOUT_CARTS": str(path),
        "BENCH_CHECKOUT_FIRST": str(carts[0]),
        "BENCH_CHECKOUT_COUNT": str(carts[1]),
        "BENCH_CHECKOUT_THREADS": str(threads),
    }
    load = f"-t{threads} -c{BUYERS} -d{seconds}s --timeout 5s".split()
    workers = ctx.app.workers()
    cpu_before = harness.cpu_seconds_by_kind(workers)
    output = harness.run(["wrk", *load, "-s", str(SCRIPT), url], timeout=seconds + 60, env=env).stdout
    cpu = {kind: used - cpu_before[kind] for kind, used in harness.cpu_seconds_by_kind(workers).items()}
    lines = {line.split(" ", 1)[0]: line for line in output.splitlines() if line[:1].isupper()}
    if "BENCH" not in lines or "CHECKOUT" not in lines:
        raise harness.BenchError(f"wrk printed no report for the checkouts:\n{output}")
    raw = {key: float(value) for key, value in (pair.split("=") for pair in lines["BENCH"].split()[1:])}
    counts = {key: int(value) for key, value in (pair.split("=") for pair in lines["CHECKOUT"].split()[1:])}
    duration = raw["duration_us"] / 1e6
    if duration < 0.9 * seconds:
        raise harness.BenchError(f"wrk ran {duration:.1f} s of {seconds} s ({label})")
    transport = sum(int(raw[k]) for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    requests = max(1, int(raw["requests"]))
    return {
        "label": label,
        "seconds": duration,
        "rate": counts["created"] / duration,
        "requests": int(raw["requests"]),
        "p50_ms": raw["p50_us"] / 1000,
        "p95_ms": raw["p95_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "mean_ms": raw["mean_us"] / 1000,
        "transport_errors": transport,
        **counts,
        "retried": lines.get("RETRIED", "RETRIED").split()[1:],
        "first_other": lines.get("OTHER", "")[6:],
        # Where the machine's time went, per answered request: the app's workers, PostgreSQL
        # and the rest (Redis, the system; not wrk, which has exited by the second reading).
        # What a checkout may cost follows from it.
        "cpu_ms_per_request": {kind: round(1000 * used / requests, 2) for kind, used in cpu.items()},
        "cpu_busy_share": round(sum(cpu.values()) / (duration * (os.cpu_count() or 1)), 3),
    }


def cost_round(ctx: Context, label: str, path: str, seconds: int, script, env=None) -> dict:
    """wrk with BUYERS connections against `path` for `seconds`, and what each request cost
    the app's workers, PostgreSQL and the rest in CPU."""
    workers = ctx.app.workers()
    cpu_before = harness.cpu_seconds_by_kind(workers)
    run = harness.wrk(label, ctx.app_url(path), ctx.settings, seconds, script, connections=BUYERS, env=env)
    cpu = {kind: used - cpu_before[kind] for kind, used in harness.cpu_seconds_by_kind(workers).items()}
    if not run.ok:
        raise harness.BenchError(f"the {label} failed: {run.errors} errors ({run.detail})")
    harness.settle(run)
    return {
        "rate": run.rate,
        "p95_ms": run.p95_ms,
        "requests": run.count,
        "cpu_ms_per_request": {kind: round(1000 * used / run.count, 2) for kind, used in cpu.items()},
    }


def floor_rounds(ctx: Context, seconds: int, carts: tuple[int, int], path) -> dict:
    """The app's cost of two requests every checkout is more than, under the same load: a
    read of the rounds' carts (loaded, priced, answered as JSON: carts[0] .. carts[0] +
    carts[1] - 1, in a loop) and /healthz (a request through Flask that does nothing)."""
    env = {
        "BENCH_CHECKOUT_CARTS": str(path),
        "BENCH_CHECKOUT_FIRST": str(carts[0]),
        "BENCH_CHECKOUT_COUNT": str(carts[1]),
        "BENCH_CHECKOUT_THREADS": str(min(ctx.settings.threads, BUYERS)),
    }
    return {
        "cart_read": cost_round(ctx, "cart reads", "/", seconds, READ_SCRIPT, env),
        "healthz": cost_round(ctx, "healthz", "/healthz", seconds, harness.WRK_SCRIPT),
    }


def ceiling(app_ms: float, rounds: list[dict], tpcb_rate: float) -> dict:
    """The most checkouts a second this machine could give if a checkout cost the app
    `app_ms` of CPU, and PostgreSQL and the rest what they cost per checkout in the rounds:
    the machine's cores over the sum. Each of the BUYERS buyers waits for one answer after
    another, so their mean latency is at least BUYERS over that rate (Little's law), and a
    fair queue's p95 is above its mean."""
    per_checkout = {
        kind: statistics.median(r["cpu_ms_per_request"][kind] for r in rounds)
        for kind in ("postgres", "other")
    }
    floor_ms = app_ms + per_checkout["postgres"] + per_checkout["other"]
    rate = 1000 * (os.cpu_count() or 1) / floor_ms
    return {
        "app_ms": app_ms,
        "postgres_ms": per_checkout["postgres"],
        "other_ms": per_checkout["other"],
        "machine_ms": round(floor_ms, 2),
        "checkouts_per_second": round(rate, 1),
        "ratio": round(rate / tpcb_rate, 3) if tpcb_rate else None,
        "mean_latency_ms": round(1000 * BUYERS / rate, 1),
    }


def ceilings(floors: dict, rounds: list[dict], tpcb_rate: float) -> dict:
    """`ceiling` with the app's part of a checkout as cheap as a cart read, then as /healthz."""
    return {
        name: ceiling(run["cpu_ms_per_request"]["app"], rounds, tpcb_rate) for name, run in floors.items()
    }


def sql_row(ctx: Context, sql: str) -> list[int]:
    return [int(value) for value in harness.psql(ctx.settings, sql, database=ctx.database).strip().split("|")]


def verify(ctx: Context, rounds: list[dict], before: dict[str, int]) -> dict:
    """The SQL checks of the module docstring, over everything the runs did."""
    oversold_levels, oversold_units = sql_row(ctx, OVERSOLD_SQL)
    unreserved_orders, orphan_reservations = sql_row(ctx, UNRESERVED_SQL.format(**before))
    orders, completed_keys, keys_sharing_an_order, orders_without_key = sql_row(
        ctx, ORDERS_SQL.format(**before)
    )
    retried = sorted({token for run in rounds for token in run["retried"]})
    duplicate_orders = duplicate_keys = checked = 0
    if retried:
        quoted = ", ".join(f"'{token}'" for token in retried if re.fullmatch(r"[\w-]+", token))
        duplicate_orders, duplicate_keys, checked = sql_row(ctx, RETRIED_SQL.format(tokens=quoted))
    answered = sum(run["created"] for run in rounds)
    in_flight = BUYERS * len(rounds)  # at most one unanswered checkout per connection per run
    return {
        "oversold_levels": oversold_levels,
        "oversold_units": oversold_units,
        "orders_without_their_reservation": unreserved_orders,
        "reservations_without_their_order": orphan_reservations,
        "orders": orders,
        "answered_201_new": answered,
        "orders_not_answered": orders - answered,
        "orders_not_answered_limit": in_flight,
        "completed_keys": completed_keys,
        "keys_sharing_an_order": keys_sharing_an_order,
        "orders_without_a_key": orders_without_key,
        "retried_keys": checked,
        "retried_keys_with_two_orders": duplicate_orders,
        "retried_keys_stored_twice": duplicate_keys,
        "consistent": oversold_levels == 0
        and unreserved_orders == 0
        and orphan_reservations == 0
        and keys_sharing_an_order == 0
        and orders_without_key == 0
        and duplicate_orders == 0
        and duplicate_keys == 0
        and 0 <= orders - answered <= in_flight,
    }


def run(ctx: Context) -> list[Figure]:
    settings = ctx.settings
    seconds = max(MIN_ROUND_SECONDS, round(settings.duration / settings.rounds))
    warmup = max(MIN_WARMUP_SECONDS, settings.warmup)
    per_round = CARTS_PER_SECOND * seconds
    warmup_carts = CARTS_PER_SECOND * warmup
    profile_first = warmup_carts + per_round * settings.rounds
    total_carts = profile_first + PROFILE_CARTS
    path = harness.RESULTS_DIR / f".checkout-carts-{os.getpid()}.txt"
    ctx.stack.callback(path.unlink, missing_ok=True)
    shop = ctx.run_script(
        PROBE,
        "setup",
        "--skus",
        str(SKUS),
        "--carts",
        str(total_carts),
        "--out",
        str(path),
        timeout=900,
    )
    harness.log(
        f"checkout shop: {shop['skus']} SKUs ({shop['scarce_skus']} scarce), {shop['units_stocked']} "
        f"units; {shop['carts']} carts ({shop['service_carts']} through the cart services, "
        f"{shop['ms_per_service_cart']} ms each; the rest in bulk, {shop['bulk_carts_seconds']} s)"
    )
    prepare_pgbench(ctx)
    harness.log(f"{PGBENCH_DB} initialised (scale 1)")

    before = dict(zip(("orders", "keys"), sql_row(ctx, BEFORE_SQL), strict=True))
    if ctx.before_load_memory is None:
        ctx.before_load_memory = ctx.app.memory()
    runs = []  # every wrk run, the warm-up too: the SQL checks cover all their orders
    runs.append(checkout_round(ctx, "checkout warm-up", warmup, (0, warmup_carts), path))
    harness.settle(Measurement("warm-up", "wrk", 0, "", mean_ms=runs[-1]["mean_ms"]))
    tpcb_rounds, rounds = [], []
    for index in range(settings.rounds):
        tpcb_rounds.append(pgbench_round(ctx, seconds))
        ctx.app.reset_peaks()
        first = warmup_carts + index * per_round
        rounds.append(checkout_round(ctx, f"checkout round {index + 1}", seconds, (first, per_round), path))
        ctx.app_memory[f"checkout round {index + 1}"] = ctx.app.memory()
        harness.settle(Measurement("round", "wrk", 0, "", mean_ms=rounds[-1]["mean_ms"]))
        cpu = rounds[-1]["cpu_ms_per_request"]
        harness.log(
            f"round {index + 1}: pgbench {tpcb_rounds[-1]['tps']:.0f} tps, checkouts "
            f"{rounds[-1]['rate']:.0f}/s (p95 {rounds[-1]['p95_ms']:.0f} ms, "
            f"{rounds[-1]['out_of_stock']} out of stock); CPU per request: app {cpu['app']} ms, "
            f"PostgreSQL {cpu['postgres']} ms, other {cpu['other']} ms "
            f"({rounds[-1]['cpu_busy_share']:.0%} of the machine busy)"
        )
    runs += rounds
    # The floors: the rounds' carts read again (checked out now, priced all the same), /healthz.
    floors = floor_rounds(ctx, seconds, (warmup_carts, per_round * settings.rounds), path)
    for name, run in floors.items():
        cpu = run["cpu_ms_per_request"]
        harness.log(
            f"{name} ({BUYERS} connections): {run['rate']:.0f}/s, p95 {run['p95_ms']:.0f} ms; CPU per "
            f"request: app {cpu['app']} ms, PostgreSQL {cpu['postgres']} ms, other {cpu['other']} ms"
        )
    # The diagnosis: checkouts one at a time inside one process, timed and profiled.
    diagnosis = ctx.run_script(
        PROBE,
        "profile",
        "--carts",
        str(path),
        "--first",
        str(profile_first),
        "--count",
        str(PROFILED),
        timeout=600,
    )
    harness.log(
        f"one checkout at a time in one process: {diagnosis['wall_ms_per_checkout']} ms "
        f"({diagnosis['cpu_ms_per_checkout']} ms of CPU), {diagnosis['statements_per_checkout']} "
        f"statements in {diagnosis['transactions_per_checkout']} transactions"
    )
    runs.append(
        {**dict.fromkeys(COUNTERS, 0), **{k: diagnosis[k] for k in ("created", "out_of_stock", "other")}}
    )
    runs[-1].update(retried=[], transport_errors=0, first_other="", label="profile")
    check = verify(ctx, runs, before)
    tpcb, measured = measurements(ctx, tpcb_rounds, rounds)
    best = ceilings(floors, rounds, tpcb.rate)
    for name, bound in best.items():
        costs = f"app {bound['app_ms']} ms, PostgreSQL {bound['postgres_ms']} ms, rest {bound['other_ms']} ms"
        harness.log(
            f"ceiling if a checkout cost the app what a {name.replace('_', ' ')} does ({costs}): "
            f"{bound['machine_ms']} ms of machine time, at most {bound['checkouts_per_second']:.0f} "
            f"checkouts/s on {os.cpu_count()} cores (ratio {bound['ratio']}), mean latency at least "
            f"{bound['mean_latency_ms']:.0f} ms"
        )
    totals = {name: sum(run[name] for run in runs) for name in COUNTERS}
    ctx.notes[NAME] = {
        "shop": shop,
        "runs": [{k: v for k, v in run.items() if k != "retried"} for run in runs],
        "totals": totals,
        "check": check,
        "diagnosis": diagnosis,
        "floors": floors,
        "ceilings": best,
    }
    harness.log(
        f"answers: {totals['created']} orders, {totals['out_of_stock']} out of stock, "
        f"{totals['retries']} keys sent twice ({totals['replayed']} replays, {totals['in_progress']} "
        f"in progress), {totals['other']} unexpected"
    )
    harness.log(
        "checked in SQL: "
        f"{check['oversold_units']} units oversold ({check['oversold_levels']} levels), "
        f"{check['orders_without_their_reservation']} orders without their reservation, "
        f"{check['reservations_without_their_order']} reservations without their order, "
        f"{check['retried_keys_with_two_orders']} of {check['retried_keys']} retried keys with two orders, "
        f"{check['keys_sharing_an_order']} orders under two keys; {check['orders']} orders for "
        f"{check['answered_201_new']} answers 201"
    )
    problems = []
    if totals["other"] or any(run["transport_errors"] for run in runs):
        first = next((run["first_other"] for run in runs if run["first_other"]), "")
        problems.append(f"{totals['other']} unexpected answers ({first})")
    if totals["exhausted"]:
        problems.append(f"ran out of prepared carts ({totals['exhausted']} requests): INVALID")
    if not check["consistent"]:
        problems.append(f"INCONSISTENT: {check}")
    if not tpcb.ok:
        problems.append("pgbench had errors")
    ratio = measured.rate / tpcb.rate if tpcb.rate else 0.0
    p95 = measured.p95_ms or 0.0
    zero = "0 oversold, 0 orders without stock, 0 duplicate orders"
    return [
        Figure(
            bench=NAME,
            name=f"checkouts/s ({BUYERS} buyers, 1-5 lines, {SKUS} SKUs)",
            measured=f"{measured.describe()}, p50 {statistics.median(r['p50_ms'] for r in rounds):.0f} ms, "
            f"p99 {statistics.median(r['p99_ms'] for r in rounds):.0f} ms, "
            f"{sum(r['out_of_stock'] for r in rounds)} out of stock" + ("" if problems else f", {zero}"),
            value=measured.rate,
            baseline_name=f"pgbench TPC-B (scale 1, {BUYERS} clients)",
            baseline=tpcb.describe(),
            baseline_value=tpcb.rate,
            ok=not problems and ratio >= RATIO_FLOOR,
            note="; ".join(
                [
                    *problems,
                    f"ratio {'at least' if ratio >= RATIO_FLOOR else 'UNDER'} {RATIO_FLOOR}",
                    f"ceiling if the app's work were a cart read: ratio {best['cart_read']['ratio']}, "
                    f"a /healthz: {best['healthz']['ratio']}",
                ]
            ),
        ),
        Figure(
            bench=NAME,
            name=f"checkout p95 ({BUYERS} buyers)",
            measured=f"{p95:.1f} ms",
            value=p95,
            baseline_name="limit",
            baseline=f"{P95_LIMIT_MS:.0f} ms",
            baseline_value=P95_LIMIT_MS,
            ok=not problems and p95 < P95_LIMIT_MS,
            note=f"{'under' if p95 < P95_LIMIT_MS else 'OVER'} the limit; mean latency at least "
            f"{best['cart_read']['mean_latency_ms']:.0f} ms if the app's work were a cart read, "
            f"{best['healthz']['mean_latency_ms']:.0f} ms if a /healthz",
        ),
    ]


def measurements(
    ctx: Context, tpcb_rounds: list[dict], rounds: list[dict]
) -> tuple[Measurement, Measurement]:
    transactions = sum(r["count"] for r in tpcb_rounds)
    tpcb = Measurement(
        label=f"pgbench TPC-B (scale 1, {BUYERS} clients)",
        tool="pgbench",
        rate=sum(r["tps"] for r in tpcb_rounds) / len(tpcb_rounds),
        unit="tps",
        mean_ms=sum(r["mean_ms"] * r["count"] for r in tpcb_rounds) / transactions if transactions else None,
        count=transactions,
        errors=sum(r["errors"] for r in tpcb_rounds),
        detail={"script": "tpcb-like (built in)", "scale": 1, "rounds": tpcb_rounds},
    )
    created = sum(r["created"] for r in rounds)
    measured = Measurement(
        label=f"checkouts, {BUYERS} buyers",
        tool="wrk",
        rate=created / sum(r["seconds"] for r in rounds),
        unit="checkouts/s",
        p95_ms=statistics.median(r["p95_ms"] for r in rounds),
        mean_ms=sum(r["mean_ms"] * r["requests"] for r in rounds)
        / max(1, sum(r["requests"] for r in rounds)),
        count=created,
        errors=sum(r["other"] + r["transport_errors"] + r["exhausted"] for r in rounds),
        detail={"rounds": [{k: v for k, v in r.items() if k != "retried"} for r in rounds]},
    )
    for measurement in (tpcb, measured):
        ctx.measurements[measurement.label] = measurement
        harness.log(f"{measurement.label}: {measurement.describe()}")
    return tpcb, measured


if __name__ == "__main__":
    raise SystemExit(harness.main({NAME: run}))
