"""A live, read-only mirror of the ``REFDATA`` KV bucket (assets, quotes, positions, account, clock, calendar).

The order gateway, the only holder of broker credentials, writes the bucket (tradebus_contracts.refdata); every
other service that needs broker facts watches it through this mirror and keeps the latest value of each key in
memory, as the contract's models. Nothing here guesses: a missing or unreadable entry is simply absent, and each
entry's ``as_of`` lets the reader refuse data that is too old.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from nats.js import JetStreamContext
from nats.js.kv import KV_DEL, KV_PURGE
from pydantic import ValidationError

from tradebus_contracts.projection import EXACT
from tradebus_contracts.refdata import (
    REFDATA_BUCKET,
    REFDATA_DESCRIPTION,
    AccountRef,
    AssetRef,
    CalendarRef,
    ClockRef,
    PositionRef,
    QuoteRef,
    parse_key,
)

from .bus import ensure_kv
from .logging import get_logger

log = get_logger(__name__)
_MODELS: dict[str, Any] = {"assets": AssetRef, "quotes": QuoteRef, "positions": PositionRef}
_SINGLES: dict[str, Any] = {"account": AccountRef, "clock": ClockRef, "calendar": CalendarRef}  # keys without a symbol


class RefDataMirror:
    def __init__(self) -> None:
        self.assets: dict[str, AssetRef] = {}
        self.quotes: dict[str, QuoteRef] = {}
        self.positions: dict[str, PositionRef] = {}
        self.account: AccountRef | None = None
        self.clock: ClockRef | None = None
        self.calendar: CalendarRef | None = None
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._gross = Decimal(0)  # the sum of |market value| over self.positions, kept as entries come and go

    def position_qty(self, symbol: str) -> Decimal:
        position = self.positions.get(symbol)
        return position.qty if position is not None else Decimal(0)

    def gross_exposure(self) -> Decimal:
        """The settled positions' gross value (constant time: risk asks once per decision)."""
        return self._gross

    def apply(self, key: str, value: bytes | None) -> None:
        """Apply one KV entry (``None`` = deleted). Bad entries are logged and ignored, never fatal."""
        try:
            kind, symbol = parse_key(key)
        except ValueError:
            log.warning("refdata.unknown_key", key=key)
            return
        try:
            if symbol is None:  # account, clock, calendar
                setattr(self, kind, None if value is None else _SINGLES[kind].model_validate_json(value))
                return
            table: dict[str, Any] = getattr(self, kind)
            entry = None if value is None else _MODELS[kind].model_validate_json(value)
            before = table.pop(symbol, None) if entry is None else table.get(symbol)
            if entry is not None:
                table[symbol] = entry
            if kind == "positions":
                self._gross = EXACT.add(EXACT.subtract(self._gross, abs(before.market_value) if before else 0),
                                        abs(entry.market_value) if entry else 0)
        except ValidationError as exc:
            log.warning("refdata.invalid_entry", key=key, error=str(exc)[:300])

    async def start(self, js: JetStreamContext, timeout: float = 10.0) -> None:
        """Load every current entry (returns once they are in), then follow changes in the background."""
        kv = await ensure_kv(js, REFDATA_BUCKET, REFDATA_DESCRIPTION)
        watcher = await kv.watchall()
        self._task = asyncio.create_task(self._follow(watcher), name="refdata-watch")
        await asyncio.wait_for(self.ready.wait(), timeout=timeout)

    async def _follow(self, watcher: Any) -> None:
        async for entry in watcher:
            if entry is None:  # end of the initial values
                self.ready.set()
                log.info("refdata.loaded", assets=len(self.assets), quotes=len(self.quotes),
                         positions=len(self.positions), account=self.account is not None)
                continue
            deleted = entry.operation in (KV_DEL, KV_PURGE)
            self.apply(entry.key, None if deleted else entry.value)

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
