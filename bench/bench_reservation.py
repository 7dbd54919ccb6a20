"""Claim: reservation throughput on one hot SKU under 16 concurrent clients, with zero
oversell, reported beside pgbench TPC-B TPS on the same machine.

- figure: reservations per second of one SKU by BENCH_CONNECTIONS (16) client processes,
  each with its own app, session and PostgreSQL connection, each reservation its own
  transaction through `inventory.reservations.reserve()` (the conditional UPDATE, the
  ledger row, the follow-ups, the commit), for BENCH_DURATION seconds
  (reservation_probe.py). Every reservation takes one unit of the same stock level, so
  they all queue for that one row lock: the claim's worst case.
- baseline: pgbench's built-in TPC-B-like transaction at scale 1 with the same number of
  clients (-c 16 -j BENCH_THREADS) into a scratch database: five statements per
  transaction, each transaction updating the one branch row, so it too queues on one hot
  row. The ratio says what the app (Python, the ORM, the service's checks) costs over
  the database's own floor for hot-row transactions.
- the two alternate: BENCH_ROUNDS rounds of BENCH_DURATION / BENCH_ROUNDS seconds each,
  pgbench then the reservations, so both see the same background load.
- zero oversell: after the timed phase the level's reserved units equal the reservations
  the clients were told succeeded and the allocation rows in the ledger; then a sell-out
  phase races the same clients for 1,000 units of a second SKU until each is refused
  several times in a row: exactly 1,000 must be reserved. Any oversell, ledger mismatch or
  unexpected error (what would be a 500) makes the figure fail.

The probe gets its own scratch database (crm_bench_resv, migrated, dropped at the end) so
the data set of the other benches is untouched; pgbench initialises crm_pgbench.

Run alone: `.venv/bin/python bench/bench_reservation.py` (or `bench/run.py reservation`).
"""

from __future__ import annotations

import re
import shutil
import statistics

import harness
from harness import Context, Figure, Measurement

NAME = "reservation"
PROBE = harness.BENCH_DIR / "reservation_probe.py"
RESERVATION_DB = "crm_bench_resv"
PGBENCH_DB = "crm_pgbench"
SELLOUT_UNITS = 1000
PGBENCH_FALLBACK = "/usr/lib/postgresql/15/bin/pgbench"


def scratch_database(ctx: Context, name: str) -> str:
    """An empty database `name`, dropped again when the run ends."""
    harness.drop_database(ctx.settings, name)
    harness.psql(ctx.settings, f'CREATE DATABASE "{name}"')
    ctx.stack.callback(harness.drop_database, ctx.settings, name)
    return f"{ctx.settings.pg_url.rstrip('/')}/{name}"


def pgbench_round(ctx: Context, seconds: int) -> dict:
    """One TPC-B run of `seconds` against the initialised crm_pgbench."""
    settings = ctx.settings
    host, port, user = settings.pg
    load = ["-c", str(settings.connections), "-j", str(settings.threads), "-T", str(seconds)]
    target = ["-h", host, "-p", str(port), "-U", user, PGBENCH_DB]
    output = harness.run([pgbench_binary(), *load, *target], timeout=seconds + 120).stdout

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


def pgbench_binary() -> str:
    return shutil.which("pgbench") or PGBENCH_FALLBACK


def prepare(ctx: Context) -> dict[str, str]:
    """pgbench's tables at scale 1, and the probe's migrated database with its SKUs."""
    host, port, user = ctx.settings.pg
    scratch_database(ctx, PGBENCH_DB)
    harness.run(
        [pgbench_binary(), "-i", "-s", "1", "-q", "-h", host, "-p", str(port), "-U", user, PGBENCH_DB],
        timeout=300,
    )
    url = scratch_database(ctx, RESERVATION_DB)
    env = {"DATABASE_URL": url}
    flask = str(harness.VENV_BIN / "flask")
    harness.run([flask, "--app", "wsgi", "db", "upgrade"], timeout=300, env={**ctx.app_env, **env})
    ctx.run_script(PROBE, "setup", "--sellout", str(SELLOUT_UNITS), env=env)
    harness.log(f"{PGBENCH_DB} initialised, {RESERVATION_DB} migrated and stocked")
    return env


def probe(ctx: Context, env: dict[str, str], *args: str) -> dict:
    return ctx.run_script(PROBE, *args, "--clients", str(ctx.settings.connections), env=env, timeout=900)


def measure(ctx: Context, env: dict[str, str]) -> tuple[Measurement, Measurement, list[dict]]:
    """BENCH_ROUNDS rounds, each pgbench then the reservations for BENCH_DURATION / rounds
    seconds: both see the same background load, whatever else the machine does."""
    settings = ctx.settings
    seconds = max(1, round(settings.duration / settings.rounds))
    tpcb_rounds, resv_rounds = [], []
    for index in range(settings.rounds):
        tpcb_rounds.append(pgbench_round(ctx, seconds))
        resv_rounds.append(probe(ctx, env, "throughput", "--duration", str(seconds)))
        harness.log(
            f"round {index + 1}: pgbench {tpcb_rounds[-1]['tps']:.0f} tps, "
            f"reservations {resv_rounds[-1]['rate']:.0f}/s"
        )
    transactions = sum(r["count"] for r in tpcb_rounds)
    tpcb = Measurement(
        label="pgbench TPC-B (scale 1)",
        tool="pgbench",
        rate=sum(r["tps"] for r in tpcb_rounds) / len(tpcb_rounds),
        unit="tps",
        mean_ms=sum(r["mean_ms"] * r["count"] for r in tpcb_rounds) / transactions if transactions else None,
        count=transactions,
        errors=sum(r["errors"] for r in tpcb_rounds),
        detail={"script": "tpcb-like (built in)", "scale": 1, "rounds": tpcb_rounds},
    )
    reserved = sum(r["reserved"] for r in resv_rounds)
    measured = Measurement(
        label=f"hot-SKU reservations, {settings.connections} clients",
        tool="reservation_probe",
        rate=reserved / sum(r["seconds"] for r in resv_rounds),
        unit="reservations/s",
        p95_ms=statistics.median(r["p95_ms"] for r in resv_rounds),
        mean_ms=sum(r["mean_ms"] * (r["reserved"] + r["refused"]) for r in resv_rounds)
        / max(1, sum(r["reserved"] + r["refused"] for r in resv_rounds)),
        count=reserved,
        errors=sum(r["errors"] for r in resv_rounds),
        detail={"rounds": [{k: v for k, v in r.items() if k != "first_error"} for r in resv_rounds]},
    )
    return tpcb, measured, resv_rounds


def run(ctx: Context) -> list[Figure]:
    clients = ctx.settings.connections
    env = prepare(ctx)
    tpcb, measured, rounds = measure(ctx, env)
    sellout = probe(ctx, env, "sellout")
    for measurement in (tpcb, measured):
        ctx.measurements[measurement.label] = measurement
        harness.log(f"{measurement.label}: {measurement.describe()}")
    ctx.notes[NAME] = {"throughput_rounds": rounds, "sellout": sellout}
    harness.log(
        f"sell-out of {sellout['units']}: {sellout['reserved']} reserved, {sellout['refused']} refused, "
        f"{sellout['errors']} errors in {sellout['seconds']:.1f} s; check {sellout['check']}"
    )
    phases = [*rounds, sellout]
    for phase in phases:
        if phase["first_error"]:
            harness.log(f"first unexpected error:\n{phase['first_error']}")
    problems = []
    errors = sum(phase["errors"] for phase in phases)
    if errors:
        problems.append(f"{errors} unexpected errors")
    if not all(phase["check"]["consistent"] for phase in rounds):
        problems.append(f"throughput phase inconsistent: {[r['check'] for r in rounds]}")
    if sellout["reserved"] != sellout["units"] or not sellout["check"]["consistent"]:
        problems.append(f"sell-out reserved {sellout['reserved']} of {sellout['units']}: {sellout['check']}")
    oversold = sum(phase["check"]["oversold"] for phase in phases)
    if oversold:
        problems.append(f"OVERSOLD by {oversold}")
    zero = f"0 oversold (sell-out: exactly {sellout['reserved']} of {sellout['units']} units)"
    return [
        Figure(
            bench=NAME,
            name=f"hot-SKU reservations ({clients} clients, one transaction each)",
            measured=measured.describe() if problems else f"{measured.describe()}, {zero}",
            value=measured.rate,
            baseline_name="pgbench TPC-B (scale 1)",
            baseline=tpcb.describe(),
            baseline_value=tpcb.rate,
            ok=not problems and tpcb.ok,
            note="; ".join(problems),
        )
    ]


if __name__ == "__main__":
    raise SystemExit(harness.main({NAME: run}))
