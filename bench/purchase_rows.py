"""Generated purchase history for benchmarks: the orders and order lines of every customer
with orders, written with COPY after the customers (customer_rows.py) and the catalog
(catalog_rows.py) are loaded, in constant memory.

Each customer's orders follow from their generated figures: `order_count` paid orders (the
first at `first_order_at`, the last at `last_order_at`, the others between) whose totals
add up to `total_spent`, so the figures and the orders agree as the app keeps them, and
segment rules over purchases ("bought in category Y within 90 days") select what they would
in a store. Lines are products drawn with Zipf-like popularity from a sample of the catalog
(product ids were dealt out to categories at random, so categories are as popular as their
products). A few customers also have orders that do not count: a cancelled one, or one
still waiting for payment.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from decimal import Decimal

from customer_rows import NOW

ORDER_COLUMNS = (
    "id, number, tracking_token_encrypted, customer_id, email, channel, status, payment_status, "
    "fulfilment_status, payment_method, currency, prices_include_tax, subtotal, discount_total, "
    "shipping_total, shipping_tax, tax_total, total, amount_paid, amount_refunded, tax_breakdown, "
    "weight_grams, shipping_address, billing_address, shipping_method_code, shipping_method_name, "
    "customer_note, placed_at, updated_at, paid_at, cancelled_at"
)
LINE_COLUMNS = (
    "order_id, position, variant_id, product_id, sku, name, title, tax_class, quantity, unit_price, "
    "line_subtotal, discount, tax_rate, tax, line_total, weight_grams, backordered_quantity, shipped_quantity"
)
# The catalog sample lines are drawn from, and how steeply popularity falls off in it.
PRODUCT_SAMPLE = 20_000
POPULARITY = 0.9
SHIPPING = Decimal("4.95")
VAT = Decimal("0.21")
CENT = Decimal("0.01")
CANCELLED_SHARE, PENDING_SHARE = 0.04, 0.02
NUMBER_OFFSET = 100_000  # as checkout numbers orders


def sample_products(cursor) -> list[tuple]:
    """(variant id, product id, sku, name) of the first variant of active products, spread
    over the whole catalog (product ids were dealt out to categories at random)."""
    cursor.execute(
        """
        SELECT v.id, v.product_id, v.sku, p.name
        FROM products p JOIN variants v ON v.product_id = p.id AND v.position = 0
        WHERE p.status = 'active'
        ORDER BY p.id LIMIT %s
        """,
        (PRODUCT_SAMPLE,),
    )
    return cursor.fetchall()


def split(amount: Decimal, parts: int, rng: random.Random) -> list[Decimal]:
    """`amount` in `parts` positive cents-exact shares of random size."""
    if parts == 1:
        return [amount]
    weights = [rng.lognormvariate(0, 0.5) for _ in range(parts)]
    total = sum(weights)
    cents = int(amount / CENT)
    shares = [max(1, int(cents * weight / total)) for weight in weights]
    shares[-1] = max(1, cents - sum(shares[:-1]))
    return [Decimal(share) * CENT for share in shares]


class History:
    """Builds order and line rows, handing out order ids."""

    def __init__(self, products: list[tuple], seed: int = 2027):
        self.rng = random.Random(seed)
        self.products = products
        order = list(range(len(products)))
        self.rng.shuffle(order)
        weights = [0.0] * len(products)
        for rank, index in enumerate(order, start=1):
            weights[index] = 1 / rank**POPULARITY
        self.cumulative = []
        running = 0.0
        for weight in weights:
            running += weight
            self.cumulative.append(running)
        self.next_id = 0
        self.orders: list[tuple] = []
        self.lines: list[tuple] = []

    def address(self, customer) -> str:
        _id, _email, first, last, country, city, *_ = customer
        return json.dumps(
            {
                "recipient": f"{first} {last}",
                "line1": "Hoofdstraat 1",
                "postal_code": "1000 AA",
                "city": city,
                "country": country,
            }
        )

    def order(self, customer, total: Decimal, placed: datetime, *, status: str = "completed") -> None:
        rng = self.rng
        self.next_id += 1
        order_id = self.next_id
        counted = status not in ("cancelled", "pending_payment")
        shipping = SHIPPING if total > SHIPPING * 2 else Decimal("0.00")
        subtotal = total - shipping
        tax = (total * VAT / (1 + VAT)).quantize(CENT)
        address = self.address(customer)
        fulfilment = "fulfilled" if status in ("shipped", "delivered", "completed") else "unfulfilled"
        payment = {"cancelled": "voided", "pending_payment": "pending"}.get(status, "paid")
        self.orders.append(
            (
                order_id,
                str(NUMBER_OFFSET + order_id),
                "bench",
                customer[0],
                customer[1],
                "storefront",
                status,
                payment,
                fulfilment,
                "manual",
                "EUR",
                True,
                subtotal,
                Decimal("0.00"),
                shipping,
                (shipping * VAT / (1 + VAT)).quantize(CENT),
                tax,
                total,
                total if counted else Decimal("0.00"),
                Decimal("0.00"),
                "[]",
                0,
                address,
                address,
                "standard",
                "Standard",
                "",
                placed,
                placed,
                placed + timedelta(minutes=rng.randint(1, 90)) if counted else None,
                placed + timedelta(hours=rng.randint(1, 48)) if status == "cancelled" else None,
            )
        )
        line_count = min(rng.choice((1, 1, 1, 2, 2, 3)), max(1, int(subtotal / CENT)))
        for position, amount in enumerate(split(subtotal, line_count, rng)):
            variant_id, product_id, sku, name = rng.choices(self.products, cum_weights=self.cumulative)[0]
            quantity = rng.choice((1, 1, 1, 2))
            self.lines.append(
                (
                    order_id,
                    position,
                    variant_id,
                    product_id,
                    sku,
                    name,
                    "",
                    "standard",
                    quantity,
                    (amount / quantity).quantize(CENT),
                    amount,
                    Decimal("0.00"),
                    VAT,
                    (amount * VAT / (1 + VAT)).quantize(CENT),
                    amount,
                    0,
                    0,
                    quantity if fulfilment == "fulfilled" else 0,
                )
            )

    def customer(self, customer) -> None:
        """The orders of one customer row (id, email, first, last, country, city, order_count,
        total_spent, first_order_at, last_order_at)."""
        rng = self.rng
        *_, count, spent, first, last = customer
        first = first or last
        totals = split(spent, count, rng) if spent >= count * CENT else [CENT] * count
        span = (last - first).total_seconds() if count > 1 else 0
        times = sorted(first + timedelta(seconds=rng.uniform(0, span)) for _ in range(count - 2))
        times = [first, *times, last] if count > 1 else [last]
        for total, placed in zip(totals, times, strict=True):
            age = (NOW - placed).days
            status = "completed" if age > 30 else rng.choice(("paid", "processing", "shipped", "delivered"))
            self.order(customer, total, placed, status=status)
        roll = rng.random()
        if roll < CANCELLED_SHARE:
            self.order(customer, Decimal("30.00"), last - timedelta(days=3), status="cancelled")
        elif roll < CANCELLED_SHARE + PENDING_SHARE:
            self.order(
                customer,
                Decimal("25.00"),
                NOW - timedelta(hours=rng.randint(1, 72)),
                status="pending_payment",
            )

    def take(self) -> tuple[list[tuple], list[tuple]]:
        taken = self.orders, self.lines
        self.orders, self.lines = [], []
        return taken


ORDER_TABLES = ("orders", "order_lines")
# Their non-unique indexes: dropped for the load, built again after it (as for customers).
ORDER_INDEXES = """
SELECT c.relname, pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid IN ('orders'::regclass, 'order_lines'::regclass) AND NOT i.indisunique
ORDER BY c.relname
"""


def copy_orders() -> dict[str, int]:
    """Orders and order lines of every customer with orders (see History), streamed by COPY
    while the customers are read with a server-side cursor. Run after the customers and the
    catalog are loaded."""
    from sqlalchemy import text

    from app.extensions import db

    engine = db.engine
    if engine.dialect.name != "postgresql":
        raise SystemExit("the order generator streams with COPY: point DATABASE_URL at PostgreSQL")
    reader, writer = engine.raw_connection(), engine.raw_connection()
    counts = dict.fromkeys(ORDER_TABLES, 0)
    try:
        with writer.cursor() as cursor:
            products = sample_products(cursor)
            if not products:
                raise SystemExit("no active products to order: load the catalog first")
            cursor.execute(ORDER_INDEXES)
            indexes = cursor.fetchall()
            for name, _definition in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
            history = History(products)
            with reader.cursor(name="buyers") as buyers:
                buyers.itersize = 5000
                buyers.execute(
                    "SELECT id, email, first_name, last_name, country, city, order_count, total_spent, "
                    "first_order_at, last_order_at FROM customers WHERE order_count > 0 ORDER BY id"
                )
                while batch := buyers.fetchmany(5000):
                    for customer in batch:
                        history.customer(customer)
                    orders, lines = history.take()
                    with cursor.copy(f"COPY orders ({ORDER_COLUMNS}) FROM STDIN") as copy:
                        for row in orders:
                            copy.write_row(row)
                    with cursor.copy(f"COPY order_lines ({LINE_COLUMNS}) FROM STDIN") as copy:
                        for row in lines:
                            copy.write_row(row)
                    counts["orders"] += len(orders)
                    counts["order_lines"] += len(lines)
            cursor.execute("SET maintenance_work_mem = '256MB'")
            for _name, definition in indexes:
                cursor.execute(definition)
        writer.commit()
    finally:
        reader.close()
        writer.close()
    with engine.begin() as connection:
        for table in ORDER_TABLES:
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )
            )
    return counts
