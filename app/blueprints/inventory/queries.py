"""Read side of inventory, shared by the portal, the admin API and the CLI: stock levels,
the movement ledger, alerts, receipts and backorders. Each list is one select (plus its
count when paginated), joined to the catalog for SKUs and names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from app.blueprints.auth.models import User
from app.blueprints.catalog.models import Product, Variant
from app.blueprints.inventory.alerts import threshold_expression
from app.blueprints.inventory.models import (
    Backorder,
    InventoryMovement,
    PurchaseReceipt,
    StockAlert,
    StockLevel,
    StockLocation,
)
from app.extensions import db

STOCK_SORTS = ("product", "sku", "available", "-available", "updated", "-updated")


def like_pattern(text: str) -> str:
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def page_of(query: Select, page: int, page_size: int) -> tuple[list, int]:
    """(rows of the page, total rows) of a select of columns (db.paginate takes entities)."""
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = db.session.execute(query.limit(page_size).offset((page - 1) * page_size)).all()
    return rows, total


# ---- stock levels -------------------------------------------------------------------------


@dataclass(frozen=True)
class StockFilter:
    location_id: int | None = None
    variant_id: int | None = None
    low_stock: bool = False  # only levels at or below their threshold
    q: str = ""  # part of the SKU or of the product name
    sort: str = "product"


@dataclass(frozen=True)
class StockRow:
    variant_id: int
    sku: str
    product_id: int
    product_name: str
    option_key: str
    location_id: int
    location_code: str
    location_name: str
    on_hand: int
    reserved: int
    threshold: int
    updated_at: datetime

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    @property
    def is_low(self) -> bool:
        return self.available <= self.threshold

    @property
    def variant_title(self) -> str:
        """ "Red / M" from the option key, as Variant.title; "Default" without options."""
        if not self.option_key:
            return "Default"
        return " / ".join(part.split("=", 1)[1] for part in self.option_key.split("|"))


def stock_query(f: StockFilter) -> Select:
    available = StockLevel.on_hand - StockLevel.reserved
    threshold = threshold_expression()
    query = (
        select(
            StockLevel.variant_id,
            Variant.sku,
            Product.id,
            Product.name,
            Variant.option_key,
            StockLevel.location_id,
            StockLocation.code,
            StockLocation.name,
            StockLevel.on_hand,
            StockLevel.reserved,
            threshold,
            StockLevel.updated_at,
        )
        .join(Variant, Variant.id == StockLevel.variant_id)
        .join(Product, Product.id == Variant.product_id)
        .join(StockLocation, StockLocation.id == StockLevel.location_id)
    )
    if f.location_id is not None:
        query = query.where(StockLevel.location_id == f.location_id)
    if f.variant_id is not None:
        query = query.where(StockLevel.variant_id == f.variant_id)
    if f.low_stock:
        query = query.where(available <= threshold, Variant.is_active, StockLocation.is_active)
    if f.q.strip():
        pattern = like_pattern(f.q)
        query = query.where(
            or_(
                func.lower(Variant.sku).like(pattern, escape="\\"),
                func.lower(Product.name).like(pattern, escape="\\"),
            )
        )
    orders = {
        "product": (Product.name, Variant.position, Variant.id),
        "sku": (Variant.sku,),
        "available": (available, Variant.sku),
        "-available": (available.desc(), Variant.sku),
        "updated": (StockLevel.updated_at,),
        "-updated": (StockLevel.updated_at.desc(),),
    }
    return query.order_by(*orders.get(f.sort, orders["product"]), StockLocation.position, StockLocation.id)


def stock_page(f: StockFilter, page: int = 1, page_size: int = 25) -> tuple[list[StockRow], int]:
    rows, total = page_of(stock_query(f), page, page_size)
    return [StockRow(*row) for row in rows], total


def stock_rows(f: StockFilter) -> list[StockRow]:
    return [StockRow(*row) for row in db.session.execute(stock_query(f))]


# ---- the movement ledger ------------------------------------------------------------------


@dataclass(frozen=True)
class MovementFilter:
    variant_id: int | None = None
    location_id: int | None = None
    kind: str | None = None
    reference: str | None = None
    before_id: int | None = None  # keyset cursor: movements older than this id


@dataclass(frozen=True)
class MovementRow:
    id: int
    variant_id: int
    sku: str
    location_id: int
    location_code: str
    kind: str
    on_hand_delta: int
    reserved_delta: int
    reason: str
    reference: str
    actor_id: int | None
    actor_email: str | None
    created_at: datetime


def _movement_select() -> Select:
    return (
        select(
            InventoryMovement.id,
            InventoryMovement.variant_id,
            Variant.sku,
            InventoryMovement.location_id,
            StockLocation.code,
            InventoryMovement.kind,
            InventoryMovement.on_hand_delta,
            InventoryMovement.reserved_delta,
            InventoryMovement.reason,
            InventoryMovement.reference,
            InventoryMovement.actor_id,
            User.email,
            InventoryMovement.created_at,
        )
        .join(Variant, Variant.id == InventoryMovement.variant_id)
        .join(StockLocation, StockLocation.id == InventoryMovement.location_id)
        .outerjoin(User, User.id == InventoryMovement.actor_id)
    )


def movements(f: MovementFilter, limit: int = 50) -> tuple[list[MovementRow], int | None]:
    """Newest first, `limit` at a time: (rows, the before_id of the next batch or None).
    A keyset walk, as cheap deep in the ledger as at its head."""
    query = _movement_select()
    if f.variant_id is not None:
        query = query.where(InventoryMovement.variant_id == f.variant_id)
    if f.location_id is not None:
        query = query.where(InventoryMovement.location_id == f.location_id)
    if f.kind:
        query = query.where(InventoryMovement.kind == f.kind)
    if f.reference:
        query = query.where(InventoryMovement.reference == f.reference)
    if f.before_id is not None:
        query = query.where(InventoryMovement.id < f.before_id)
    rows = [
        MovementRow(*row)
        for row in db.session.execute(query.order_by(InventoryMovement.id.desc()).limit(limit + 1))
    ]
    items = rows[:limit]
    return items, items[-1].id if len(rows) > limit else None


def describe_movements(items: list[InventoryMovement]) -> list[MovementRow]:
    """The rows of movements just written (flushed), for answering the request that wrote them."""
    db.session.flush()
    ids = [movement.id for movement in items]
    rows = {
        row.id: row
        for row in (
            MovementRow(*r)
            for r in db.session.execute(_movement_select().where(InventoryMovement.id.in_(ids)))
        )
    }
    return [rows[movement_id] for movement_id in ids]


# ---- alerts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertRow:
    id: int
    variant_id: int
    sku: str
    product_name: str
    location_id: int
    location_code: str
    threshold: int
    available_at_raise: int
    available: int
    status: str
    raised_at: datetime
    resolved_at: datetime | None
    emailed_at: datetime | None


def alert_query(status: str | None = "open", location_id: int | None = None) -> Select:
    query = (
        select(
            StockAlert.id,
            StockAlert.variant_id,
            Variant.sku,
            Product.name,
            StockAlert.location_id,
            StockLocation.code,
            StockAlert.threshold,
            StockAlert.available_at_raise,
            func.coalesce(StockLevel.on_hand - StockLevel.reserved, 0),
            StockAlert.status,
            StockAlert.raised_at,
            StockAlert.resolved_at,
            StockAlert.emailed_at,
        )
        .join(Variant, Variant.id == StockAlert.variant_id)
        .join(Product, Product.id == Variant.product_id)
        .join(StockLocation, StockLocation.id == StockAlert.location_id)
        .outerjoin(
            StockLevel,
            (StockLevel.variant_id == StockAlert.variant_id)
            & (StockLevel.location_id == StockAlert.location_id),
        )
        .order_by(StockAlert.raised_at.desc(), StockAlert.id.desc())
    )
    if status:
        query = query.where(StockAlert.status == status)
    if location_id is not None:
        query = query.where(StockAlert.location_id == location_id)
    return query


def alert_page(
    status: str | None = "open", location_id: int | None = None, page: int = 1, page_size: int = 25
):
    rows, total = page_of(alert_query(status, location_id), page, page_size)
    return [AlertRow(*row) for row in rows], total


def open_alerts(limit: int = 10) -> list[AlertRow]:
    """The newest open alerts (the dashboard's panel)."""
    return [AlertRow(*row) for row in db.session.execute(alert_query("open").limit(limit))]


def open_alert_count() -> int:
    return db.session.scalar(select(func.count()).select_from(StockAlert).where(StockAlert.status == "open"))


# ---- receipts and backorders --------------------------------------------------------------


def receipt_query(location_id: int | None = None, supplier_reference: str = "") -> Select:
    query = (
        select(PurchaseReceipt)
        .options(joinedload(PurchaseReceipt.location), selectinload(PurchaseReceipt.lines))
        .order_by(PurchaseReceipt.received_at.desc(), PurchaseReceipt.id.desc())
    )
    if location_id is not None:
        query = query.where(PurchaseReceipt.location_id == location_id)
    if supplier_reference.strip():
        query = query.where(PurchaseReceipt.supplier_reference == supplier_reference.strip())
    return query


def skus_of(variant_ids) -> dict[int, str]:
    ids = sorted(set(variant_ids))
    if not ids:
        return {}
    return dict(db.session.execute(select(Variant.id, Variant.sku).where(Variant.id.in_(ids))).all())


def backorder_query(
    status: str | None = None,
    variant_id: int | None = None,
    reference: str = "",
    customer_id: int | None = None,
) -> Select:
    query = select(Backorder).order_by(Backorder.id)
    if status:
        query = query.where(Backorder.status == status)
    if variant_id is not None:
        query = query.where(Backorder.variant_id == variant_id)
    if reference.strip():
        query = query.where(Backorder.reference == reference.strip())
    if customer_id is not None:
        query = query.where(Backorder.customer_id == customer_id)
    return query


def receipt_views(receipts: list[PurchaseReceipt]) -> list[dict]:
    """Receipts as the API shows them, their lines with SKUs (one query for all)."""
    skus = skus_of(line.variant_id for receipt in receipts for line in receipt.lines)
    return [
        {
            "id": receipt.id,
            "location_id": receipt.location_id,
            "location_code": receipt.location.code,
            "supplier": receipt.supplier,
            "supplier_reference": receipt.supplier_reference,
            "note": receipt.note,
            "received_by_id": receipt.received_by_id,
            "received_at": receipt.received_at,
            "units": sum(line.quantity for line in receipt.lines),
            "lines": [
                {
                    "id": line.id,
                    "variant_id": line.variant_id,
                    "sku": skus.get(line.variant_id),
                    "quantity": line.quantity,
                    "unit_cost": line.unit_cost,
                }
                for line in receipt.lines
            ],
        }
        for receipt in receipts
    ]


def backorder_views(backorders: list[Backorder]) -> list[dict]:
    skus = skus_of(backorder.variant_id for backorder in backorders)
    fields = ("id", "variant_id", "quantity", "status", "reference", "customer_id", "location_id")
    return [
        {
            **{name: getattr(b, name) for name in fields},
            "sku": skus.get(b.variant_id),
            "created_at": b.created_at,
            "allocated_at": b.allocated_at,
        }
        for b in backorders
    ]
