""" "Email me when it is back": requests per variant and address, and the one email each
gets when the variant can be bought again.

A pending request (not yet notified) is unique per variant and address, so asking twice
is the same as asking once. When free stock of a variant grows at a location that fulfils
orders and someone is waiting, `send_back_in_stock_emails` is queued after the commit; it
mails every pending requester once if the variant is available then, and marks them
notified in the same statement that picks them (a second run finds nobody).
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import current_app
from sqlalchemy import func, select, update

from app.blueprints.catalog.models import Variant
from app.blueprints.inventory.emails import send_inventory_mail
from app.blueprints.inventory.ledger import insert_ignoring_conflicts
from app.blueprints.inventory.models import BackInStockRequest, Backorder, StockLevel, StockLocation
from app.core.jobs import enqueue
from app.core.timeutil import utcnow
from app.extensions import db


def pending_request(variant_id: int, email: str) -> BackInStockRequest | None:
    return db.session.scalar(
        select(BackInStockRequest).where(
            BackInStockRequest.variant_id == variant_id,
            BackInStockRequest.email == email,
            BackInStockRequest.notified_at.is_(None),
        )
    )


def request_back_in_stock(variant: Variant, email: str, customer_id: int | None = None) -> BackInStockRequest:
    """Remember that `email` wants to hear when `variant` is back. Idempotent: the pending
    request for the address is returned (gaining the customer id if it had none)."""
    from app.blueprints.customers.validation import email as valid_email

    address = valid_email(email)
    db.session.execute(
        insert_ignoring_conflicts(BackInStockRequest).values(
            variant_id=variant.id, email=address, customer_id=customer_id, created_at=utcnow()
        )
    )
    request = pending_request(variant.id, address)
    if customer_id is not None and request.customer_id is None:
        request.customer_id = customer_id
    return request


def variants_with_requests(variant_ids: Iterable[int]) -> set[int]:
    ids = sorted(set(variant_ids))
    if not ids:
        return set()
    return set(
        db.session.scalars(
            select(BackInStockRequest.variant_id)
            .where(BackInStockRequest.variant_id.in_(ids), BackInStockRequest.notified_at.is_(None))
            .distinct()
        )
    )


def queue_notifications(variant_ids: Iterable[int]) -> None:
    """After the commit, mail the people waiting for these variants (if any)."""
    from app.blueprints.inventory.jobs import send_back_in_stock_emails

    for variant_id in sorted(variants_with_requests(variant_ids)):
        enqueue(send_back_in_stock_emails, variant_id, queue="email")


def sellable_units(variant_id: int) -> int:
    """Units a customer could order now: free stock at active fulfilling locations, less
    what waiting backorders are owed."""
    free = db.session.scalar(
        select(func.coalesce(func.sum(StockLevel.on_hand - StockLevel.reserved), 0))
        .join(StockLocation, StockLocation.id == StockLevel.location_id)
        .where(StockLevel.variant_id == variant_id, StockLocation.is_active, StockLocation.fulfils_orders)
    )
    owed = db.session.scalar(
        select(func.coalesce(func.sum(Backorder.quantity), 0)).where(
            Backorder.variant_id == variant_id, Backorder.status == "waiting"
        )
    )
    return max(free - owed, 0)


def product_link(slug: str) -> str | None:
    template = current_app.config.get("STOREFRONT_PRODUCT_URL")
    return template.format(slug=slug) if template else None


def notify_requesters(variant_id: int) -> int:
    """Mail each pending requester of the variant once, if it can be bought now; returns
    how many were mailed. Claiming and marking are one UPDATE, so two runs mail nobody twice."""
    variant = db.session.get(Variant, variant_id)
    if variant is None or not variant.is_active or variant.product.status != "active":
        return 0
    if sellable_units(variant_id) <= 0:
        return 0
    claimed = db.session.execute(
        update(BackInStockRequest)
        .where(BackInStockRequest.variant_id == variant_id, BackInStockRequest.notified_at.is_(None))
        .values(notified_at=utcnow())
        .returning(BackInStockRequest.email)
        .execution_options(synchronize_session=False)
    ).all()
    product = variant.product
    for (address,) in claimed:
        send_inventory_mail(
            address,
            f"{product.name} is back in stock",
            "back_in_stock",
            product=product,
            variant=variant,
            link=product_link(product.slug),
        )
    return len(claimed)
