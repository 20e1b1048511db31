"""The risk limits: safe defaults, then a TOML file, then ``RISK_<FIELD>`` environment overrides.

File layout (every key optional; top-level keys are account-wide defaults)::

    max_order_notional = 25000
    price_collar_pct = 5          # percent: a buy limit at most 5 % above the ask, a sell limit 5 % below the bid
    price_sanity_pct = 90         # percent: no limit or stop price further than this from the reference price

    [symbols.AAPL]                # per-symbol overrides of the per-symbol limits
    max_order_qty = 500
    price_collar_pct = 3

A bad limit is a start-up error that names the key and where it came from (``LimitsError``), never a silent
fallback: a typo in a limits file must not leave the service running on a limit nobody chose.
Environment overrides set the account-wide value; a ``[symbols.X]`` override in the file still wins for X.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tradebus_contracts.orders import SYMBOL_PATTERN

__all__ = ["Limits", "SymbolLimits", "LimitsError", "load_limits", "ENV_PREFIX", "PER_SYMBOL_FIELDS"]

ENV_PREFIX = "RISK_"
# Env names that look like a limit: an unknown one is a typo, not another setting (RISK_SIGNING_KEY_PATH is).
_LIMIT_LIKE_ENV = ("RISK_MAX_", "RISK_THROTTLE_", "RISK_PRICE_")
_CONFIG = ConfigDict(frozen=True, strict=True, extra="forbid")
_PLAIN_DECIMAL = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")
_SYMBOL_RE = re.compile(SYMBOL_PATTERN)

class SymbolLimits(BaseModel):
    """Per-symbol overrides; ``None`` means "use the account default"."""

    model_config = _CONFIG

    max_order_notional: Decimal | None = Field(default=None, ge=0)
    max_order_qty: Decimal | None = Field(default=None, ge=0)
    max_position_qty: Decimal | None = Field(default=None, ge=0)
    max_position_notional: Decimal | None = Field(default=None, ge=0)
    max_open_orders_per_symbol: int | None = Field(default=None, ge=0)
    max_daily_notional_per_symbol: Decimal | None = Field(default=None, ge=0)
    price_collar_pct: Decimal | None = Field(default=None, ge=0)
    price_sanity_pct: Decimal | None = Field(default=None, ge=0)
    max_quote_age_s: Decimal | None = Field(default=None, ge=0)
    max_asset_age_s: Decimal | None = Field(default=None, ge=0)


PER_SYMBOL_FIELDS = frozenset(SymbolLimits.model_fields)


class Limits(BaseModel):
    """Active limits. Money in dollars, quantities in shares, ages and windows in seconds. ``price_collar_pct``
    bounds what an order may pay above the ask (a buy limit; a buy stop-limit's limit above its stop) or sell below
    the bid, in percent of that price; ``price_sanity_pct`` bounds every limit and stop price, passive or
    protective, in percent of the reference price (mid, else last). A limit of 0 blocks everything it governs."""

    model_config = _CONFIG

    max_order_notional: Decimal = Field(default=Decimal("50000"), ge=0)
    max_order_qty: Decimal = Field(default=Decimal("10000"), ge=0)
    max_position_qty: Decimal = Field(default=Decimal("20000"), ge=0)
    max_position_notional: Decimal = Field(default=Decimal("100000"), ge=0)
    max_account_gross_exposure: Decimal = Field(default=Decimal("250000"), ge=0)
    max_open_orders: int = Field(default=50, ge=0)
    max_open_orders_per_symbol: int = Field(default=10, ge=0)
    max_daily_notional: Decimal = Field(default=Decimal("500000"), ge=0)
    max_daily_notional_per_symbol: Decimal = Field(default=Decimal("200000"), ge=0)
    price_collar_pct: Decimal = Field(default=Decimal("10"), ge=0)
    price_sanity_pct: Decimal = Field(default=Decimal("90"), ge=0)
    throttle_max_orders: int = Field(default=10, ge=0)
    throttle_window_s: Decimal = Field(default=Decimal("1"), gt=0)
    max_quote_age_s: Decimal = Field(default=Decimal("60"), ge=0)
    max_account_age_s: Decimal = Field(default=Decimal("300"), ge=0)
    max_asset_age_s: Decimal = Field(default=Decimal("86400"), ge=0)
    symbols: dict[str, SymbolLimits] = Field(default_factory=dict)

    def for_symbol(self, symbol: str) -> Limits:
        """The limits that apply to an order in ``symbol``: account defaults with its overrides applied.
        The view carries no ``symbols`` table of its own (so limits without one are their own view)."""
        if not self.symbols:
            return self
        overrides = self.symbols.get(symbol)
        update: dict[str, Any] = {"symbols": {}}
        if overrides is not None:
            update |= overrides.model_dump(exclude_none=True)
        return self.model_copy(update=update)

    def describe(self) -> dict[str, Any]:
        """The active limits as plain JSON values (decimals as strings), overrides listed per symbol."""
        data = self.model_dump(mode="json", exclude={"symbols"})
        data["symbols"] = {s: o.model_dump(mode="json", exclude_none=True) for s, o in sorted(self.symbols.items())}
        return data

    @property
    def throttle_window(self) -> timedelta:
        return timedelta(seconds=float(self.throttle_window_s))


ACCOUNT_FIELDS = frozenset(Limits.model_fields) - {"symbols"}


class LimitsError(ValueError):
    """A limit that cannot be used; ``key`` and ``source`` say which one and where it came from."""

    def __init__(self, key: str, source: str, problem: str) -> None:
        super().__init__(f"risk limit {key!r} from {source}: {problem}")
        self.key = key
        self.source = source


def load_limits(path: Path | None, env: Mapping[str, str]) -> Limits:
    """Defaults < ``path`` (TOML, optional) < ``RISK_<FIELD>`` variables in ``env``."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if path is not None:
        _merge_file(path, values, sources)
    _merge_env(env, values, sources)
    try:
        return Limits(**values)
    except ValidationError as exc:  # constraints (>= 0, > 0) not already caught while coercing
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"])
        raise LimitsError(key, sources.get(key, "defaults"), error["msg"]) from None


def _read_toml(path: Path) -> dict[str, Any]:
    source = f"file {path}"
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle, parse_float=Decimal)  # 0.1 stays exactly 0.1
    except FileNotFoundError:
        raise LimitsError("*", source, "the limits file does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise LimitsError("*", source, f"not valid TOML: {exc}") from None


def _merge_file(path: Path, values: dict[str, Any], sources: dict[str, str]) -> None:
    source = f"file {path}"
    for key, raw in _read_toml(path).items():
        if key == "symbols":
            values["symbols"] = _symbol_tables(raw, source, sources)
            continue
        if key not in ACCOUNT_FIELDS:
            raise LimitsError(key, source, f"unknown limit; known limits: {', '.join(sorted(ACCOUNT_FIELDS))}")
        values[key] = _coerce(key, raw, source)
        sources[key] = source


def _symbol_tables(raw: Any, source: str, sources: dict[str, str]) -> dict[str, SymbolLimits]:
    if not isinstance(raw, dict):
        raise LimitsError("symbols", source, "must be a table of [symbols.<SYMBOL>] tables")
    tables: dict[str, SymbolLimits] = {}
    for symbol, table in raw.items():
        where = f"symbols.{symbol}"
        if not _SYMBOL_RE.fullmatch(symbol):
            raise LimitsError(where, source, "not a symbol like 'AAPL' or 'BRK.B'")
        if not isinstance(table, dict):
            raise LimitsError(where, source, "must be a table of limits")
        overrides: dict[str, Any] = {}
        for key, value in table.items():
            if key not in PER_SYMBOL_FIELDS:
                problem = ("is account-wide and cannot be set per symbol" if key in ACCOUNT_FIELDS
                           else f"unknown per-symbol limit; known: {', '.join(sorted(PER_SYMBOL_FIELDS))}")
                raise LimitsError(f"{where}.{key}", source, problem)
            overrides[key] = _coerce(f"{where}.{key}", value, source, field=key)
            sources[f"{where}.{key}"] = source
        tables[symbol] = SymbolLimits(**overrides)
    return tables


def _merge_env(env: Mapping[str, str], values: dict[str, Any], sources: dict[str, str]) -> None:
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX):].lower()
        source = f"environment variable {name}"
        if key in ACCOUNT_FIELDS:
            values[key] = _coerce(key, raw, source)
            sources[key] = source
        elif name.startswith(_LIMIT_LIKE_ENV):
            raise LimitsError(key, source, "unknown limit (a typo?); known limits: "
                              + ", ".join(f"{ENV_PREFIX}{k.upper()}" for k in sorted(ACCOUNT_FIELDS)))


def _coerce(key: str, raw: Any, source: str, *, field: str | None = None) -> Decimal | int:
    """A TOML/env value as the field's type, refusing anything ambiguous (bools, floats, exponents)."""
    field = field or key
    wants_int = Limits.model_fields[field].annotation is int
    if isinstance(raw, bool) or not isinstance(raw, int | Decimal | str):
        raise LimitsError(key, source, f"must be a number, got {raw!r}")
    if isinstance(raw, str):
        text = raw.strip()
        if not _PLAIN_DECIMAL.fullmatch(text):
            raise LimitsError(key, source, f"must be a plain decimal number like '1000' or '2.5', got {raw!r}")
        try:
            raw = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid literals
            raise LimitsError(key, source, f"not a number: {raw!r}") from None
    value = Decimal(raw)
    if not value.is_finite():
        raise LimitsError(key, source, f"must be finite, got {raw!r}")
    if value < 0:
        raise LimitsError(key, source, f"must not be negative, got {value}")
    if wants_int:
        if value != value.to_integral_value():
            raise LimitsError(key, source, f"must be a whole number, got {value}")
        return int(value)
    return value
