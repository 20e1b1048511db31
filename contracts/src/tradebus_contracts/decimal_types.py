"""Decimal money and quantities that travel as JSON strings.

Why strings: a JSON number is read as a binary float by most decoders (JavaScript, jq, many Python
stacks), and ``1.1`` becomes ``1.100000000000000088...``. Money and share quantities must survive every hop
exactly, so on the wire they are decimal *strings* and a JSON number is refused outright, with a message that
says so. Inside Python the value is a ``decimal.Decimal``.

Rules (the same for every money/quantity field in every event):

- Python input: ``Decimal``, ``int`` (not ``bool``) or ``str``. A ``float`` is refused even in Python: by the
  time it is a float the damage is done.
- JSON input: only a string. ``1.1`` (float) and ``5`` (int) are both refused.
- Strings use plain decimal notation: optional sign, digits, optional fraction (``"10.50"``, ``"-3"``,
  ``"0.001"``). No exponent, no whitespace, no ``_`` separators: one spelling per value on the wire.
- NaN and Infinity are refused (``Decimal`` would otherwise accept them).
- At most ``MAX_DIGITS`` digits in the plain rendering: a sanity bound so that ``Decimal("1E+100000")`` cannot
  turn into a 100 kB string.
- Output (JSON): ``format(d, "f")``, which never uses scientific notation and keeps the exponent, so ``"10.50"``
  stays ``"10.50"`` and ``Decimal -> JSON -> Decimal`` gives back an equal value with the same string.

No sign or range rules live here on purpose: risk rejects ``qty <= 0`` with a reason code, so the contract must
be able to carry such a value to the risk service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

__all__ = ["MAX_DIGITS", "DECIMAL_PATTERN", "DecimalString", "Money", "Quantity", "Ratio", "decimal_places",
           "decimal_to_str"]

MAX_DIGITS = 40
DECIMAL_PATTERN = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$"  # ASCII digits only: \d admits other scripts
_DECIMAL_RE = re.compile(DECIMAL_PATTERN)


def decimal_to_str(value: Decimal) -> str:
    """The one wire spelling of a decimal: plain notation, exponent (trailing zeros) kept."""
    return format(value, "f")


def decimal_places(value: Decimal) -> int:
    """Decimal places that matter, counted on the digits as sent: ``10.50`` has 1, ``100`` has 0,
    ``1.000000000000000000000000000001`` has 30. The one way to count them (risk's QTY_TOO_MANY_DECIMALS and
    SUB_PENNY_PRICE, alpaca-sim's 422): ``normalize()`` would round to the context's 28 digits first and find 0."""
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # NaN or Infinity: no places to count
        return 0
    significant = len(digits)
    while significant and digits[significant - 1] == 0:
        significant -= 1
    if not significant:  # zero, however written
        return 0
    return max(0, -(exponent + len(digits) - significant))


def _plain_digit_count(value: Decimal) -> int:
    """Digits that ``format(value, "f")`` would print, computed without building the string."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite values only reach here
    if exponent >= 0:
        return 1 if not any(digits) else len(digits) + exponent  # zero prints as "0" whatever its exponent
    return max(len(digits), -exponent + 1)


def _error(kind: str, problem: str, value: Any) -> PydanticCustomError:
    return PydanticCustomError(
        "decimal_string",
        "{kind} must be {problem}, got {got}",
        {"kind": kind, "problem": problem, "got": _describe(value)},
    )


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"


@dataclass(frozen=True, slots=True)
class DecimalString:
    """Pydantic marker for ``Annotated[Decimal, DecimalString("money")]``; ``kind`` names the value in errors."""

    kind: str

    def _check(self, value: Decimal, original: Any) -> Decimal:
        if not value.is_finite():
            raise _error(self.kind, "a finite decimal (no NaN or Infinity)", original)
        if _plain_digit_count(value) > MAX_DIGITS:
            raise _error(self.kind, f"at most {MAX_DIGITS} digits in plain notation", original)
        return value

    def _from_str(self, text: str) -> Decimal:
        if not _DECIMAL_RE.fullmatch(text):
            lowered = text.strip().lower().lstrip("+-")
            if lowered in {"nan", "snan", "inf", "infinity"}:
                raise _error(self.kind, "a finite decimal (no NaN or Infinity)", text)
            raise _error(self.kind, "a plain decimal string like '10.50'", text)
        try:
            return self._check(Decimal(text), text)
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid literals
            raise _error(self.kind, "a plain decimal string like '10.50'", text) from None

    def validate_json(self, value: Any) -> Decimal:
        """From JSON: strings only. A JSON number is the float problem this type exists to prevent."""
        if isinstance(value, str):
            return self._from_str(value)
        raise _error(self.kind, "a decimal string", value)

    def validate_python(self, value: Any) -> Decimal:
        if isinstance(value, Decimal):
            return self._check(value, value)
        if isinstance(value, str):
            return self._from_str(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return self._check(Decimal(value), value)
        raise _error(self.kind, "a Decimal, int or decimal string", value)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.json_or_python_schema(
            json_schema=core_schema.no_info_plain_validator_function(self.validate_json),
            python_schema=core_schema.no_info_plain_validator_function(self.validate_python),
            serialization=core_schema.plain_serializer_function_ser_schema(
                decimal_to_str, when_used="json", return_schema=core_schema.str_schema()
            ),
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "pattern": DECIMAL_PATTERN,
            "description": f"{self.kind} as a decimal string (never a JSON number)",
            "examples": ["10.50"],
        }


Money = Annotated[Decimal, DecimalString("money")]
"""Prices, notionals, cost bases, cash amounts."""

Quantity = Annotated[Decimal, DecimalString("quantity")]
"""Share quantities (fractional allowed), filled and position quantities."""

Ratio = Annotated[Decimal, DecimalString("ratio")]
"""Dimensionless ratios, e.g. a split's new shares per old share."""
