"""The checkout bench's shop and shoppers, made inside the app (bench_checkout.py runs it
as a child process with the app's environment; it prints one JSON line):

    checkout_probe.py setup --skus 200 --carts 4000 --out PATH [--seed 7]
    checkout_probe.py profile --carts PATH --first 5000 --count 40

- the shop: the demo shipping zones and tax rates (orders/seed.py, through the settings
  services), a warehouse, and `--skus` products of one variant each, prices roughly
  log-normal around EUR 30, stocked through one purchase receipt (the receipt service);
- the shoppers' carts: `--carts` guest carts, each of 1 to 5 lines of 1 or 2 units, the
  SKUs drawn by popularity (a Zipf law: a few SKUs are in many carts, most in few), with
  an NL address and the standard method. Their tokens go to PATH, one a line, in the
  order they are to be checked out. The first SERVICE_CARTS are made through the cart
  services (create, add lines, set details: what the storefront API calls), and timed
  apart; making thousands so would take minutes of the bench's few, so the rest are
  written in bulk with the same values those carts got (address, method, currency);
- limited stock: one SKU in SCARCE_EVERY by popularity (the 20th, 40th, ... most popular:
  ten SKUs in about a tenth of the carts) has a few units only and sells out in the
  run's first seconds, whatever the machine's speed; the checkouts that then want one are
  refused (out_of_stock) and counted apart. The others have what all the carts ask of
  them and a fifth more, so they never run out.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import secrets
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the app's package, whatever the working directory
ZIPF_EXPONENT = 0.7  # popularity of the n-th SKU ~ 1 / n^0.7
SCARCE_EVERY = 20  # every 20th SKU by popularity sells out
SCARCE_UNITS = (2, 6)
PLENTY_FACTOR = 1.2  # the others: all that the carts ask of them, and a fifth more
SERVICE_CARTS = 30
WARM_CHECKOUTS = 5  # before the profile's clock: the first requests load code and caches
PROFILE_TOP = 20
WHOLE_REQUEST = 0.85
ADDRESS = {
    "recipient": "Bench Shopper",
    "line1": "Damrak 1",
    "postal_code": "1012 LG",
    "city": "Amsterdam",
    "country": "NL",
}


def make_app():
    from app import create_app

    return create_app()


def draw_carts(count: int, skus: int, chance: random.Random) -> list[list[tuple[int, int]]]:
    """Per cart, its lines as (SKU index, quantity): 1 to 5 distinct SKUs by popularity."""
    weights = [1 / (rank + 1) ** ZIPF_EXPONENT for rank in range(skus)]
    carts = []
    for _ in range(count):
        size = chance.randint(1, 5)
        chosen: set[int] = set()
        while len(chosen) < size:
            chosen.add(chance.choices(range(skus), weights)[0])
        carts.append([(index, chance.randint(1, 2)) for index in sorted(chosen)])
    return carts


def setup(skus: int, cart_count: int, out: Path, seed: int) -> dict:
    from app.blueprints.inventory import receipts
    from app.blueprints.inventory.models import StockLocation
    from app.blueprints.orders import seed as order_settings
    from app.core.transaction import transaction
    from app.extensions import db

    chance = random.Random(seed)
    wanted = draw_carts(cart_count, skus, chance)
    demand = Counter()
    for lines in wanted:
        for index, quantity in lines:
            demand[index] += quantity
    app = make_app()
    began = time.perf_counter()
    with app.app_context():
        with transaction():
            order_settings.seed_zones()
            order_settings.seed_tax_rates()
            location = StockLocation(code="BENCH-CHECKOUT", name="Bench checkout warehouse", position=0)
            db.session.add(location)
            variant_ids = make_products(skus, chance)
            stock = [
                chance.randint(*SCARCE_UNITS)
                if index % SCARCE_EVERY == SCARCE_EVERY - 1
                else math.ceil(demand[index] * PLENTY_FACTOR) + 1
                for index in range(skus)
            ]
            receipts.receive_stock(
                location=location,
                lines=[
                    receipts.ReceiptLineInput(v, units) for v, units in zip(variant_ids, stock, strict=True)
                ],
                actor=None,
                note="checkout bench",
            )
        shop_seconds = time.perf_counter() - began
        began = time.perf_counter()
        tokens = [
            service_cart(number, lines, variant_ids) for number, lines in enumerate(wanted[:SERVICE_CARTS])
        ]
        service_seconds = time.perf_counter() - began
        began = time.perf_counter()
        tokens += bulk_carts(wanted[SERVICE_CARTS:], variant_ids, like=tokens[0], first_number=SERVICE_CARTS)
        bulk_seconds = time.perf_counter() - began
        db.session.remove()
        db.engine.dispose()
    out.write_text("\n".join(tokens) + "\n")
    line_counts = Counter(len(lines) for lines in wanted)
    return {
        "skus": skus,
        "units_stocked": sum(stock),
        "units_in_carts": sum(demand.values()),
        "scarce_skus": sum(1 for index in range(skus) if index % SCARCE_EVERY == SCARCE_EVERY - 1),
        "carts": len(tokens),
        "lines_per_cart": {str(size): line_counts[size] for size in sorted(line_counts)},
        "shop_seconds": round(shop_seconds, 2),
        "service_carts": min(SERVICE_CARTS, len(tokens)),
        "ms_per_service_cart": round(1000 * service_seconds / max(1, min(SERVICE_CARTS, len(tokens))), 2),
        "bulk_carts_seconds": round(bulk_seconds, 2),
    }


def make_products(count: int, chance: random.Random) -> list[int]:
    """`count` active products of one variant each; their variant ids, by popularity rank."""
    from app.blueprints.catalog.models import Product, Variant
    from app.core.timeutil import utcnow
    from app.extensions import db

    products = []
    for index in range(count):
        price = Decimal(str(round(math.exp(chance.gauss(math.log(30), 0.6)), 1))).quantize(Decimal("0.01"))
        product = Product(
            name=f"Bench checkout item {index + 1}",
            slug=f"bench-checkout-{index + 1}",
            status="active",
            published_at=utcnow(),
            min_price=price,
            max_price=price,
        )
        product.variants.append(
            Variant(sku=f"BENCH-CO-{index + 1:04d}", price=price, weight_grams=chance.randint(100, 900))
        )
        products.append(product)
    db.session.add_all(products)
    db.session.flush()
    return [product.variants[0].id for product in products]


def service_cart(number: int, lines: list[tuple[int, int]], variant_ids: list[int]) -> str:
    """A cart as a shopper makes it through the storefront API, one transaction a call."""
    from app.blueprints.orders import carts
    from app.core.transaction import transaction

    with transaction():
        token = carts.create_cart(email=f"shopper{number}@bench.example.org").token
    for index, quantity in lines:
        with transaction():
            carts.add_line(
                carts.load_cart(token, for_update=True), variant_id=variant_ids[index], quantity=quantity
            )
    with transaction():
        cart = carts.load_cart(token, for_update=True)
        carts.update_details(cart, shipping_address=dict(ADDRESS), shipping_method="standard")
    return token


def bulk_carts(wanted, variant_ids: list[int], *, like: str, first_number: int) -> list[str]:
    """Carts equal to the service-made cart `like` but for their email and lines."""
    from sqlalchemy import insert, select

    from app.blueprints.orders.models import Cart, CartLine
    from app.core.timeutil import utcnow
    from app.core.transaction import transaction
    from app.extensions import db

    if not wanted:
        return []
    model = db.session.scalar(select(Cart).where(Cart.token == like))
    now = utcnow()
    rows = [
        {
            "token": secrets.token_urlsafe(32),
            "email": f"shopper{number}@bench.example.org",
            "currency": model.currency,
            "status": "open",
            "shipping_address": model.shipping_address,
            "billing_address": model.billing_address,
            "shipping_method_id": model.shipping_method_id,
            "created_at": now,
            "updated_at": now,
        }
        for number in range(first_number, first_number + len(wanted))
    ]
    with transaction():
        ids = dict(db.session.execute(insert(Cart).returning(Cart.token, Cart.id), rows).tuples().all())
        lines = [
            {
                "cart_id": ids[row["token"]],
                "variant_id": variant_ids[index],
                "quantity": quantity,
                "added_at": now,
            }
            for row, cart_lines in zip(rows, wanted, strict=True)
            for index, quantity in cart_lines
        ]
        db.session.execute(insert(CartLine), lines)
    return [row["token"] for row in rows]


def profile(path: Path, first: int, count: int) -> dict:
    """Check out WARM_CHECKOUTS carts, then `count` timed with their statements counted,
    then `count` more under cProfile (carts `first` onwards of PATH)."""
    import cProfile
    import pstats

    from sqlalchemy import event

    from app.extensions import db

    tokens = path.read_text().split()[first : first + WARM_CHECKOUTS + 2 * count]
    warm, timed, profiled = tokens[:WARM_CHECKOUTS], tokens[WARM_CHECKOUTS:-count], tokens[-count:]
    app = make_app()
    client = app.test_client()

    def checkout(token: str) -> int:
        headers = {"Idempotency-Key": f"bench-{token}"}
        url = f"/api/v1/store/carts/{token}/checkout"
        return client.post(url, json={"payment_method": "manual"}, headers=headers).status_code

    statuses = [checkout(token) for token in warm]
    with app.app_context():
        engine = db.engine
    statements: list[str] = []
    transactions: list[bool] = []

    def on_statement(*args) -> None:
        statements.append(args[2])

    def on_begin(*args) -> None:
        transactions.append(True)

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "begin", on_begin)
    began, cpu = time.perf_counter(), time.process_time()
    statuses += [checkout(token) for token in timed]
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    event.remove(engine, "before_cursor_execute", on_statement)
    event.remove(engine, "begin", on_begin)
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    statuses += [checkout(token) for token in profiled]
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    total = sum(tt for (_cc, _nc, tt, _ct, _callers) in stats.values()) or 1.0
    functions = sorted(
        (
            (cumulative / total, f"{file.rpartition(str(ROOT) + '/')[2]}:{name}")
            for (file, _line, name), (_cc, _nc, _tt, cumulative, _callers) in stats.items()
            # Not the decorators around the whole request: every checkout is all of them.
            if file.startswith(str(ROOT / "app")) and cumulative / total < WHOLE_REQUEST
        ),
        reverse=True,
    )[:PROFILE_TOP]
    return {
        "checkouts": len(tokens),
        "created": statuses.count(201),
        "out_of_stock": statuses.count(409),
        "other": len(statuses) - statuses.count(201) - statuses.count(409),
        "timed": len(timed),
        "wall_ms_per_checkout": round(1000 * wall / max(1, len(timed)), 2),
        "cpu_ms_per_checkout": round(1000 * cpu / max(1, len(timed)), 2),
        "statements_per_checkout": round(len(statements) / max(1, len(timed)), 2),
        "transactions_per_checkout": round(len(transactions) / max(1, len(timed)), 2),
        "cpu_share_of_app_functions": [[round(share, 3), name] for share, name in functions],
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("setup")
    make.add_argument("--skus", type=int, default=200)
    make.add_argument("--carts", type=int, required=True)
    make.add_argument("--out", type=Path, required=True)
    make.add_argument("--seed", type=int, default=7)
    diagnose = commands.add_parser("profile")
    diagnose.add_argument("--carts", type=Path, required=True)
    diagnose.add_argument("--first", type=int, required=True)
    diagnose.add_argument("--count", type=int, default=40)
    args = parser.parse_args(argv)
    if args.command == "profile":
        result = profile(args.carts, args.first, args.count)
    else:
        result = setup(args.skus, args.carts, args.out, args.seed)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
