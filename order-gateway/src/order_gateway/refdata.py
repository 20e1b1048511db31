"""Keeping the ``REFDATA`` KV bucket current: the other services' only view of the broker (DESIGN §5.5).

Assets on start and hourly; account and positions every ``account_interval_s`` and shortly after any fill (so the
settled position catches up with a trade within a tick, while an idle account costs few calls). Quotes of the watched symbols —
the configured ones, those with a position, and any symbol someone asks an order for (we listen to
``orders.requested.*`` and fetch its quote at once, so risk sees it in time) — come live from the market-data stream
(`market_stream.MarketStream`, which follows the watch set); the REST poll every ``quote_interval_s`` covers only the
watched symbols the stream does not deliver now (all of them while it is down, or without one). Both write through
one `market_stream.QuoteWriter`. The positions also go to `BrokerPositions`, for the gateway's own REDUCING gate.
Every broker REST call here takes its token from the adapter's rate limiter, like any other.

The market's sessions (`run_sessions`, its own loop): the broker's clock every ``clock_interval_s`` and its
calendar (today −7 … +30 days, New York open/close as UTC datetimes) on start and hourly, sooner after a failure.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from typing import Protocol

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.errors import NoKeysError
from nats.js.kv import KeyValue
from pydantic import BaseModel

from tradebus_contracts.refdata import (
    ACCOUNT_KEY,
    CALENDAR_KEY,
    CLOCK_KEY,
    AccountRef,
    AssetRef,
    CalendarDay,
    CalendarRef,
    ClockRef,
    PositionRef,
    asset_key,
    parse_key,
    position_key,
)
from tradebus_contracts.subjects import parse_subject, subject_filter
from tradebus_contracts.trading_day import NEW_YORK
from tradebus_runtime import get_logger

from .broker import Broker, BrokerError, dec, parse_time
from .market_stream import QuoteWriter
from .positions import BrokerPositions

log = get_logger(__name__)
ASSET_REFRESH_S = 3600.0
FILL_READ_DELAY_S = 0.5  # after a fill, the account and positions are read this soon (fills of a burst share it)


class LiveQuotes(Protocol):
    """A live source of quotes (`market_stream.MarketStream`): told what to follow, says what it delivers now."""

    def covered(self) -> frozenset[str]: ...

    async def follow(self, symbols: set[str]) -> None: ...


class RefDataPublisher:
    def __init__(self, broker: Broker, kv: KeyValue, positions: BrokerPositions, *, watch: set[str],
                 quote_interval_s: float, account_interval_s: float, clock_interval_s: float = 60.0,
                 max_auto_watch: int = 100, quotes: QuoteWriter | None = None, live: LiveQuotes | None = None) -> None:
        self.broker = broker
        self.kv = kv
        self.positions = positions  # written here only; the approval handler reads it
        self.quotes = quotes or QuoteWriter(kv)
        self.live = live
        self.polled: set[str] = set()  # the watched symbols the last REST poll asked for
        self.watch = set(watch)
        self.quote_interval_s = quote_interval_s
        self.account_interval_s = account_interval_s
        self.clock_interval_s = clock_interval_s
        self._next_account = 0.0  # monotonic time of the next account and positions read
        self.max_auto_watch = max_auto_watch
        self.tradable: set[str] = set()

    async def start(self, nc: NATS) -> None:
        """Follow order requests (to watch their symbols) and fills (to read the account soon after), then load
        everything once."""
        await nc.subscribe(subject_filter("orders.requested"), cb=self._on_request)
        await nc.subscribe(subject_filter("fills"), cb=self._on_fill)
        try:
            await self.refresh_assets()
            await self.refresh_account()
            await self.refresh_quotes()
        except BrokerError as exc:  # the loops retry; risk rejects on missing data meanwhile
            log.warning("refdata.initial_load_failed", error=exc.message)
        await self._follow()

    async def _on_fill(self, _: Msg) -> None:
        """A fill changes the account and the positions: read them at the next tick, not a whole interval later
        (one read covers every fill of the tick)."""
        self._next_account = min(self._next_account, time.monotonic() + FILL_READ_DELAY_S)

    async def _on_request(self, msg: Msg) -> None:
        try:
            symbol = parse_subject(msg.subject).symbol
        except ValueError:
            return
        if symbol and symbol not in self.watch and symbol in self.tradable:
            self.watch.add(symbol)
            await self._follow()
            try:
                await self._publish_quotes([symbol])
            except BrokerError as exc:
                log.warning("refdata.quote_failed", symbol=symbol, error=exc.message)

    async def run(self) -> None:
        next_assets = time.monotonic() + ASSET_REFRESH_S
        while True:
            await asyncio.sleep(min(self.quote_interval_s, max(self._next_account - time.monotonic(), 0.05)))
            try:
                await self.refresh_quotes()
                if time.monotonic() >= self._next_account:
                    self._next_account = time.monotonic() + self.account_interval_s
                    try:
                        await self.refresh_account()
                    except BrokerError:  # try again at the next tick
                        self._next_account = time.monotonic() + self.quote_interval_s
                        raise
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
            await self._follow()
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
        if not set(held) <= self.watch:
            self.watch |= set(held)
            await self._follow()

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

    async def _follow(self) -> None:
        if self.live is not None:
            await self.live.follow(set(self.watch))

    async def refresh_quotes(self) -> None:
        """REST quotes for the watched symbols the live stream does not deliver now."""
        polled = self.watch - (self.live.covered() if self.live is not None else frozenset())
        if self.live is not None and polled != self.polled:
            log.info("refdata.quote_polling", polled=len(polled), live=len(self.watch) - len(polled))
        self.polled = polled
        if polled:
            await self._publish_quotes(sorted(polled))

    async def _publish_quotes(self, symbols: list[str]) -> None:
        quotes = await self.broker.latest_quotes(symbols)
        for symbol, q in quotes.items():
            bid, ask = dec(q.get("bp")), dec(q.get("ap"))
            if bid is None or ask is None:
                continue
            self.quotes.quote(symbol, bid, ask, parse_time(q.get("t")) or datetime.now(UTC))

    # ---- the market's sessions: clock and calendar ----------------------------------------------------------------
    async def run_sessions(self) -> None:
        calendar_due = 0.0
        while True:
            try:
                await self.refresh_clock()
                if time.monotonic() >= calendar_due:
                    calendar_due = time.monotonic() + self.clock_interval_s  # retried soon if this fails
                    await self.refresh_calendar()
                    calendar_due = time.monotonic() + ASSET_REFRESH_S
            except BrokerError as exc:
                log.warning("refdata.sessions_failed", error=exc.message)
            await asyncio.sleep(self.clock_interval_s)

    async def refresh_clock(self) -> None:
        now = datetime.now(UTC)
        clock = await self.broker.clock()
        await self._put(CLOCK_KEY, ClockRef(
            is_open=bool(clock["is_open"]), next_open=parse_time(clock["next_open"]),
            next_close=parse_time(clock["next_close"]), timestamp=parse_time(clock["timestamp"]), as_of=now))

    async def refresh_calendar(self, days_before: int = 7, days_after: int = 30) -> None:
        now = datetime.now(UTC)
        today = now.astimezone(NEW_YORK).date()
        rows = await self.broker.calendar(today - timedelta(days=days_before), today + timedelta(days=days_after))
        await self._put(CALENDAR_KEY, CalendarRef(days=[calendar_day(r) for r in rows], as_of=now))


def calendar_day(row: dict) -> CalendarDay:
    """Alpaca's calendar row (New York ``date``, ``open`` "09:30", ``close`` "16:00") with UTC session times."""
    day = date.fromisoformat(str(row["date"])[:10])

    def at(text: object) -> datetime:
        raw = str(text)
        hhmm = raw if ":" in raw else f"{raw[:2]}:{raw[2:4]}"  # "0930" in some of Alpaca's calendar fields
        return datetime.combine(day, clock_time.fromisoformat(hhmm), NEW_YORK).astimezone(UTC)

    return CalendarDay(date=day, open=at(row["open"]), close=at(row["close"]))
