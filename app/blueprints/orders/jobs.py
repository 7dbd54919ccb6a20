"""Background jobs of the orders domain (thin: a transaction around a service).

`expire_stale_carts` is periodic (app/periodic.py) and idempotent: a second run finds
nothing left to expire.
"""

from __future__ import annotations

import logging

from app.blueprints.orders import carts
from app.core.timeutil import utcnow
from app.core.transaction import transaction

log = logging.getLogger(__name__)


def expire_stale_carts() -> int:
    """Close the open carts nobody touched for CART_EXPIRY_DAYS, in one UPDATE."""
    with transaction():
        expired = carts.expire_stale_carts(utcnow())
    log.info("cart expiry: %s stale carts expired", expired)
    return expired
