"""Goods in: a purchase receipt (supplier, their reference, lines) into one location.

Each line is a `receipt` movement under the reference "receipt:<id>". What arrives at a
location that fulfils orders serves waiting backorders first (oldest first), then resolves
low-stock alerts and mails the people waiting for the variant (followups.py). A receipt is
saved whole or not at all: any bad line refuses it with the line's field errors.

The same receipt comes from the portal, the API (JSON lines or a CSV body) and the
terminal (`flask crm receive-stock FILE --location CODE`). A CSV file has a header row
with `sku` and `quantity`, optionally `unit_cost`; comma, semicolon or tab separated.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import select

from app.blueprints.catalog.models import Variant
from app.blueprints.inventory import followups
from app.blueprints.inventory.ledger import MovementInput, record_movement
from app.blueprints.inventory.models import PurchaseReceipt, PurchaseReceiptLine, StockLocation
from app.blueprints.inventory.services import variants_by_sku
from app.core import audit, csv_import
from app.core.errors import InvalidInput, NotFound
from app.core.events import emit
from app.core.money import to_money
from app.core.timeutil import utcnow
from app.extensions import db

MAX_LINES = 10_000
MAX_QUANTITY = 1_000_000
CSV_HEADER = csv_import.Header(key="sku", columns=("sku", "quantity", "unit_cost"))


@dataclass(frozen=True)
class ReceiptLineInput:
    variant_id: int
    quantity: int
    unit_cost: Decimal | None = None


Progress = Callable[[int, int], None]  # (lines done, lines in all)


def get_receipt(receipt_id: int) -> PurchaseReceipt:
    receipt = db.session.get(PurchaseReceipt, receipt_id)
    if receipt is None:
        raise NotFound(f"No receipt {receipt_id}.")
    return receipt


def _check(location: StockLocation, lines: list[ReceiptLineInput], texts: dict[str, str]) -> list[Variant]:
    """The lines' variants (loaded whole, for the follow-ups), or InvalidInput."""
    errors: dict[str, list[str]] = {}
    if not location.is_active:
        errors["location"] = ["This location is not active."]
    if not lines:
        errors["lines"] = ["A receipt needs at least one line."]
    elif len(lines) > MAX_LINES:
        errors["lines"] = [f"At most {MAX_LINES} lines per receipt."]
    for name, (value, limit) in texts.items():
        if len(value) > limit:
            errors[name] = [f"At most {limit} characters."]
    ids = sorted({line.variant_id for line in lines})
    variants: list[Variant] = []
    for start in range(0, len(ids), 500):
        variants.extend(db.session.scalars(select(Variant).where(Variant.id.in_(ids[start : start + 500]))))
    known = {variant.id for variant in variants}
    for index, line in enumerate(lines[:MAX_LINES]):
        if line.variant_id not in known:
            errors[f"lines.{index}.variant_id"] = ["No such variant."]
        if (
            not isinstance(line.quantity, int)
            or isinstance(line.quantity, bool)
            or not 0 < line.quantity <= MAX_QUANTITY
        ):
            errors[f"lines.{index}.quantity"] = [f"A whole number from 1 to {MAX_QUANTITY}."]
        if line.unit_cost is not None and line.unit_cost < 0:
            errors[f"lines.{index}.unit_cost"] = ["Must not be negative."]
    if errors:
        raise InvalidInput("The receipt is not valid.", errors=errors)
    return variants


def receive_stock(
    *,
    location: StockLocation,
    lines: list[ReceiptLineInput],
    supplier: str = "",
    supplier_reference: str = "",
    note: str = "",
    actor,
    progress: Progress | None = None,
) -> PurchaseReceipt:
    """Record a purchase receipt and put its lines on hand at `location`."""
    supplier, supplier_reference, note = supplier.strip(), supplier_reference.strip(), note.strip()
    variants = _check(  # noqa: F841  (held: the follow-ups read their thresholds from the session)
        location,
        lines,
        {"supplier": (supplier, 200), "supplier_reference": (supplier_reference, 100), "note": (note, 5000)},
    )
    receipt = PurchaseReceipt(
        location_id=location.id,
        supplier=supplier,
        supplier_reference=supplier_reference,
        note=note,
        received_by_id=actor.id if audit.is_staff(actor) else None,
        received_at=utcnow(),
    )
    receipt.lines = [
        PurchaseReceiptLine(
            variant_id=line.variant_id,
            quantity=line.quantity,
            unit_cost=None if line.unit_cost is None else to_money(line.unit_cost),
        )
        for line in lines
    ]
    db.session.add(receipt)
    db.session.flush()
    reference = f"receipt:{receipt.id}"
    changes = []
    # Levels are locked in variant order, as reservations lock them: no deadlock between them.
    for done, line in enumerate(sorted(lines, key=lambda line: line.variant_id), start=1):
        movement = MovementInput(
            line.variant_id, location.id, "receipt", on_hand_delta=line.quantity, reference=reference
        )
        changes.append(record_movement(movement, actor=actor))
        if progress is not None:
            progress(done, len(lines))
    followups.after_changes(changes, actor=actor)
    units = sum(line.quantity for line in lines)
    audit.record(
        "inventory.stock_received",
        actor=actor,
        target=receipt,
        summary=f"Receipt {receipt.id}: {units} units in {len(lines)} lines at {location.code}"
        + (f" from {supplier}" if supplier else ""),
        location=location.code,
        supplier_reference=supplier_reference,
        lines=len(lines),
        units=units,
    )
    emit("inventory.stock_received", receipt_id=receipt.id, location_id=location.id)
    return receipt


# ---- CSV ------------------------------------------------------------------------------------


def _row_line(number: int, values: dict[str, str], variants: dict, errors: dict) -> ReceiptLineInput | None:
    prefix = f"rows.{number}"
    problems = len(errors)
    variant = variants.get(values["sku"])
    if not values["sku"]:
        errors[f"{prefix}.sku"] = ["Give the SKU."]
    elif variant is None:
        errors[f"{prefix}.sku"] = [f"No variant has the SKU {values['sku']!r}."]
    try:
        quantity = int(values.get("quantity", ""))
        if not 0 < quantity <= MAX_QUANTITY:
            raise ValueError
    except ValueError:
        errors[f"{prefix}.quantity"] = [f"A whole number from 1 to {MAX_QUANTITY}."]
    unit_cost = None
    if values.get("unit_cost"):
        try:
            unit_cost = to_money(values["unit_cost"].replace(",", "."))
            if unit_cost < 0 or not unit_cost.is_finite():
                raise ValueError
        except (ValueError, InvalidOperation):
            errors[f"{prefix}.unit_cost"] = ["An amount like 12.50, not negative."]
    if len(errors) > problems:
        return None
    return ReceiptLineInput(variant.id, quantity, unit_cost)


def parse_receipt_csv(content: str | bytes) -> list[ReceiptLineInput]:
    """The lines of a receipt CSV, or InvalidInput: `file` for the file as a whole, and
    `rows.<n>.<column>` per bad cell (n as a spreadsheet numbers rows, the header is 1)."""
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                "The file is not UTF-8 text.", errors={"file": ["Save it as CSV UTF-8."]}
            ) from exc
    text = io.StringIO(content.removeprefix("\ufeff"), newline="")
    try:
        delimiter, columns = csv_import.read_header(text, CSV_HEADER)
        if "quantity" not in columns:
            raise csv_import.UnreadableFile("The header row has no quantity column.")
        rows = [
            (number, cells)
            for number, cells in enumerate(csv.reader(text, delimiter=delimiter), start=2)
            if not csv_import.is_blank(cells)
        ]
    except csv_import.UnreadableFile as exc:
        raise InvalidInput(str(exc), errors={"file": [str(exc)]}) from exc
    except csv.Error as exc:
        raise InvalidInput("The file is not readable as CSV.", errors={"file": [str(exc)]}) from exc
    if not rows:
        raise InvalidInput("The file has no lines.", errors={"file": ["The file has a header but no lines."]})
    if len(rows) > MAX_LINES:
        raise InvalidInput(
            "The file is too long.", errors={"file": [f"At most {MAX_LINES} lines per receipt."]}
        )
    errors: dict[str, list[str]] = {}
    parsed = []
    for number, cells in rows:
        try:
            parsed.append((number, csv_import.row_values(columns, cells)))
        except InvalidInput as exc:
            errors[f"rows.{number}"] = [message for messages in exc.errors.values() for message in messages]
    variants = variants_by_sku([values["sku"] for _, values in parsed])
    lines = [_row_line(number, values, variants, errors) for number, values in parsed]
    if errors:
        raise InvalidInput("Some lines of the file are not valid.", errors=errors)
    return lines
