"""Read side of the inventory portal pages, beside the shared `queries.py`: pagination of
column selects, the stock list's extra filters and sorts, receipts and backorders with
what their lists show, the variant page's header and the dashboard's most urgent alerts.
Each list is one select plus its count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload

from app.blueprints.auth.models import User
from app.blueprints.catalog.models import Product, Variant
from app.blueprints.customers.models import Customer
from app.blueprints.inventory import queries
from app.blueprints.inventory.models import (
    Backorder,
    PurchaseReceipt,
    PurchaseReceiptLine,
    StockAlert,
    StockLevel,
    StockLocation,
)
from app.core.pagination import MAX_PAGE, MAX_PER_PAGE
from app.extensions import db


class RowPagination(Pagination):
    """A Flask-SQLAlchemy Pagination of a select of columns (db.paginate only takes
    entities), each row turned into `row_type`; the page macro reads it like any other."""

    def __init__(self, query: Select, row_type, *, page: int, per_page: int):
        super().__init__(
            page=min(max(page, 1), MAX_PAGE),
            per_page=per_page,
            max_per_page=MAX_PER_PAGE,
            error_out=False,
            query=query,
            row_type=row_type,
        )

    def _query_items(self) -> list:
        query, row_type = self._query_args["query"], self._query_args["row_type"]
        rows = db.session.execute(query.limit(self.per_page).offset(self._query_offset))
        return [row_type(*row) for row in rows]

    def _query_count(self) -> int:
        query = self._query_args["query"]
        return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


def variant_title(option_key: str) -> str:
    """ "Red / M" from an option key, as Variant.title says it; "Default" without options."""
    if not option_key:
        return "Default"
    return " / ".join(part.split("=", 1)[1] for part in option_key.split("|"))


# ---- the stock list -------------------------------------------------------------------------

AVAILABLE = StockLevel.on_hand - StockLevel.reserved
STOCK_ORDERS = {
    "product": (Product.name, Variant.position, Variant.id),
    "sku": (Variant.sku,),
    "location": (StockLocation.position, StockLocation.id, Product.name, Variant.id),
    "on_hand": (StockLevel.on_hand, Variant.sku),
    "available": (AVAILABLE, Variant.sku),
    "updated": (StockLevel.updated_at, Variant.sku),
}
STOCK_SORTS = tuple(STOCK_ORDERS)


def stock_list_query(f: queries.StockFilter, *, out_of_stock: bool = False) -> Select:
    """`queries.stock_query` (search, location, low stock), plus "out of stock only" and
    every sort of the list's headers in both directions ("-available")."""
    query = queries.stock_query(f)
    if out_of_stock:
        query = query.where(AVAILABLE <= 0)
    key = f.sort.lstrip("-")
    columns = STOCK_ORDERS.get(key, STOCK_ORDERS["product"])
    if f.sort.startswith("-") and key in STOCK_ORDERS:
        columns = (columns[0].desc(), *columns[1:])
    return query.order_by(None).order_by(*columns, StockLocation.position, StockLocation.id)


# ---- a variant's page ---------------------------------------------------------------------


def variant_for_page(variant_id: int) -> Variant | None:
    return db.session.scalar(
        select(Variant).options(joinedload(Variant.product)).where(Variant.id == variant_id)
    )


@dataclass(frozen=True)
class LevelView:
    """A variant's stock at one location; zeros where it was never stocked."""

    location: StockLocation
    on_hand: int
    reserved: int
    threshold: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    @property
    def state(self) -> str:
        if self.available <= 0:
            return "out"
        return "low" if self.available <= self.threshold else "ok"


def variant_levels(variant: Variant, locations: list[StockLocation], threshold_for) -> list[LevelView]:
    """One row per location that is active or holds a level of the variant, in location
    order (two queries: the locations are loaded already)."""
    levels = {
        level.location_id: level
        for level in db.session.scalars(select(StockLevel).where(StockLevel.variant_id == variant.id))
    }
    return [
        LevelView(
            location,
            levels[location.id].on_hand if location.id in levels else 0,
            levels[location.id].reserved if location.id in levels else 0,
            threshold_for(variant, location),
        )
        for location in locations
        if location.is_active or location.id in levels
    ]


def user_names(user_ids) -> dict[int, str]:
    """Staff names by id, for the people on a page of the ledger (one query)."""
    ids = sorted({user_id for user_id in user_ids if user_id is not None})
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


def waiting_backorders(variant_id: int) -> tuple[int, int]:
    """(backorders waiting, units they wait for) of one variant."""
    count, units = db.session.execute(
        select(func.count(), func.coalesce(func.sum(Backorder.quantity), 0)).where(
            Backorder.variant_id == variant_id, Backorder.status == "waiting"
        )
    ).one()
    return count, units


# ---- receipts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptFilter:
    location_id: int | None = None
    supplier: str = ""  # part of the supplier's name or of their reference
    received_from: datetime | None = None
    received_before: datetime | None = None

    @property
    def active(self) -> bool:
        return bool(self.location_id or self.supplier.strip() or self.received_from or self.received_before)


@dataclass(frozen=True)
class ReceiptRow:
    id: int
    received_at: datetime
    location_code: str
    location_name: str
    supplier: str
    supplier_reference: str
    received_by: str | None
    lines: int
    units: int


def receipt_list_query(f: ReceiptFilter) -> Select:
    totals = (
        select(
            PurchaseReceiptLine.receipt_id,
            func.count().label("lines"),
            func.sum(PurchaseReceiptLine.quantity).label("units"),
        )
        .group_by(PurchaseReceiptLine.receipt_id)
        .subquery()
    )
    query = (
        select(
            PurchaseReceipt.id,
            PurchaseReceipt.received_at,
            StockLocation.code,
            StockLocation.name,
            PurchaseReceipt.supplier,
            PurchaseReceipt.supplier_reference,
            User.name,
            func.coalesce(totals.c.lines, 0),
            func.coalesce(totals.c.units, 0),
        )
        .join(StockLocation, StockLocation.id == PurchaseReceipt.location_id)
        .outerjoin(User, User.id == PurchaseReceipt.received_by_id)
        .outerjoin(totals, totals.c.receipt_id == PurchaseReceipt.id)
        .order_by(PurchaseReceipt.received_at.desc(), PurchaseReceipt.id.desc())
    )
    if f.location_id is not None:
        query = query.where(PurchaseReceipt.location_id == f.location_id)
    if f.supplier.strip():
        pattern = queries.like_pattern(f.supplier)
        query = query.where(
            or_(
                func.lower(PurchaseReceipt.supplier).like(pattern, escape="\\"),
                func.lower(PurchaseReceipt.supplier_reference).like(pattern, escape="\\"),
            )
        )
    if f.received_from is not None:
        query = query.where(PurchaseReceipt.received_at >= f.received_from)
    if f.received_before is not None:
        query = query.where(PurchaseReceipt.received_at < f.received_before)
    return query


@dataclass(frozen=True)
class ReceiptLineRow:
    id: int
    variant_id: int
    sku: str
    product_name: str
    option_key: str
    quantity: int
    unit_cost: object  # Decimal | None

    @property
    def variant_title(self) -> str:
        return variant_title(self.option_key)

    @property
    def line_cost(self):
        return None if self.unit_cost is None else self.unit_cost * self.quantity


def receipt_for_page(receipt_id: int) -> tuple[PurchaseReceipt, list[ReceiptLineRow], str | None] | None:
    """The receipt, its lines with SKUs and product names, and who received it."""
    receipt = db.session.scalar(
        select(PurchaseReceipt)
        .options(joinedload(PurchaseReceipt.location))
        .where(PurchaseReceipt.id == receipt_id)
    )
    if receipt is None:
        return None
    lines = [
        ReceiptLineRow(*row)
        for row in db.session.execute(
            select(
                PurchaseReceiptLine.id,
                PurchaseReceiptLine.variant_id,
                Variant.sku,
                Product.name,
                Variant.option_key,
                PurchaseReceiptLine.quantity,
                PurchaseReceiptLine.unit_cost,
            )
            .join(Variant, Variant.id == PurchaseReceiptLine.variant_id)
            .join(Product, Product.id == Variant.product_id)
            .where(PurchaseReceiptLine.receipt_id == receipt.id)
            .order_by(PurchaseReceiptLine.id)
        )
    ]
    received_by = (
        db.session.scalar(select(User.name).where(User.id == receipt.received_by_id))
        if receipt.received_by_id
        else None
    )
    return receipt, lines, received_by


# ---- backorders ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BackorderRow:
    id: int
    variant_id: int
    sku: str
    product_name: str
    option_key: str
    quantity: int
    status: str
    reference: str
    customer_id: int | None
    customer_email: str | None
    location_code: str | None
    created_at: datetime
    allocated_at: datetime | None

    @property
    def variant_title(self) -> str:
        return variant_title(self.option_key)


def backorder_list_query(status: str, sku: str = "") -> Select:
    """Waiting backorders oldest first (the order they will be served in), allocated ones
    newest allocation first; `sku` matches part of the SKU."""
    query = (
        select(
            Backorder.id,
            Backorder.variant_id,
            Variant.sku,
            Product.name,
            Variant.option_key,
            Backorder.quantity,
            Backorder.status,
            Backorder.reference,
            Backorder.customer_id,
            Customer.email,
            StockLocation.code,
            Backorder.created_at,
            Backorder.allocated_at,
        )
        .join(Variant, Variant.id == Backorder.variant_id)
        .join(Product, Product.id == Variant.product_id)
        .outerjoin(Customer, Customer.id == Backorder.customer_id)
        .outerjoin(StockLocation, StockLocation.id == Backorder.location_id)
        .where(Backorder.status == status)
    )
    if sku.strip():
        query = query.where(func.lower(Variant.sku).like(queries.like_pattern(sku), escape="\\"))
    if status == "waiting":
        return query.order_by(Backorder.id)
    return query.order_by(Backorder.allocated_at.desc(), Backorder.id.desc())


def backorder_counts() -> dict[str, int]:
    rows = db.session.execute(
        select(Backorder.status, func.count())
        .where(Backorder.status.in_(("waiting", "allocated")))
        .group_by(Backorder.status)
    )
    return {"waiting": 0, "allocated": 0, **dict(rows.all())}


# ---- alerts -------------------------------------------------------------------------------


def alert_list_query(status: str, location_id: int | None = None) -> Select:
    """Open alerts lowest stock first (the most urgent on top), resolved ones newest first."""
    query = queries.alert_query(status, location_id)
    if status == "open":
        available = func.coalesce(StockLevel.on_hand - StockLevel.reserved, 0)
        return query.order_by(None).order_by(available, StockAlert.raised_at, StockAlert.id)
    return query.order_by(None).order_by(StockAlert.resolved_at.desc(), StockAlert.id.desc())


def most_urgent_alerts(limit: int = 10) -> list[queries.AlertRow]:
    """The open alerts with the least available stock, oldest first among equals."""
    return [queries.AlertRow(*row) for row in db.session.execute(alert_list_query("open").limit(limit))]
