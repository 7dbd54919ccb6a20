"""`flask crm recompute-rfm`: the nightly RFM recompute, run now (after an import of
order history, say, or to see its effect without waiting for the night)."""

from __future__ import annotations

import click

from app.blueprints.customers import jobs
from app.core.cli import crm


@crm.command("recompute-rfm")
def recompute_rfm():
    """Rank every customer with orders into RFM bands 1..5 again (idempotent)."""
    changed = jobs.recompute_rfm_bands()
    click.echo(f"RFM bands recomputed: {changed} customer{'' if changed == 1 else 's'} changed.")
