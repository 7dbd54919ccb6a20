"""`flask db …` (Flask-Migrate) loaded only when a `db` command runs.

Flask-Migrate imports Alembic, Mako and their dependencies, about 10 MB a process. A web
worker or a job worker never migrates, so only the CLI pays for them: the `db` group
registered here resolves its commands by loading Flask-Migrate on first use.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask

COMMAND = "db"


def migrations_directory(app: Flask) -> str:
    return str(Path(app.root_path).parent / "migrations")


def init_migrations(app: Flask) -> None:
    """Attach Flask-Migrate to `app` (idempotent). Code that migrates outside the CLI
    (the test suite's schema) calls this before `flask_migrate.upgrade()`."""
    if "migrate" in app.extensions:
        return
    from flask_migrate import Migrate

    from app.extensions import db

    Migrate(compare_type=True).init_app(app, db, directory=migrations_directory(app), command=COMMAND)


class MigrationCommands(click.Group):
    """Stands in for Flask-Migrate's `db` group until a command of it is asked for."""

    def __init__(self, app: Flask) -> None:
        super().__init__(name=COMMAND, help="Perform database migrations (Flask-Migrate, Alembic).")
        self.app = app

    def real_group(self) -> click.Group:
        init_migrations(self.app)
        from flask_migrate.cli import db

        return db

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # The group's own options (-d, -x) and the callback that hands them to its
        # commands are Flask-Migrate's.
        real = self.real_group()
        self.params, self.callback = real.params, real.callback
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self.real_group().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return self.real_group().get_command(ctx, name)


def register_migration_commands(app: Flask) -> None:
    app.cli.add_command(MigrationCommands(app))
