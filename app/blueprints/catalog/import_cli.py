"""`flask crm import-products FILE`: the portal's product import, run in the terminal with
a progress bar (no upload size limit: the file is read where it lies)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import click

from app.blueprints.catalog import imports
from app.core.cli import crm
from app.core.errors import DomainError
from app.core.transaction import transaction

ERRORS_SHOWN = 10


@crm.command("import-products")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
def import_products(file: Path):
    """Create and update products and variants from a CSV FILE (the product export's
    columns, one row per variant; idempotent on the SKU).

    Exits with 1, having written nothing, when the file cannot be imported."""
    try:
        with transaction():
            run = imports.register_file(file)
    except DomainError as exc:
        raise click.ClickException(exc.detail) from exc

    with ExitStack() as stack:
        bars = []

        def progress(done: int, total: int) -> None:
            if not bars:
                bars.append(stack.enter_context(click.progressbar(length=total, label="Importing products")))
            bars[0].update(done - bars[0].pos)

        run = imports.process_run(run.id, progress=progress)

    if run.status == "failed":
        raise click.ClickException(f"Nothing was imported. {run.failure_reason}")
    click.echo(
        f"{run.rows_done} rows: {run.rows_created} created, {run.rows_updated} updated, "
        f"{run.rows_unchanged} unchanged, {run.rows_failed} failed."
    )
    for error in run.row_errors[:ERRORS_SHOWN]:
        problems = "; ".join(
            f"{'' if column == imports.ROW else column + ': '}{' '.join(messages)}"
            for column, messages in error["errors"].items()
        )
        click.echo(f"  row {error['row']} ({error['sku'] or 'no SKU'}): {problems}")
    if run.rows_failed > ERRORS_SHOWN:
        click.echo(f"  … and {run.rows_failed - ERRORS_SHOWN} more; the portal lists them (import {run.id}).")
