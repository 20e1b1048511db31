"""Money and quantities: decimal strings on the wire, exact round-trips, nothing else accepted."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, ValidationError

from tradebus_contracts.decimal_types import (
    DECIMAL_PATTERN,
    MAX_DIGITS,
    Money,
    Quantity,
    decimal_places,
    decimal_to_str,
)


class Priced(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    price: Money
    qty: Quantity | None = None


def _plain_digits(d: Decimal) -> int:
    return sum(c.isdigit() for c in decimal_to_str(d))


finite_decimals = st.one_of(
    st.builds(
        lambda sign, digits, exponent: Decimal((sign, tuple(digits), exponent)),
        st.sampled_from([0, 1]),
        st.lists(st.integers(0, 9), min_size=1, max_size=20),
        st.integers(-19, 19),
    ),
    st.decimals(allow_nan=False, allow_infinity=False).filter(lambda d: _plain_digits(d) <= MAX_DIGITS),
)


@given(finite_decimals)
def test_round_trip_when_any_finite_decimal_then_same_value_and_same_string(value):
    wire = Priced(price=value).model_dump_json()

    decoded = Priced.model_validate_json(wire, strict=True)

    assert decoded.price == value
    assert decoded.model_dump_json() == wire
    text = decimal_to_str(value)
    assert wire == f'{{"price":"{text}","qty":null}}'
    assert "e" not in text.lower()
    if value.as_tuple().exponent <= 0:  # no positive exponent: the very same Decimal, trailing zeros included
        assert decoded.price.as_tuple() == value.as_tuple()


@given(finite_decimals)
def test_wire_string_when_any_finite_decimal_then_matches_the_published_pattern(value):
    import re

    assert re.fullmatch(DECIMAL_PATTERN, decimal_to_str(value))


@pytest.mark.parametrize(("given_value", "wire"), [("10.50", "10.50"), (Decimal("1E+3"), "1000"), (7, "7"),
                                                    ("-0.000", "-0.000"), (".5", "0.5"), ("+3", "3"),
                                                    (Decimal("0E+50"), "0")])
def test_serialise_when_python_value_then_plain_decimal_string(given_value, wire):
    assert Priced(price=given_value).model_dump(mode="json")["price"] == wire


def test_dump_when_python_mode_then_value_stays_a_decimal():
    assert Priced(price="1.10").model_dump()["price"] == Decimal("1.10")


@pytest.mark.parametrize("raw", ['{"price": 1.1}', '{"price": 5}', '{"price": 1e3}', '{"price": true}',
                                 '{"price": null}', '{"price": ["1"]}'])
def test_decode_when_json_value_is_not_a_string_then_rejected_with_clear_message(raw):
    with pytest.raises(ValidationError, match="money must be a decimal string, got"):
        Priced.model_validate_json(raw)


def test_decode_when_json_float_then_message_shows_type_and_value():
    with pytest.raises(ValidationError, match="money must be a decimal string, got float 1.1"):
        Priced.model_validate_json('{"price": 1.1}')


@pytest.mark.parametrize("text", ["1e5", "1E-2", " 1", "1 ", "1_000", "0x10", "", "1.2.3", "١٢", "--1", "abc"])
def test_decode_when_string_is_not_plain_decimal_notation_then_rejected(text):
    with pytest.raises(ValidationError, match="money must be a plain decimal string"):
        Priced.model_validate_json(f'{{"price": "{text}"}}')


@pytest.mark.parametrize("value", ["NaN", "-nan", "Infinity", "-Infinity", "inf", Decimal("NaN"), Decimal("-Inf"),
                                   Decimal("sNaN")])
def test_validate_when_not_finite_then_rejected(value):
    with pytest.raises(ValidationError, match="money must be a finite decimal"):
        Priced(price=value)


@pytest.mark.parametrize("value", [1.5, True, None, b"1"])
def test_validate_when_python_type_is_not_decimal_int_or_str_then_rejected(value):
    with pytest.raises(ValidationError, match="money must be a Decimal, int or decimal string"):
        Priced(price=value)


def test_validate_when_too_many_digits_then_rejected_without_rendering_them():
    with pytest.raises(ValidationError, match=f"at most {MAX_DIGITS} digits"):
        Priced(price=Decimal("1E+1000000000"))
    with pytest.raises(ValidationError, match=f"at most {MAX_DIGITS} digits"):
        Priced(price="0." + "0" * MAX_DIGITS + "1")


def test_validate_when_negative_or_zero_then_accepted_because_risk_reports_it():
    assert Priced(price="-1", qty="0").qty == 0


@pytest.mark.parametrize(("text", "places"), [("10.50", 1), ("100", 0), ("1E+2", 0), ("0.000", 0), ("-0.0001", 4),
                                              ("187.2500000000000000001", 19),
                                              ("1.000000000000000000000000000001", 30)])
def test_decimal_places_when_counted_then_the_digits_as_sent_decide_not_the_28_digit_context(text, places):
    assert decimal_places(Decimal(text)) == places


@given(finite_decimals)
def test_decimal_places_when_any_finite_decimal_then_the_places_of_its_plain_string_without_trailing_zeros(value):
    fraction = decimal_to_str(value).partition(".")[2].rstrip("0")

    assert decimal_places(value) == len(fraction)
