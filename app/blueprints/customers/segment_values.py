"""Checks of one segment rule value: each normalizes what a person or client gave, or
raises ValueProblem saying what is wrong, in words for the person who typed it. Shared by
the customers' fields and the fields other domains register."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from app.blueprints.customers import validation
from app.core.errors import InvalidInput

MAX_LIST = 100
MAX_DAYS = 36500


class ValueProblem(ValueError):
    """What is wrong with a rule's value, in words for the person who typed it."""


def text(max_length: int):
    def check(value):
        if not isinstance(value, str) or not value.strip():
            raise ValueProblem("Enter a text value.")
        if len(value.strip()) > max_length:
            raise ValueProblem(f"At most {max_length} characters.")
        return value.strip()

    return check


def whole(low: int, high: int):
    def check(value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueProblem("Enter a whole number.")
        if not low <= value <= high:
            raise ValueProblem(f"Enter a number from {low} to {high}.")
        return value

    return check


def money(value) -> str:
    """Money comes as a decimal string ("19.90") or a whole number, never as a float."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueProblem('Enter an amount as a decimal string, like "19.90".')
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueProblem(f"“{value}” is not an amount.") from exc
    if not amount.is_finite() or amount < 0 or amount >= Decimal("10000000000"):
        raise ValueProblem("Enter an amount from 0 up to 9,999,999,999.99.")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueProblem("At most two decimals.")
    return str(amount.quantize(Decimal("0.01")))


def choice(options: tuple):
    def check(value):
        if value not in options or isinstance(value, bool):
            raise ValueProblem(f"Choose one of: {', '.join(str(o) for o in options)}.")
        return value

    return check


def via_customer_validation(check_value: Callable[[str], str | None]):
    """Country and language codes are checked as on the customer profile."""

    def check(value):
        if not isinstance(value, str) or not value.strip():
            raise ValueProblem("Enter a code.")
        try:
            return check_value(value)
        except InvalidInput as error:
            raise ValueProblem(error.detail) from error

    return check


def tag(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueProblem("Enter a tag.")
    try:
        return validation.tags([value])[0]
    except InvalidInput as error:
        raise ValueProblem(error.detail) from error
