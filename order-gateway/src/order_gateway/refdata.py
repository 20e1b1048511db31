"""Keeping the ``REFDATA`` KV bucket current: the other services' only view of the broker (DESIGN §5.5).

Assets on start and hourly; account and positions every ``account_interval_s``; latest quotes every
``quote_interval_s`` for the watched symbols: the configured ones, those with a position, and any symbol someone
asks an order for (we listen to ``orders.requested.*`` and fetch its quote at once, so risk sees it in time).
The positions are also kept in memory for the gateway's own REDUCING check.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from nats.aio.msg import Msg
from nats.js.kv import KeyValue

from tradebus_contracts.refdata import (
    ACCOUNT_KEY,
    REFDATA_BUCKET,
    AccountRef,
    AssetRef,
    PositionRef,
    QuoteRef,
    asset_key,
    position_key,
    quote_key,
)
from tradebus_contracts.subjects import parse_subject, subject_filter
from tradebus_runtime import get_logger
from tradebus_runtime.bus import ensure_kv

from .broker import BrokerError, dec, parse_time
from .context import Context

log = get_logger(__name__)
ASSET_REFRESH_S = 3600.0


class RefDataPublisher:
    def __init__(self, ctx: Context, *, watch: set[str], quote_interval_s: float, account_interval_s: float,
                 max_auto_watch: int = 100) -> None:
        self.ctx = ctx
        self.watch = set(watch)
        self.quote_interval_s = quote_interval_s
        self.account_interval_s = account_interval_s
        self.max_auto_watch = max_auto_watch
        self.kv: KeyValue | None = None
        self.tradable: set[str] = set()
        self.published = 0

    async def start(self, _: Any = None) -> None:
        self.kv = await ensure_kv(self.ctx.bus.js, REFDATA_BUCKET, "broker reference data, written by order-gateway")
        await self.ctx.bus.nc.subscribe(subject_filter("orders.requested"), cb=self._on_request)
        try:
            await self.refresh_assets()
            await self.refresh_account()
            await self.refresh_quotes()
        except BrokerError as exc:  # the loops retry; risk rejects on missing data meanwhile
            log.warning("refdata.initial_load_failed", error=exc.message)

    async def _on_request(self, msg: Msg) -> None:
        try:
            symbol = parse_subject(msg.subject).symbol
        except ValueError:
            return
        if symbol and symbol not in self.watch and symbol in self.tradable:
            self.watch.add(symbol)
            try:
                await self._publish_quotes([symbol])
            except BrokerError as exc:
                log.warning("refdata.quote_failed", symbol=symbol, error=exc.message)

    async def run(self, _: Any = None) -> None:
        next_assets = time.monotonic() + ASSET_REFRESH_S
        next_account = 0.0
        while True:
            await asyncio.sleep(self.quote_interval_s)
            try:
                await self.refresh_quotes()
                if time.monotonic() >= next_account:
                    await self.refresh_account()
                    next_account = time.monotonic() + self.account_interval_s
                if time.monotonic() >= next_assets:
                    await self.refresh_assets()
                    next_assets = time.monotonic() + ASSET_REFRESH_S
            except BrokerError as exc:
                log.warning("refdata.refresh_failed", error=exc.message)

    async def _put(self, key: str, model: Any) -> None:
        assert self.kv is not None
        await self.kv.put(key, model.model_dump_json().encode())
        self.published += 1

    async def refresh_assets(self) -> None:
        await self.ctx.limiter.acquire()
        assets = await self.ctx.broker.assets()
        now = datetime.now(UTC)
        tradable = []
        for a in assets:
            symbol = str(a.get("symbol", ""))
            if str(a.get("class", "us_equity")) != "us_equity" or not symbol:
                continue
            try:
                ref = AssetRef(symbol=symbol, tradable=bool(a.get("tradable")), fractionable=bool(a.get("fractionable")),
                               shortable=bool(a.get("shortable")) and bool(a.get("easy_to_borrow", True)), as_of=now)
            except ValueError:
                continue  # a symbol our contracts cannot carry (e.g. with '/'): not tradable through tradebus
            await self._put(asset_key(symbol), ref)
            if ref.tradable:
                tradable.append(symbol)
        self.tradable = set(tradable)
        if not self.watch and len(tradable) <= self.max_auto_watch:
            self.watch = set(tradable)
        log.info("refdata.assets", assets=len(assets), tradable=len(tradable), watched=len(self.watch))

    async def refresh_account(self) -> None:
        await self.ctx.limiter.acquire()
        account = await self.ctx.broker.account()
        await self.ctx.limiter.acquire()
        positions = await self.ctx.broker.positions()
        now = datetime.now(UTC)
        await self._put(ACCOUNT_KEY, AccountRef(
            buying_power=dec(account.get("buying_power")) or Decimal(0), equity=dec(account.get("equity")) or Decimal(0),
            cash=dec(account.get("cash")) or Decimal(0), as_of=now))
        held: dict[str, Decimal] = {}
        for p in positions:
            symbol = str(p["symbol"])
            qty = dec(p.get("qty")) or Decimal(0)
            if str(p.get("side", "long")) == "short" and qty > 0:
                qty = -qty
            held[symbol] = qty
            await self._put(position_key(symbol), PositionRef(
                symbol=symbol, qty=qty, avg_entry_price=dec(p.get("avg_entry_price")) or Decimal(0),
                market_value=dec(p.get("market_value")) or Decimal(0), as_of=now))
        assert self.kv is not None
        for gone in set(self.ctx.positions) - set(held):
            await self.kv.delete(position_key(gone))
        self.ctx.positions = held
        self.ctx.positions_known = True
        self.watch |= set(held)

    async def refresh_quotes(self) -> None:
        if self.watch:
            await self._publish_quotes(sorted(self.watch))

    async def _publish_quotes(self, symbols: list[str]) -> None:
        await self.ctx.limiter.acquire()
        quotes = await self.ctx.broker.latest_quotes(symbols)
        for symbol, q in quotes.items():
            bid, ask = dec(q.get("bp")), dec(q.get("ap"))
            if bid is None or ask is None:
                continue
            as_of = parse_time(q.get("t")) or datetime.now(UTC)
            await self._put(quote_key(symbol), QuoteRef(symbol=symbol, bid=bid, ask=ask, last=None, as_of=as_of))
