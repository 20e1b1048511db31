"""The risk service's view of reference data: a live mirror of the ``REFDATA`` KV bucket.

The order gateway (the only holder of broker credentials) writes assets, quotes, positions and the account
into the bucket; we watch it and keep the latest value of each key in memory, as the plain values the checks
take. Nothing here guesses: a missing or unreadable entry is simply absent, and the checks reject with
REFERENCE_DATA_MISSING or *_STALE (by ``as_of``) rather than approving blind.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from nats.js import JetStreamContext
from nats.js.kv import KV_DEL, KV_PURGE
from pydantic import ValidationError

from tradebus_contracts.refdata import (
    REFDATA_BUCKET,
    AccountRef,
    AssetRef,
    PositionRef,
    QuoteRef,
    parse_key,
)
from tradebus_runtime import get_logger
from tradebus_runtime.bus import ensure_kv

from .model import Account, Asset, Quote

log = get_logger(__name__)


class RefData:
    def __init__(self) -> None:
        self.assets: dict[str, Asset] = {}
        self.quotes: dict[str, Quote] = {}
        self.positions: dict[str, PositionRef] = {}
        self.account: Account | None = None
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def position_qty(self, symbol: str) -> Decimal:
        pos = self.positions.get(symbol)
        return pos.qty if pos is not None else Decimal(0)

    def gross_exposure(self) -> Decimal:
        return sum((abs(p.market_value) for p in self.positions.values()), Decimal(0))

    def apply(self, key: str, value: bytes | None) -> None:
        """Apply one KV entry (``None`` = deleted). Bad entries are logged and ignored, never fatal."""
        try:
            kind, symbol = parse_key(key)
        except ValueError:
            log.warning("refdata.unknown_key", key=key)
            return
        try:
            if kind == "account":
                self.account = None if value is None else _account(AccountRef.model_validate_json(value))
            elif kind == "assets":
                _put(self.assets, symbol, None if value is None else _asset(AssetRef.model_validate_json(value)))
            elif kind == "quotes":
                _put(self.quotes, symbol, None if value is None else _quote(QuoteRef.model_validate_json(value)))
            else:
                _put(self.positions, symbol, None if value is None else PositionRef.model_validate_json(value))
        except ValidationError as exc:
            log.warning("refdata.invalid_entry", key=key, error=str(exc)[:300])

    async def start(self, js: JetStreamContext) -> None:
        kv = await ensure_kv(js, REFDATA_BUCKET, "broker reference data, written by order-gateway")
        watcher = await kv.watchall()
        self._task = asyncio.create_task(self._follow(watcher), name="refdata-watch")
        await asyncio.wait_for(self.ready.wait(), timeout=10)

    async def _follow(self, watcher) -> None:  # type: ignore[no-untyped-def]
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


def _put(table: dict, symbol: str | None, value: object) -> None:  # type: ignore[type-arg]
    assert symbol is not None
    if value is None:
        table.pop(symbol, None)
    else:
        table[symbol] = value


def _asset(ref: AssetRef) -> Asset:
    return Asset(symbol=ref.symbol, tradable=ref.tradable, fractionable=ref.fractionable, shortable=ref.shortable,
                 as_of=ref.as_of)


def _quote(ref: QuoteRef) -> Quote:
    return Quote(symbol=ref.symbol, bid=ref.bid, ask=ref.ask, last=ref.last, as_of=ref.as_of)


def _account(ref: AccountRef) -> Account:
    return Account(buying_power=ref.buying_power, equity=ref.equity, as_of=ref.as_of)
