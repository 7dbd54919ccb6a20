"""Money is Decimal in the store currency, rounded half-up to cents, and travels as a
decimal string beside its ISO 4217 currency code. Never float."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import ClassVar

import marshmallow as ma
from flask import current_app

CENT = Decimal("0.01")
# Money as the API writes and takes it (the OpenAPI document gives this pattern).
MONEY_PATTERN = r"^-?[0-9]+(\.[0-9]{1,2})?$"
MONEY_TEXT = re.compile(MONEY_PATTERN)
DECIMAL_TEXT = re.compile(r"^-?[0-9]+\.[0-9]+$")


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
    """A decimal string in the API ("19.90"), a Decimal inside. Reading, it rounds to cents:
    bodies people send use MoneyInput, which refuses JSON numbers and a third decimal."""

    def __init__(self, **kwargs):
        kwargs.setdefault("places", 2)
        kwargs.setdefault("rounding", ROUND_HALF_UP)
        kwargs.setdefault("as_string", True)
        kwargs.setdefault("metadata", {"description": 'Decimal string, e.g. "19.90"', "example": "19.90"})
        super().__init__(**kwargs)


MONEY_LIMIT = Decimal("1e10")


class MoneyInput(MoneyField):
    """Money in a body (API.md: decimal strings, MONEY_PATTERN): a JSON number, a third
    decimal (even a zero: "19.990" is a typo as much as 19.999, never 20.00), an exponent
    or spaces are a 422 on the field instead of being read some way. Query strings are
    text, so the same field serves the filters."""

    default_error_messages: ClassVar[dict[str, str]] = {
        "not_string": 'Send the amount as a decimal string, like "19.90", not a JSON number.',
        "not_money": 'Send the amount as a decimal string, like "19.90".',
        "too_many_places": "At most two decimals.",
        "too_large": "Too large.",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("not_string")
        if not MONEY_TEXT.fullmatch(value):
            raise self.make_error("too_many_places" if DECIMAL_TEXT.fullmatch(value) else "not_money")
        # Beyond what a Numeric(12, 2) column holds; also keeps quantize() in range.
        if abs(Decimal(value)) >= MONEY_LIMIT:
            raise self.make_error("too_large")
        return super()._deserialize(value, attr, data, **kwargs)
