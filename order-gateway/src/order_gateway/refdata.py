"""Keeping the ``REFDATA`` KV bucket current: the other services' only view of the broker (DESIGN §5.5).

Assets on start and hourly; account and positions every ``account_interval_s``; latest quotes every
``quote_interval_s`` for the watched symbols: the configured ones, those with a position, and any symbol someone
asks an order for (we listen to ``orders.requested.*`` and fetch its quote at once, so risk sees it in time).
The positions also go to `BrokerPositions`, for the gateway's own REDUCING gate. Every broker call here takes its
token from the adapter's rate limiter, like any other.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.errors import NoKeysError
from nats.js.kv import KeyValue
from pydantic import BaseModel

from tradebus_contracts.refdata import (
    ACCOUNT_KEY,
    AccountRef,
    AssetRef,
    PositionRef,
    QuoteRef,
    asset_key,
    parse_key,
    position_key,
    quote_key,
)
from tradebus_contracts.subjects import parse_subject, subject_filter
from tradebus_runtime import get_logger

from .broker import Broker, BrokerError, dec, parse_time
from .positions import BrokerPositions

log = get_logger(__name__)
ASSET_REFRESH_S = 3600.0


class RefDataPublisher:
    def __init__(self, broker: Broker, kv: KeyValue, positions: BrokerPositions, *, watch: set[str],
                 quote_interval_s: float, account_interval_s: float, max_auto_watch: int = 100) -> None:
        self.broker = broker
        self.kv = kv
        self.positions = positions  # written here only; the approval handler reads it
        self.watch = set(watch)
        self.quote_interval_s = quote_interval_s
        self.account_interval_s = account_interval_s
        self.max_auto_watch = max_auto_watch
        self.tradable: set[str] = set()

    async def start(self, nc: NATS) -> None:
        """Follow order requests (to watch their symbols), then load everything once."""
        await nc.subscribe(subject_filter("orders.requested"), cb=self._on_request)
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

    async def run(self) -> None:
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

    async def _put(self, key: str, model: BaseModel) -> None:
        await self.kv.put(key, model.model_dump_json().encode())

    async def refresh_assets(self) -> None:
        assets = await self.broker.assets()
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
        account = await self.broker.account()
        # stamped when asked, not when answered: a fill recorded before this moment is in the answer (projection)
        now = datetime.now(UTC)
        positions = await self.broker.positions()
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
        first = not self.positions.known
        gone = self.positions.replace(held, as_of=now)
        if first:  # after a restart: entries of positions closed while we were down are still in the bucket
            gone |= await self._stored_position_symbols() - set(held)
        for symbol in gone:
            await self.kv.delete(position_key(symbol))
        self.watch |= set(held)

    async def _stored_position_symbols(self) -> set[str]:
        try:
            keys = await self.kv.keys()  # (nats-py's key filters match nothing here: filter below)
        except NoKeysError:
            return set()
        symbols = set()
        for key in keys:
            try:
                kind, symbol = parse_key(key)
            except ValueError:  # not ours to judge
                continue
            if kind == "positions" and symbol is not None:
                symbols.add(symbol)
        return symbols

    async def refresh_quotes(self) -> None:
        if self.watch:
            await self._publish_quotes(sorted(self.watch))

    async def _publish_quotes(self, symbols: list[str]) -> None:
        quotes = await self.broker.latest_quotes(symbols)
        for symbol, q in quotes.items():
            bid, ask = dec(q.get("bp")), dec(q.get("ap"))
            if bid is None or ask is None:
                continue
            as_of = parse_time(q.get("t")) or datetime.now(UTC)
            await self._put(quote_key(symbol), QuoteRef(symbol=symbol, bid=bid, ask=ask, last=None, as_of=as_of))
