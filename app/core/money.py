"""Money is Decimal in the store currency, rounded half-up to cents, and travels as a
decimal string beside its ISO 4217 currency code. Never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import marshmallow as ma
from flask import current_app

CENT = Decimal("0.01")


def to_money(value) -> Decimal:
    """A Decimal rounded to cents (half-up, as tills and invoices do)."""
    if isinstance(value, float):
        raise TypeError("money must not be a float; pass a str, int or Decimal")
    try:
        return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not an amount of money") from exc


def store_currency() -> str:
    return current_app.config["STORE_CURRENCY"]


class MoneyField(ma.fields.Decimal):
    """A decimal string in the API ("19.90"), a Decimal inside; never a JSON number."""

    def __init__(self, **kwargs):
        kwargs.setdefault("places", 2)
        kwargs.setdefault("rounding", ROUND_HALF_UP)
        kwargs.setdefault("as_string", True)
        kwargs.setdefault("metadata", {"description": 'Decimal string, e.g. "19.90"', "example": "19.90"})
        super().__init__(**kwargs)
