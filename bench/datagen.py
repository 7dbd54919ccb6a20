"""Load a benchmark data set into the database the environment names (DATABASE_URL).

Run by the harness as a child process, after the migrations and before gunicorn starts:

    APP_ENV=production SECRET_KEY=... DATABASE_URL=... .venv/bin/python bench/datagen.py --size small

It prints one JSON line with what it loaded. A size is a row of counts (SIZES); each
domain has a loader that reads its counts from the size and returns what it created.
A later issue adds its counts to `Size`, its loader to `LOADERS`, and nothing else.
What a bench needs but must not be written to the results (an API token's secret) goes
under "secrets" in that line; the harness keeps it in memory only (`Context.secrets`).

Rows go in through the app's own services where there are few of them (so they are the
rows a person would create, audit entries included) and in bulk where there are many.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Every generated staff user signs in with this password (bench data only).
STAFF_PASSWORD = "bench-password-2026"  # noqa: S105  (throwaway bench database)
STAFF_DOMAIN = "bench.example.com"
# How many staff users go through services.create_user (Argon2 costs ~0.1 s each); the
# rest are inserted in bulk, sharing the first one's password hash (same password).
STAFF_VIA_SERVICES = 8
# The staff user the API benches call as, with a bearer token limited to these scopes.
API_USER_EMAIL = f"bench-api@{STAFF_DOMAIN}"
API_TOKEN_SCOPES = ["customers.read"]

# Secrets the loaders made (printed under "secrets", never stored in the results).
SECRETS: dict[str, str] = {}


@dataclass(frozen=True)
class Size:
    staff: int
    customers: int
    # Catalog products, about three variants each (catalog_rows.py); the storefront claim
    # is stated at 100,000 products, so the default size (small) has that many.
    products: int


SIZES = {
    "tiny": Size(staff=4, customers=1_000, products=2_000),
    "small": Size(staff=50, customers=20_000, products=100_000),
    "medium": Size(staff=500, customers=200_000, products=250_000),
    "large": Size(staff=5000, customers=1_000_000, products=1_000_000),
}


def staff_email(index: int) -> str:
    return f"staff{index:05d}@{STAFF_DOMAIN}"


def load_staff(size: Size) -> dict[str, int]:
    """Built-in roles, then `size.staff` users spread over them round-robin (at least one)."""
    from sqlalchemy import insert

    from app.blueprints.auth import services
    from app.blueprints.auth.models import User, user_roles
    from app.core.transaction import transaction

    with transaction() as session:
        roles = services.ensure_built_in_roles()
        role_names = [role.name for role in roles]
        via_services = max(1, min(size.staff, STAFF_VIA_SERVICES))
        users = [
            services.create_user(
                email=staff_email(index),
                name=f"Bench Staff {index}",
                password=STAFF_PASSWORD,
                role_names=[role_names[index % len(role_names)]],
                actor=None,
            )
            for index in range(via_services)
        ]
        bulk = range(via_services, size.staff)
        if bulk:
            password_hash = users[0].password_hash
            ids = session.scalars(
                insert(User).returning(User.id, sort_by_parameter_order=True),
                [
                    {"email": staff_email(i), "name": f"Bench Staff {i}", "password_hash": password_hash}
                    for i in bulk
                ],
            ).all()
            role_ids = [role.id for role in roles]
            session.execute(
                insert(user_roles),
                [
                    {"user_id": user_id, "role_id": role_ids[i % len(role_ids)]}
                    for i, user_id in zip(bulk, ids, strict=True)
                ],
            )
    return {"roles": len(roles), "staff": max(1, size.staff)}


def load_api_token(size: Size) -> dict[str, int]:
    """A staff user in a built-in role that may read customers, and a bearer token for it
    limited to API_TOKEN_SCOPES (made by the app's own services, audit entries included)."""
    from app.blueprints.auth import services, tokens
    from app.core.transaction import transaction

    with transaction():
        roles = services.ensure_built_in_roles()
        role = next(r for r in roles if set(API_TOKEN_SCOPES) <= r.permission_codes)
        user = services.create_user(
            email=API_USER_EMAIL,
            name="Bench API",
            password=STAFF_PASSWORD,
            role_names=[role.name],
            actor=None,
        )
        _token, secret = tokens.create_api_token(
            user, name="bench", scopes=API_TOKEN_SCOPES, expires_at=None, actor=None
        )
    SECRETS["api_token"] = secret
    return {"api_tokens": 1}


def load_customers(size: Size) -> dict[str, int]:
    """`size.customers` customers with a realistic spread, streamed into PostgreSQL by COPY
    (a million in about a minute) or inserted in batches elsewhere. See customer_rows.py."""
    from customer_rows import copy_customers

    return copy_customers(size.customers)


def load_catalog(size: Size) -> dict[str, int]:
    """`size.products` products (about three variants each) in a tree of ~210 categories
    with ~120 brands, options, images and attributes, streamed into PostgreSQL by COPY.
    See catalog_rows.py."""
    from catalog_rows import copy_catalog

    return copy_catalog(size.products)


def load_orders(size: Size) -> dict[str, int]:
    """The purchase history the customers' figures add up from: orders and their lines
    (products of the catalog), for every customer with orders, by COPY. See purchase_rows.py."""
    from purchase_rows import copy_orders

    return copy_orders()


# In dependency order: a later loader may use what an earlier one created.
LOADERS = [load_staff, load_api_token, load_customers, load_catalog, load_orders]


def chosen_loaders() -> list:
    """Every loader, or those BENCH_DATA names ("staff,api_token,customers": the customer
    search needs no catalog or orders, which take most of the time at `large`)."""
    names = [name.strip() for name in os.environ.get("BENCH_DATA", "").split(",") if name.strip()]
    if not names:
        return LOADERS
    by_name = {loader.__name__.removeprefix("load_"): loader for loader in LOADERS}
    unknown = sorted(set(names) - set(by_name))
    if unknown:
        raise SystemExit(f"BENCH_DATA names unknown loaders {unknown}; known: {sorted(by_name)}")
    return [loader for loader in LOADERS if loader.__name__.removeprefix("load_") in names]


def load(size: Size) -> dict[str, int]:
    """Run the chosen loaders inside the app context of the environment's configuration."""
    from sqlalchemy import text

    from app import create_app
    from app.extensions import db

    app = create_app()
    counts: dict[str, int] = {}
    with app.app_context():
        for loader in chosen_loaders():
            counts.update(loader(size))
        # Fresh statistics, so the planner sees the data set, not empty tables; on PostgreSQL
        # a VACUUM too, as autovacuum would have done to a table that grew over years (it
        # sets the visibility map, which index-only scans rely on, and merges the pending
        # entries of GIN indexes).
        engine = db.engine
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM (ANALYZE)" if engine.dialect.name == "postgresql" else "ANALYZE"))
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    started = time.monotonic()
    counts = load(SIZES[args.size])
    seconds = round(time.monotonic() - started, 2)
    print(
        json.dumps(
            {
                "size": args.size,
                "counts": asdict(SIZES[args.size]),
                "loaded": counts,
                "seconds": seconds,
                "secrets": SECRETS,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
