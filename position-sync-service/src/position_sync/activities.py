"""Broker activities as the ledger reads them: one leg of a corporate action or a dividend, from a plain dict
shaped like Alpaca's account activities.

Two shapes are read, because the shells will see both: the Activity SSE / v2 events (``event_id``,
``activity_subtype``, the type's own fields under ``details``: ``group_id``, ``ca_id``, ``symbol``, ``old_rate``,
``new_rate``, ``ex_date``, …) and the REST v1 non-trade activities (``id``, ``activity_sub_type``, ``symbol``,
``group_id``, ``per_share_amount`` at the top). Every number is read with ``Decimal(str(x))``: Alpaca sends
decimal strings, and a JSON number that slipped through is read by its shortest spelling, never as a binary float.
The raw ``details`` are kept on the leg, so nothing the broker said is lost.

A leg's role comes from its quantity and cash (Alpaca's samples: a removal leg ``qty < 0`` at the old per-share
basis, an allocation leg ``qty > 0`` at the new one, both ``net_amount`` 0, sharing ``group_id`` and ``ca_id``); a
dividend, a leg that moves cash (``net_amount`` ≠ 0, whatever its quantity: no sample of a merger's cash leg was
seen) or a leg with no quantity is a cash leg. Its symbol is the top-level ``symbol`` when there is one (v1),
otherwise the details' symbol for its role: ``old_symbol`` / ``acquiree_symbol`` for a removal, ``new_symbol`` /
``acquirer_symbol`` for an allocation, ``symbol`` for anything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Mapping


class InvalidActivity(ValueError):
    """An activity that cannot be read (no id, no type, a number that is not one): a poison message."""


class LegRole(StrEnum):
    REMOVAL = "removal"
    ALLOCATION = "allocation"
    CASH = "cash"


_REMOVAL_SYMBOL_KEYS = ("old_symbol", "acquiree_symbol", "symbol")
_ALLOCATION_SYMBOL_KEYS = ("new_symbol", "acquirer_symbol", "symbol")
_DATE_KEYS = ("ex_date", "effective_date", "position_date", "payable_date")


@dataclass(frozen=True, slots=True)
class ActivityLeg:
    leg_id: str
    activity_type: str
    subtype: str | None
    status: str
    symbol: str | None
    qty: Decimal | None
    price: Decimal | None
    net_amount: Decimal | None
    group_id: str | None
    ca_id: str | None
    previous_id: str | None
    effective: date | None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def role(self) -> LegRole:
        if self.activity_type.startswith("DIV") or self.net_amount or not self.qty:
            return LegRole.CASH
        return LegRole.REMOVAL if _removes(self.qty, self.details) else LegRole.ALLOCATION

    @property
    def action_id(self) -> str:
        """The key an action is applied once under: its group, else its corporate action, else the leg itself."""
        return self.group_id or self.ca_id or self.leg_id

    def number(self, *keys: str) -> Decimal | None:
        """The first of ``keys`` present in the details (then the top level of v1 rows), as a Decimal."""
        for key in keys:
            value = to_decimal(self.details.get(key), key)
            if value is not None:
                return value
        return None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ActivityLeg:
        details = raw.get("details") or {}
        if not isinstance(details, Mapping):
            raise InvalidActivity(f"details must be an object, got {type(details).__name__}")
        merged = {**raw, **details}  # v1 rows keep everything at the top; v2 events under details
        leg_id = _text(raw.get("event_id") or raw.get("id") or raw.get("ref_id"))
        activity_type = _text(raw.get("activity_type"))
        if not leg_id or not activity_type:
            raise InvalidActivity("an activity needs an id (event_id, id or ref_id) and an activity_type")
        qty = to_decimal(raw.get("qty"), "qty")
        keys = _REMOVAL_SYMBOL_KEYS if qty is not None and _removes(qty, merged) else _ALLOCATION_SYMBOL_KEYS
        symbol = _text(raw.get("symbol")) or next((_text(details[k]) for k in keys if details.get(k)), None)
        return cls(
            leg_id=leg_id,
            activity_type=activity_type.upper(),
            subtype=(_text(raw.get("activity_subtype") or raw.get("activity_sub_type")) or "").upper() or None,
            status=(_text(raw.get("status")) or "executed").lower(),
            symbol=symbol.upper() if symbol else None,
            qty=qty,
            price=to_decimal(raw.get("price"), "price"),
            net_amount=to_decimal(raw.get("net_amount"), "net_amount"),
            group_id=_text(merged.get("group_id")),
            ca_id=_text(merged.get("ca_id")),
            previous_id=_text(raw.get("previous_id")),
            effective=_first_date(merged),
            details=merged,
        )


def _removes(qty: Decimal, values: Mapping[str, Any]) -> bool:
    """Whether a leg of ``qty`` takes the old position away. A leg's quantity is the position's change, so it is
    negative when it removes a long and positive when it removes a short (alpaca-sim books a short's legs with the
    position's sign; Alpaca's samples are all long). The position before the action (``old_qty`` of a split,
    ``position_qty`` of a symbol change), when the leg carries it, says which side it was on; without it, long."""
    before = to_decimal(values.get("old_qty", values.get("position_qty")), "old_qty")
    return qty > 0 if before is not None and before < 0 else qty < 0


def to_decimal(value: Any, name: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidActivity(f"{name} must be a decimal, got a boolean")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidActivity(f"{name} must be a decimal, got {value!r}") from None
    if not number.is_finite():
        raise InvalidActivity(f"{name} must be finite, got {value!r}")
    return number


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _first_date(values: Mapping[str, Any]) -> date | None:
    for key in (*_DATE_KEYS, "settle_date", "date"):
        text = _text(values.get(key))
        if text:
            try:
                return date.fromisoformat(text[:10])
            except ValueError:
                raise InvalidActivity(f"{key} must be a date, got {text!r}") from None
    return None
