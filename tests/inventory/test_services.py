"""Staff use cases: locations, adjustments, counts, transfers and receipts; each audited,
each refused whole when it would take stock that is not there."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.blueprints.inventory import receipts, reservations, services
from app.blueprints.inventory.models import InventoryMovement
from app.core.errors import Conflict, InvalidInput
from app.core.models import AuditEntry
from tests.factories.catalog import LocationFactory
from tests.inventory.helpers import level, make_variant, receive


def audit_actions(db) -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


# ---- locations --------------------------------------------------------------------------


def test_a_location_is_created_with_an_upper_case_unique_code_and_audited(db, staff):
    first = services.create_location(actor=staff, code="wh-north", name="North")
    second = services.create_location(actor=staff, code="WH-SOUTH", name="South", kind="store")
    assert (first.code, first.position, second.position) == ("WH-NORTH", 1, 2)
    with pytest.raises(InvalidInput) as refused:
        services.create_location(actor=staff, code="WH-North", name="", kind="garage")
    assert set(refused.value.errors) == {"code", "name", "kind"}
    assert audit_actions(db).count("inventory.location_created") == 2


def test_a_location_update_changes_the_fields_given_and_records_the_change(db, staff, warehouse):
    services.update_location(warehouse, {"low_stock_threshold": 3, "fulfils_orders": False}, actor=staff)
    assert (warehouse.low_stock_threshold, warehouse.fulfils_orders, warehouse.code) == (3, False, "WH1")
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "inventory.location_updated"))
    assert entry.data["changes"]["low_stock_threshold"] == [None, 3]
    with pytest.raises(InvalidInput):
        services.update_location(warehouse, {"low_stock_threshold": -1}, actor=staff)


# ---- adjustments, counts, transfers ---------------------------------------------------------


def test_an_adjustment_needs_a_reason_and_a_non_zero_delta(db, staff, warehouse):
    variant = make_variant()
    with pytest.raises(InvalidInput) as refused:
        services.adjust_stock(variant, warehouse, 2, reason=" ", actor=staff)
    assert list(refused.value.errors) == ["reason"]
    with pytest.raises(InvalidInput) as refused:
        services.adjust_stock(variant, warehouse, 0, reason="found", actor=staff)
    assert list(refused.value.errors) == ["delta"]
    movement = services.adjust_stock(variant, warehouse, 4, reason="found behind a shelf", actor=staff)
    assert (movement.kind, movement.on_hand_delta, movement.actor_id) == ("adjustment", 4, staff.id)
    assert "inventory.stock_adjusted" in audit_actions(db)


def test_a_count_sets_on_hand_to_what_was_counted(db, staff, warehouse):
    variant = make_variant()
    receive(variant, warehouse, 10)
    movement = services.count_stock(variant, warehouse, 7, actor=staff)
    assert (movement.kind, movement.on_hand_delta) == ("count_correction", -3)
    assert level(variant, warehouse) == (7, 0)
    same = services.count_stock(variant, warehouse, 7, actor=staff)
    assert same.on_hand_delta == 0  # counted and found right: still in the ledger
    assert audit_actions(db).count("inventory.stock_counted") == 2


def test_a_count_of_a_variant_never_stocked_there_starts_its_level(db, staff, warehouse):
    variant = make_variant()
    services.count_stock(variant, warehouse, 3, actor=staff)
    assert level(variant, warehouse) == (3, 0)


def test_a_count_below_what_orders_hold_is_refused(db, staff, warehouse):
    variant = make_variant()
    receive(variant, warehouse, 5)
    reservations.reserve([(variant.id, 4)], reference="order:1")
    with pytest.raises(Conflict) as refused:
        services.count_stock(variant, warehouse, 3, actor=staff)
    assert refused.value.code == "count_below_reserved"
    assert level(variant, warehouse) == (5, 4)


def test_a_transfer_moves_free_units_under_one_reference(db, staff, warehouse, second_warehouse):
    variant = make_variant()
    receive(variant, warehouse, 6)
    transfer = services.transfer_stock(
        variant, warehouse, second_warehouse, 4, actor=staff, reason="rebalance"
    )
    assert level(variant, warehouse) == (2, 0) and level(variant, second_warehouse) == (4, 0)
    assert (transfer.out.kind, transfer.into.kind) == ("transfer_out", "transfer_in")
    assert transfer.out.reference == transfer.into.reference == transfer.reference
    assert "inventory.stock_transferred" in audit_actions(db)


def test_a_transfer_of_reserved_or_missing_stock_is_refused_whole(db, staff, warehouse):
    # The destination has the lower id, so its transfer_in is written first and undone.
    destination = warehouse
    source = LocationFactory(code="WH9")
    variant = make_variant()
    receive(variant, source, 3)
    reservations.reserve([(variant.id, 2)], reference="order:1")  # 1 of the 3 left free
    with pytest.raises(Conflict) as refused:
        services.transfer_stock(variant, source, destination, 2, actor=staff)
    assert refused.value.code == "insufficient_stock"
    assert level(variant, source) == (3, 2) and level(variant, destination) == (0, 0)
    kinds = set(db.session.scalars(select(InventoryMovement.kind)))
    assert "transfer_in" not in kinds and "transfer_out" not in kinds


def test_a_transfer_needs_two_locations_and_a_positive_quantity(db, staff, warehouse):
    variant = make_variant()
    with pytest.raises(InvalidInput) as refused:
        services.transfer_stock(variant, warehouse, warehouse, 1, actor=staff)
    assert list(refused.value.errors) == ["to_location"]


def test_stock_for_variant_lists_levels_in_location_order(db, warehouse, second_warehouse):
    variant = make_variant()
    receive(variant, second_warehouse, 1)
    receive(variant, warehouse, 2)
    levels = services.stock_for_variant(variant.id)
    assert [(lvl.location.code, lvl.on_hand, lvl.available) for lvl in levels] == [
        ("WH1", 2, 2),
        ("WH2", 1, 1),
    ]


# ---- receipts ------------------------------------------------------------------------------


def test_a_receipt_puts_its_lines_on_hand_under_its_reference(db, staff, warehouse):
    first, second = make_variant(), make_variant()
    receipt = receipts.receive_stock(
        location=warehouse,
        lines=[
            receipts.ReceiptLineInput(first.id, 5, Decimal("2.5")),
            receipts.ReceiptLineInput(second.id, 1),
        ],
        supplier="Acme",
        supplier_reference="DN-1",
        actor=staff,
    )
    assert [(line.quantity, line.unit_cost) for line in receipt.lines] == [(5, Decimal("2.50")), (1, None)]
    assert receipt.received_by_id == staff.id
    references = set(db.session.scalars(select(InventoryMovement.reference)))
    assert references == {f"receipt:{receipt.id}"}
    assert level(first, warehouse) == (5, 0)
    assert "inventory.stock_received" in audit_actions(db)


def test_a_receipt_with_a_bad_line_is_refused_whole(db, staff, warehouse):
    variant = make_variant()
    with pytest.raises(InvalidInput) as refused:
        receipts.receive_stock(
            location=warehouse,
            lines=[
                receipts.ReceiptLineInput(variant.id, 5),
                receipts.ReceiptLineInput(variant.id, 0),
                receipts.ReceiptLineInput(424242, 1, Decimal("-1")),
            ],
            actor=staff,
        )
    assert set(refused.value.errors) == {"lines.1.quantity", "lines.2.variant_id", "lines.2.unit_cost"}
    assert level(variant, warehouse) == (0, 0)


def test_a_receipt_csv_is_parsed_by_sku_with_optional_unit_cost(db):
    first, second = make_variant(), make_variant()
    content = f"\ufeffSKU;Quantity;Unit cost\n{first.sku};4;3,20\n\n{second.sku};2;\n".encode()
    lines = receipts.parse_receipt_csv(content)
    assert lines == [
        receipts.ReceiptLineInput(first.id, 4, Decimal("3.20")),
        receipts.ReceiptLineInput(second.id, 2, None),
    ]


@pytest.mark.parametrize(
    ("content", "errors"),
    [
        ("", {"file"}),
        ("sku,qty\nA,1\n", {"file"}),
        ("sku\nA\n", {"file"}),
        ("sku,quantity\n", {"file"}),
        (
            "sku,quantity,unit_cost\nNOPE,x,-1\n,2,\n",
            {"rows.2.sku", "rows.2.quantity", "rows.2.unit_cost", "rows.3.sku"},
        ),
        ("sku,quantity\nNOPE,1,extra\n", {"rows.2"}),
    ],
)
def test_a_bad_receipt_csv_names_the_file_or_the_cells(db, content, errors):
    with pytest.raises(InvalidInput) as refused:
        receipts.parse_receipt_csv(content)
    assert set(refused.value.errors) == errors


def test_a_receipt_csv_that_is_not_utf8_is_refused(db):
    with pytest.raises(InvalidInput) as refused:
        receipts.parse_receipt_csv("sku,quantity\nKÖLN,1\n".encode("latin-1"))
    assert list(refused.value.errors) == ["file"]
