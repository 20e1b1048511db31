"""Reference data: what the broker knows (assets, account, positions, quotes), shared over a JetStream KV bucket.

Only the order gateway holds broker credentials (DESIGN §5.5), so it is the one writer of the ``REFDATA`` bucket;
the risk service and others read and watch it. Every entry carries ``as_of`` (when the broker said so), so a
reader can refuse data that is too old instead of guessing.

Keys (one NATS-safe token per symbol, ``BRK.B`` -> ``BRK_B``, as in subjects):

    assets.<SYMBOL>      AssetRef
    quotes.<SYMBOL>      QuoteRef
    positions.<SYMBOL>   PositionRef (deleted when flat)
    account              AccountRef
    clock                ClockRef      (the broker's market clock)
    calendar             CalendarRef   (trading days around today, with their session times)

Values are JSON with the same strict rules as events (decimal strings, aware UTC datetimes, no unknown fields).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel

from tradebus_contracts.decimal_types import Money, Quantity
from tradebus_contracts.envelope import MODEL_CONFIG, UtcDatetime
from tradebus_contracts.orders import Symbol
from tradebus_contracts.subjects import symbol_from_token, symbol_token

__all__ = [
    "REFDATA_BUCKET",
    "AssetRef",
    "QuoteRef",
    "PositionRef",
    "AccountRef",
    "asset_key",
    "quote_key",
    "position_key",
    "ACCOUNT_KEY",
    "ClockRef",
    "CalendarDay",
    "CalendarRef",
    "CLOCK_KEY",
    "CALENDAR_KEY",
    "parse_key",
    "REFDATA_DESCRIPTION",
]

REFDATA_BUCKET = "REFDATA"
REFDATA_DESCRIPTION = "broker reference data, written by order-gateway"  # the bucket's description, as created
ACCOUNT_KEY = "account"
CLOCK_KEY = "clock"
CALENDAR_KEY = "calendar"


class AssetRef(BaseModel):
    model_config = MODEL_CONFIG

    symbol: Symbol
    tradable: bool
    fractionable: bool
    shortable: bool
    as_of: UtcDatetime


class QuoteRef(BaseModel):
    model_config = MODEL_CONFIG

    symbol: Symbol
    bid: Money
    ask: Money
    last: Money | None = None
    as_of: UtcDatetime


class PositionRef(BaseModel):
    model_config = MODEL_CONFIG

    symbol: Symbol
    qty: Quantity  # signed: negative is short
    avg_entry_price: Money
    market_value: Money
    as_of: UtcDatetime


class AccountRef(BaseModel):
    model_config = MODEL_CONFIG

    buying_power: Money
    equity: Money
    cash: Money
    as_of: UtcDatetime


class ClockRef(BaseModel):
    """The broker's market clock: ``timestamp`` is the broker's time when it answered."""

    model_config = MODEL_CONFIG

    is_open: bool
    next_open: UtcDatetime
    next_close: UtcDatetime
    timestamp: UtcDatetime
    as_of: UtcDatetime


class CalendarDay(BaseModel):
    model_config = MODEL_CONFIG

    date: date
    open: UtcDatetime
    close: UtcDatetime


class CalendarRef(BaseModel):
    """Trading days as the broker's calendar gives them (holidays absent, early closes with their close)."""

    model_config = MODEL_CONFIG

    days: list[CalendarDay]
    as_of: UtcDatetime


def asset_key(symbol: str) -> str:
    return f"assets.{symbol_token(symbol)}"


def quote_key(symbol: str) -> str:
    return f"quotes.{symbol_token(symbol)}"


def position_key(symbol: str) -> str:
    return f"positions.{symbol_token(symbol)}"


def parse_key(key: str) -> tuple[Literal["assets", "quotes", "positions", "account", "clock", "calendar"], str | None]:
    """``"quotes.BRK_B" -> ("quotes", "BRK.B")``; ``"account" -> ("account", None)``."""
    if key in (ACCOUNT_KEY, CLOCK_KEY, CALENDAR_KEY):
        return key, None  # type: ignore[return-value]
    kind, _, token = key.partition(".")
    if kind not in ("assets", "quotes", "positions") or not token:
        raise ValueError(f"not a reference-data key: {key!r}")
    return kind, symbol_from_token(token)  # type: ignore[return-value]
