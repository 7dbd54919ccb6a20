"""Money: Decimal, cents, half-up, strings in the API; floats refused."""

from decimal import Decimal

import marshmallow as ma
import pytest

from app.core.money import MoneyField, MoneyInput, to_money


@pytest.mark.parametrize(
    ("given", "expected"), [("19.905", "19.91"), ("19.904", "19.90"), (3, "3.00"), ("-0.005", "-0.01")]
)
def test_amounts_round_half_up_to_cents(given, expected):
    assert to_money(given) == Decimal(expected)


def test_floats_are_refused_because_they_cannot_hold_cents_exactly():
    with pytest.raises(TypeError):
        to_money(0.1)


def test_garbage_is_a_clear_error():
    with pytest.raises(ValueError, match="not an amount"):
        to_money("twelve euros")


def test_money_travels_as_a_decimal_string():
    class PriceSchema(ma.Schema):
        price = MoneyField()

    assert PriceSchema().dump({"price": Decimal("19.9")}) == {"price": "19.90"}
    assert PriceSchema().load({"price": "19.90"}) == {"price": Decimal("19.90")}
    with pytest.raises(ma.ValidationError):
        PriceSchema().load({"price": "abc"})


NOT_MONEY = 'Send the amount as a decimal string, like "19.90".'


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("10000000000", "Too large."),
        ("-10000000000.00", "Too large."),
        ("1.234", "At most two decimals."),
        ("18.950", "At most two decimals."),  # a third decimal, even a zero, is a typo
        ("1e2", NOT_MONEY),
        ("1e40", NOT_MONEY),
        (" 59.00", NOT_MONEY),
        ("59.00\n", NOT_MONEY),
        ("59.", NOT_MONEY),
        ("NaN", NOT_MONEY),
        ("", NOT_MONEY),
    ],
)
def test_money_input_is_exactly_the_documented_decimal_string_within_a_column(given, message):
    class AmountSchema(ma.Schema):
        amount = MoneyInput()

    with pytest.raises(ma.ValidationError) as refused:
        AmountSchema().load({"amount": given})
    assert refused.value.messages == {"amount": [message]}
