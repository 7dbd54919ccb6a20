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


@pytest.mark.parametrize(
    ("given", "message"),
    [("1e40", "Too large."), ("-1e40", "Too large."), ("1.234", "At most two decimals.")],
)
def test_money_input_beyond_a_column_or_with_a_third_decimal_is_a_field_error(given, message):
    class AmountSchema(ma.Schema):
        amount = MoneyInput()

    with pytest.raises(ma.ValidationError) as refused:
        AmountSchema().load({"amount": given})
    assert refused.value.messages == {"amount": [message]}
