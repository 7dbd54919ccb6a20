"""Reserve one hot SKU from many processes at once, through the inventory service, and
check afterwards that nothing was oversold and nothing lost.

Run by bench_reservation.py as a child process with the app's environment (DATABASE_URL of
its own scratch database, migrated); each command prints one JSON line:

    reservation_probe.py setup --sellout 1000        # a location, the hot SKU, the sell-out SKU
    reservation_probe.py throughput --duration 3 --clients 16
    reservation_probe.py sellout --clients 16

- throughput: `--clients` processes (each its own app, session and connection) call
  `reservations.reserve([(hot, 1)])` in a loop for `--duration` seconds, each reservation
  its own transaction (`with transaction():`, as an order placement would), against stock
  that does not run out (the bench runs this once per round, between pgbench rounds);
- sellout: the same clients race for the sell-out SKU's units until each has been refused
  a few times in a row; exactly that many units must end up reserved.

After each phase the level must have grown by exactly the reservations the clients were
told succeeded, the ledger must agree (`ledger_mismatches`), and nothing may be oversold.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
import traceback
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLENTY = 1_000_000  # the most one receipt line may hold; never runs out in a timed phase
REFUSALS_TO_STOP = 3  # a client stops the sell-out after this many refusals in a row
SELLOUT_TIME_LIMIT = 60.0


def make_app():
    from app import create_app

    return create_app()


def setup(sellout: int) -> dict:
    """A location and two variants (hot, sell-out), stocked through the receipt service."""
    from app.blueprints.catalog.models import Product, Variant
    from app.blueprints.inventory import receipts
    from app.blueprints.inventory.models import StockLocation
    from app.core.timeutil import utcnow
    from app.core.transaction import transaction
    from app.extensions import db

    app = make_app()
    with app.app_context():
        with transaction():
            location = StockLocation(code="BENCH-HOT", name="Bench warehouse", position=0)
            db.session.add(location)
            variants = []
            for name in ("hot", "sellout"):
                product = Product(
                    name=f"Bench {name} product", slug=f"bench-{name}", status="active", published_at=utcnow()
                )
                product.variants.append(Variant(sku=f"BENCH-{name.upper()}", price=Decimal("9.90")))
                db.session.add(product)
                variants.append(product.variants[0])
            db.session.flush()
            for variant, units in zip(variants, (PLENTY, sellout), strict=True):
                receipts.receive_stock(
                    location=location, lines=[receipts.ReceiptLineInput(variant.id, units)], actor=None
                )
            ids = {"location": location.id, "hot": variants[0].id, "sellout": variants[1].id}
        db.session.remove()
        db.engine.dispose()  # no connection may cross the fork
    return ids


def bench_ids() -> dict:
    from sqlalchemy import select

    from app.blueprints.catalog.models import Variant
    from app.blueprints.inventory.models import StockLocation
    from app.extensions import db

    app = make_app()
    with app.app_context():
        ids = {
            "location": db.session.scalar(select(StockLocation.id).where(StockLocation.code == "BENCH-HOT")),
            "hot": db.session.scalar(select(Variant.id).where(Variant.sku == "BENCH-HOT")),
            "sellout": db.session.scalar(select(Variant.id).where(Variant.sku == "BENCH-SELLOUT")),
        }
        db.session.remove()
        db.engine.dispose()
    return ids


def client(index: int, variant_id: int, mode: str, seconds: float, start, results) -> None:
    """One client: its own app, session and connection; reports counts and latencies."""
    try:
        from app.blueprints.inventory import reservations
        from app.core.errors import Conflict
        from app.core.transaction import transaction
        from app.extensions import db

        app = make_app()
        with app.app_context():
            db.session.execute(db.text("SELECT 1"))  # connect before the clock starts
            db.session.commit()
            ok = refused = errors = streak = 0
            latencies: list[float] = []
            first_error = None
            start.wait()
            deadline = time.perf_counter() + (seconds if mode == "throughput" else SELLOUT_TIME_LIMIT)
            number = 0
            while (began := time.perf_counter()) < deadline:
                number += 1
                try:
                    with transaction():
                        reservations.reserve([(variant_id, 1)], reference=f"bench:{mode}:{index}:{number}")
                    ok += 1
                    streak = 0
                except Conflict:
                    refused += 1
                    streak += 1
                except Exception:  # what a storefront would have answered with a 500
                    errors += 1
                    first_error = first_error or traceback.format_exc(limit=3)
                    db.session.rollback()
                latencies.append(time.perf_counter() - began)
                if mode == "sellout" and streak >= REFUSALS_TO_STOP:
                    break
            db.session.remove()
        results.put(
            {"ok": ok, "refused": refused, "errors": errors, "latencies": latencies, "error": first_error}
        )
    except Exception:
        results.put({"ok": 0, "refused": 0, "errors": 1, "latencies": [], "error": traceback.format_exc()})


def run_phase(mode: str, variant_id: int, clients: int, seconds: float) -> dict:
    context = multiprocessing.get_context("fork")
    start = context.Barrier(clients + 1)
    results = context.Queue()
    processes = [
        context.Process(target=client, args=(i, variant_id, mode, seconds, start, results))
        for i in range(clients)
    ]
    for process in processes:
        process.start()
    start.wait(timeout=120)
    began = time.perf_counter()
    reports = [results.get(timeout=seconds + SELLOUT_TIME_LIMIT + 120) for _ in processes]
    elapsed = time.perf_counter() - began
    for process in processes:
        process.join(timeout=30)
    latencies = sorted(value for report in reports for value in report["latencies"])
    ok = sum(r["ok"] for r in reports)
    return {
        "clients": clients,
        "seconds": round(elapsed, 3),
        "reserved": ok,
        "refused": sum(r["refused"] for r in reports),
        "errors": sum(r["errors"] for r in reports),
        "first_error": next((r["error"] for r in reports if r["error"]), None),
        "rate": ok / elapsed if elapsed else 0.0,
        "mean_ms": statistics.fmean(latencies) * 1000 if latencies else None,
        "p95_ms": latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))] * 1000
        if latencies
        else None,
    }


def snapshot(ids: dict, variant: str) -> dict:
    """The level and the ledger of one bench SKU now."""
    from sqlalchemy import func, select

    from app.blueprints.inventory.ledger import ledger_mismatches
    from app.blueprints.inventory.models import InventoryMovement, StockLevel
    from app.extensions import db

    app = make_app()
    with app.app_context():
        level = db.session.get(StockLevel, (ids[variant], ids["location"]))
        allocations = db.session.scalar(
            select(func.count())
            .select_from(InventoryMovement)
            .where(InventoryMovement.variant_id == ids[variant], InventoryMovement.kind == "allocation")
        )
        state = {
            "on_hand": level.on_hand,
            "reserved": level.reserved,
            "allocations_in_ledger": allocations,
            "ledger_mismatches": len(ledger_mismatches()),
        }
        db.session.remove()
        db.engine.dispose()  # no connection may cross the next fork
    return state


def check(before: dict, after: dict, reserved: int) -> dict:
    """The phase against what the clients were told: every success reserved exactly one
    unit, on hand did not move, the ledger agrees, nothing oversold."""
    return {
        **after,
        "oversold": max(after["reserved"] - after["on_hand"], 0),
        "consistent": after["reserved"] - before["reserved"] == reserved
        and after["allocations_in_ledger"] - before["allocations_in_ledger"] == reserved
        and after["on_hand"] == before["on_hand"]
        and after["ledger_mismatches"] == 0,
    }


def measured_phase(mode: str, variant: str, clients: int, seconds: float) -> dict:
    ids = bench_ids()
    before = snapshot(ids, variant)
    result = run_phase(mode, ids[variant], clients, seconds)
    result["check"] = check(before, snapshot(ids, variant), result["reserved"])
    result["units"] = before["on_hand"] - before["reserved"]
    return result


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=("setup", "throughput", "sellout"))
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--sellout", type=int, default=1000)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if args.command == "setup":
        result = setup(args.sellout)
    elif args.command == "throughput":
        result = measured_phase("throughput", "hot", args.clients, args.duration)
    else:
        result = measured_phase("sellout", "sellout", args.clients, SELLOUT_TIME_LIMIT)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
