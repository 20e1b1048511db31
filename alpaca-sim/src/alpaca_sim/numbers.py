"""Decimal parsing and Alpaca's string-decimal formatting (money is never a float)."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from .errors import invalid

CENT = Decimal("0.01")
SUB_DOLLAR_TICK = Decimal("0.0001")
MAX_QTY_DECIMALS = 9
# far beyond any real order, and small enough that every product and quantize stays exact in 28 digits
MAX_MAGNITUDE = Decimal("1e12")


def parse_decimal(value: Any, field: str) -> Decimal:
    """Accept JSON numbers and strings (alpaca-py sends floats); refuse anything else. A JSON number arrives as a
    Decimal with every digit as sent (``web.read_json``); a float only from a Python caller."""
    if isinstance(value, bool) or value is None:
        raise invalid(f"invalid {field}")
    if isinstance(value, float):
        value = repr(value)
    elif isinstance(value, str):
        value = value.strip()
    try:
        number = Decimal(value) if isinstance(value, (str, int, Decimal)) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise invalid(f"invalid {field}")
    if abs(number) >= MAX_MAGNITUDE or (number and abs(number) < Decimal("1e-12")):
        raise invalid(f"{field} is out of range")
    return number


def optional_decimal(value: Any, field: str) -> Decimal | None:
    return None if value is None or value == "" else parse_decimal(value, field)


def fmt(number: Decimal | None) -> str | None:
    """Alpaca's decimal strings: no exponent, no trailing zeros ("10", "187.5")."""
    if number is None:
        return None
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def tick_for(price: Decimal) -> Decimal:
    return CENT if price >= 1 else SUB_DOLLAR_TICK


def round_price(price: Decimal) -> Decimal:
    return price.quantize(tick_for(price), rounding=ROUND_HALF_UP)


def round_qty_down(qty: Decimal) -> Decimal:
    return qty.quantize(Decimal(1).scaleb(-MAX_QTY_DECIMALS), rounding=ROUND_DOWN)


def is_sub_penny(price: Decimal) -> bool:
    return price % tick_for(price) != 0
