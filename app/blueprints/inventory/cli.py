"""Inventory commands on `flask crm`:

flask crm receive-stock FILE --location CODE [--supplier ... --supplier-reference ... --by EMAIL]
flask crm check-low-stock
flask crm stock-ledger-check
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import click

from app.blueprints.auth.services import find_user_by_email
from app.blueprints.inventory import receipts, services
from app.blueprints.inventory.jobs import check_low_stock
from app.blueprints.inventory.ledger import ledger_mismatches
from app.core.cli import crm
from app.core.errors import DomainError
from app.core.transaction import transaction

MISMATCHES_SHOWN = 20
ERRORS_SHOWN = 20


def field_label(field: str) -> str:
    """ "rows.3.sku" -> "row 3, sku" (rows numbered as a spreadsheet shows them)."""
    parts = field.split(".")
    if parts[0] == "rows" and len(parts) > 1:
        return f"row {parts[1]}" + (f", {parts[2]}" if len(parts) > 2 else "")
    return field


def describe(error: DomainError) -> str:
    lines = [error.detail]
    for field, messages in list((error.errors or {}).items())[:ERRORS_SHOWN]:
        lines.append(f"  {field_label(field)}: {' '.join(messages)}")
    if len(error.errors or {}) > ERRORS_SHOWN:
        lines.append(f"  … and {len(error.errors) - ERRORS_SHOWN} more.")
    return "\n".join(lines)


@crm.command("receive-stock")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option("--location", "location_code", required=True, help="Code of the location receiving the goods.")
@click.option("--supplier", default="", help="Who delivered.")
@click.option("--supplier-reference", default="", help="The supplier's delivery note or invoice number.")
@click.option("--note", default="")
@click.option(
    "--by", "received_by", default=None, help="Email of the staff member receiving (for the audit log)."
)
def receive_stock(
    file: Path, location_code: str, supplier: str, supplier_reference: str, note: str, received_by
):
    """Receive stock from a CSV FILE (columns sku, quantity and optionally unit_cost).

    The receipt is saved whole or not at all; exits with 1, having written nothing, when
    the file or a line is not valid."""
    actor = None
    if received_by:
        actor = find_user_by_email(received_by)
        if actor is None or not actor.active:
            raise click.ClickException(f"No active staff user has the email {received_by}.")
    try:
        lines = receipts.parse_receipt_csv(file.read_bytes())
        with ExitStack() as stack, transaction():
            bar = stack.enter_context(click.progressbar(length=len(lines), label="Receiving stock"))
            receipt = receipts.receive_stock(
                location=services.location_by_code(location_code, field="--location"),
                lines=lines,
                supplier=supplier,
                supplier_reference=supplier_reference,
                note=note,
                actor=actor,
                progress=lambda done, _total: bar.update(done - bar.pos),
            )
            receipt_id, location = receipt.id, receipt.location.code
    except DomainError as exc:
        raise click.ClickException(f"Nothing was received. {describe(exc)}") from exc
    units = sum(line.quantity for line in lines)
    click.echo(
        f"Receipt {receipt_id}: {units} units in {len(lines)} line{'s' if len(lines) > 1 else ''} "
        f"received at {location}."
    )


@crm.command("check-low-stock")
def check_low_stock_command():
    """Raise and resolve low-stock alerts for all stock now (the periodic job, at once)."""
    result = check_low_stock()
    click.echo(f"{result['raised']} alerts raised, {result['resolved']} resolved.")


@crm.command("stock-ledger-check")
def stock_ledger_check():
    """Verify that every stock level equals the sums of its movements; exit 1 if not."""
    mismatches = ledger_mismatches()
    if not mismatches:
        click.echo("Stock levels match the ledger.")
        return
    click.echo(f"{len(mismatches)} stock levels differ from the ledger:", err=True)
    for m in mismatches[:MISMATCHES_SHOWN]:
        click.echo(
            f"  variant {m.variant_id} at location {m.location_id}: on hand {m.on_hand} "
            f"(ledger {m.ledger_on_hand}), reserved {m.reserved} (ledger {m.ledger_reserved})",
            err=True,
        )
    raise SystemExit(1)
