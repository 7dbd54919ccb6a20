"""Promo codes on carts: the plug point of the promotions domain.

Until the promotions issue registers a `PromoCodeHandler`, putting a code on a cart (or
taking it off) is refused with a Conflict `promotions_unavailable`, which the storefront
API answers as a clear 409. The discounts themselves are computed by a
`pricing.DiscountStep` that the same domain registers.
"""

from __future__ import annotations

from typing import Protocol

from app.blueprints.orders.carts import require_open, touch
from app.blueprints.orders.models import Cart
from app.core.errors import Conflict
from app.extensions import db


class PromoCodeHandler(Protocol):
    """What the promotions domain registers to take promo codes on carts."""

    def apply(self, cart: Cart, code: str) -> None: ...

    def remove(self, cart: Cart) -> None: ...


_promo_handler: PromoCodeHandler | None = None


def register_promo_code_handler(handler: PromoCodeHandler | None) -> None:
    global _promo_handler
    _promo_handler = handler


def _promo_codes() -> PromoCodeHandler:
    if _promo_handler is None:
        raise Conflict("Promo codes are not available yet.", code="promotions_unavailable")
    return _promo_handler


def apply_promo_code(cart: Cart, code: str) -> Cart:
    """Put a promo code on the cart (Conflict `promotions_unavailable` until the
    promotions domain registers a handler)."""
    require_open(cart)
    _promo_codes().apply(cart, code)
    touch(cart)
    db.session.flush()
    return cart


def remove_promo_code(cart: Cart) -> Cart:
    require_open(cart)
    _promo_codes().remove(cart)
    touch(cart)
    db.session.flush()
    return cart
