"""The `flask crm` command group and demo data seeding.

Each domain registers a seeder with `@demo_seeder(order)`; `flask crm seed-demo` runs
them in order, each inside its own transaction, and each must be idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import click
from flask import current_app
from flask.cli import AppGroup

crm = AppGroup("crm", help="CRM operator commands.")


@dataclass(frozen=True)
class Seeder:
    order: int
    name: str
    run: Callable[[], str | None]


SEEDERS: list[Seeder] = []


def demo_seeder(order: int, name: str):
    def decorator(func):
        if not any(s.name == name for s in SEEDERS):
            SEEDERS.append(Seeder(order, name, func))
        return func

    return decorator


def run_seeders() -> list[str]:
    """Run every seeder in order; returns the lines each wants shown to the operator."""
    from app.core.transaction import transaction

    notes = []
    seeders = sorted(SEEDERS, key=lambda s: s.order)
    with click.progressbar(
        seeders, label="Loading demo data", item_show_func=lambda s: s.name if s else ""
    ) as bar:
        for seeder in bar:
            with transaction():
                note = seeder.run()
            if note:
                notes.append(note)
    return notes


@crm.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Only seed a database that has no users yet.")
@click.option("--force", is_flag=True, help="Allow seeding in production.")
def seed_demo(if_empty, force):
    """Load realistic demo data (idempotent)."""
    from sqlalchemy import select

    from app.blueprints.auth.models import User
    from app.extensions import db

    if current_app.config["APP_ENV"] == "production" and not force:
        raise click.ClickException("Refusing to load demo data in production (use --force to insist).")
    if if_empty and db.session.scalar(select(User.id).limit(1)) is not None:
        click.echo("Demo data already loaded; skipping.")
        return
    for note in run_seeders():
        click.echo(note)
