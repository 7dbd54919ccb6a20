"""Helpers of the inventory tests: variants with inventory settings, and stock put in
through the services (so the ledger always explains the levels)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from app.blueprints.catalog.models import Variant
from app.blueprints.inventory import receipts
from app.blueprints.inventory.models import StockLevel
from app.core.models import OutboxMessage
from app.extensions import db
from tests.factories.catalog import ProductFactory


def make_variant(price: str = "10.00", **settings) -> Variant:
    """The default variant of a new active product, with inventory settings applied."""
    variant = ProductFactory(price=Decimal(price)).variants[0]
    for name, value in settings.items():
        setattr(variant, name, value)
    db.session.flush()
    return variant


def receive(variant, location, quantity: int, actor=None, **kwargs):
    return receipts.receive_stock(
        location=location, lines=[receipts.ReceiptLineInput(variant.id, quantity)], actor=actor, **kwargs
    )


def level(variant, location) -> tuple[int, int]:
    """(on hand, reserved) as stored now."""
    row = db.session.execute(
        select(StockLevel.on_hand, StockLevel.reserved).where(
            StockLevel.variant_id == variant.id, StockLevel.location_id == location.id
        )
    ).first()
    return (row.on_hand, row.reserved) if row else (0, 0)


def outbox_to(address: str) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.recipients == address)))
