"""`flask crm receive-stock`, `check-low-stock` and `stock-ledger-check`."""

from __future__ import annotations

from sqlalchemy import select

from app.blueprints.inventory.models import PurchaseReceipt, StockAlert, StockLevel
from tests.inventory.helpers import level, make_variant, receive


def cli(app, *args):
    return app.test_cli_runner().invoke(args=["crm", *args])


def test_receive_stock_reads_a_csv_file_with_a_progress_bar(app, db, tmp_path, warehouse, staff):
    first, second = make_variant(), make_variant()
    path = tmp_path / "delivery.csv"
    path.write_text(f"sku,quantity,unit_cost\n{first.sku},12,3.50\n{second.sku},4,\n")
    result = cli(
        app,
        "receive-stock",
        str(path),
        "--location",
        "wh1",
        "--supplier-reference",
        "DN-42",
        "--by",
        staff.email,
    )
    assert result.exit_code == 0, result.output
    assert "Receiving stock" in result.output
    assert "16 units in 2 lines received at WH1" in result.output
    receipt = db.session.scalar(select(PurchaseReceipt))
    assert (receipt.supplier_reference, receipt.received_by_id) == ("DN-42", staff.id)
    assert level(first, warehouse) == (12, 0) and level(second, warehouse) == (4, 0)


def test_receive_stock_exits_1_and_receives_nothing_when_a_line_is_bad(app, db, tmp_path, warehouse):
    variant = make_variant()
    path = tmp_path / "delivery.csv"
    path.write_text(f"sku,quantity\n{variant.sku},3\nNOPE,1\n")
    result = cli(app, "receive-stock", str(path), "--location", "WH1")
    assert result.exit_code == 1
    assert (
        "Nothing was received" in result.output
        and "row 3, sku: No variant has the SKU 'NOPE'." in result.output
    )
    assert db.session.scalar(select(PurchaseReceipt)) is None
    result = cli(app, "receive-stock", str(path), "--location", "NOWHERE")
    assert result.exit_code == 1


def test_check_low_stock_raises_the_alerts_due(app, db, warehouse):
    variant = make_variant()
    receive(variant, warehouse, 2)
    result = cli(app, "check-low-stock")
    assert result.exit_code == 0, result.output
    assert "1 alerts raised, 0 resolved." in result.output
    assert db.session.scalar(select(StockAlert.variant_id)) == variant.id


def test_the_ledger_check_passes_then_fails_with_1_on_a_mismatch(app, db, warehouse):
    variant = make_variant()
    receive(variant, warehouse, 5)
    result = cli(app, "stock-ledger-check")
    assert (result.exit_code, result.output.strip()) == (0, "Stock levels match the ledger.")
    db.session.get(StockLevel, (variant.id, warehouse.id)).reserved = 2
    db.session.flush()
    result = cli(app, "stock-ledger-check")
    assert result.exit_code == 1
    assert "reserved 2 (ledger 0)" in result.output
