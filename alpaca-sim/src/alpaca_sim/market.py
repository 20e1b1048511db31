"""The simulated market: a seeded random-walk quote feed with per-symbol pins, and the market clock.

Every quote the feed makes (a walk step, a pin, a split) and every trade it records is handed to its listeners at
once (the market-data stream pushes them); a pinned symbol quotes again on every tick at its pinned prices with a
fresh timestamp, as a live market keeps quoting.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Callable

from tradebus_contracts.trading_day import NEW_YORK

from .assets import AssetBook
from .numbers import round_price, tick_for
from .nyse import REGULAR_OPEN, close_time, is_trading_day

Now = Callable[[], datetime]
QuoteListener = Callable[[str, "Quote"], None]
TradeListener = Callable[[str, "Trade"], None]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Quote:
    bid: Decimal
    ask: Decimal
    timestamp: datetime

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2


@dataclass(frozen=True)
class Trade:
    price: Decimal
    size: Decimal
    timestamp: datetime
    trade_id: int


class PriceFeed:
    """Quotes per symbol. A symbol walks randomly (seeded) until a quote is pinned for it."""

    def __init__(self, assets: AssetBook, seed: int = 0, now: Now = utcnow, volatility: str = "0.0005") -> None:
        self._now = now
        self._seed = seed
        self._volatility = float(volatility)
        self._mids = {a.symbol: a.price for a in assets.all()}
        self._rngs = {s: random.Random(f"{seed}:{s}") for s in self._mids}
        self._pinned: dict[str, Quote] = {}
        self._quotes: dict[str, Quote] = {}
        self._trades: dict[str, Trade] = {}
        self._trade_seq = 0
        self.quote_listeners: list[QuoteListener] = []
        self.trade_listeners: list[TradeListener] = []
        self.listener_failures = 0

    def quote(self, symbol: str) -> Quote:
        if symbol in self._pinned:
            return self._pinned[symbol]
        if symbol not in self._quotes:
            self._quotes[symbol] = self._quote_around(self._mids[symbol])
        return self._quotes[symbol]

    def add(self, symbol: str, price: Decimal) -> None:
        """A newly listed symbol walks from ``price``, seeded like the others."""
        self._mids[symbol] = price
        self._rngs[symbol] = random.Random(f"{self._seed}:{symbol}")

    def pin(self, symbol: str, bid: Decimal, ask: Decimal) -> Quote:
        quote = Quote(bid, ask, self._now())
        self._pinned[symbol] = quote
        self._mids[symbol] = quote.mid
        self._tell(self.quote_listeners, symbol, quote)
        return quote

    def step(self) -> None:
        """One tick: a random-walk step for every unpinned symbol; a pinned one quotes again with a fresh timestamp
        (its prices held), so a pinned quote never goes stale."""
        for symbol, mid in self._mids.items():
            if symbol in self._pinned:
                quote = self._pinned[symbol] = replace(self._pinned[symbol], timestamp=self._now())
            else:
                shock = Decimal(repr(self._rngs[symbol].gauss(0.0, self._volatility)))
                new_mid = max(mid * (1 + shock), Decimal("0.01"))
                self._mids[symbol] = new_mid
                quote = self._quotes[symbol] = self._quote_around(new_mid)
            self._tell(self.quote_listeners, symbol, quote)

    def record_trade(self, symbol: str, price: Decimal, size: Decimal) -> None:
        self._trade_seq += 1
        trade = self._trades[symbol] = Trade(price, size, self._now(), self._trade_seq)
        self._tell(self.trade_listeners, symbol, trade)

    def _tell(self, listeners: list, symbol: str, value: Quote | Trade) -> None:
        for listener in list(listeners):
            try:
                listener(symbol, value)
            except Exception:  # a failing subscriber must never stop the feed or a fill half-way
                self.listener_failures += 1

    def last_trade(self, symbol: str) -> Trade:
        if symbol in self._trades:
            return self._trades[symbol]
        quote = self.quote(symbol)
        return Trade(round_price(quote.mid), Decimal(100), quote.timestamp, 0)

    def scale(self, symbol: str, ratio: Decimal) -> None:
        """A split divides every price of the symbol by the split ratio."""
        self._mids[symbol] = self._mids[symbol] / ratio
        self._quotes.pop(symbol, None)
        if symbol in self._pinned:
            q = self._pinned[symbol]
            self.pin(symbol, round_price(q.bid / ratio), round_price(q.ask / ratio))
        else:
            self._tell(self.quote_listeners, symbol, self.quote(symbol))

    def _quote_around(self, mid: Decimal) -> Quote:
        tick = tick_for(mid)
        half_spread = max(tick, round_price(mid * Decimal("0.0001")))
        bid = max(round_price(mid - half_spread), tick)
        return Quote(bid, round_price(bid + 2 * half_spread), self._now())

    def to_state(self) -> dict:
        return {
            "mids": {s: str(m) for s, m in self._mids.items()},
            "pinned": {s: [str(q.bid), str(q.ask)] for s, q in self._pinned.items()},
        }

    def load_state(self, state: dict) -> None:
        for symbol, mid in state.get("mids", {}).items():
            if symbol in self._mids:
                self._mids[symbol] = Decimal(mid)
        for symbol, (bid, ask) in state.get("pinned", {}).items():
            if symbol in self._mids:
                self.pin(symbol, Decimal(bid), Decimal(ask))


class MarketClock:
    """Open or closed as the admin API says (open by default); next open/close from the NYSE calendar."""

    def __init__(self, now: Now = utcnow, is_open: bool = True) -> None:
        self.now = now
        self.is_open = is_open

    def next_open(self) -> datetime:
        return _next_session_edge(self.now(), opening=True)

    def next_close(self) -> datetime:
        return _next_session_edge(self.now(), opening=False)

    def to_json(self) -> dict:
        local = self.now().astimezone(NEW_YORK)
        return {
            "timestamp": local.isoformat(),
            "is_open": self.is_open,
            "next_open": self.next_open().isoformat(),
            "next_close": self.next_close().isoformat(),
        }


def _next_session_edge(now: datetime, opening: bool) -> datetime:
    local = now.astimezone(NEW_YORK)
    day = local.date()
    while True:
        if is_trading_day(day):
            candidate = datetime.combine(day, REGULAR_OPEN if opening else close_time(day), NEW_YORK)
            if candidate > local:
                return candidate
        day += timedelta(days=1)


def in_regular_session(moment: datetime) -> bool:
    """NYSE regular hours in New York time, with holidays and 13:00 early closes."""
    local = moment.astimezone(NEW_YORK)
    day = local.date()
    return is_trading_day(day) and REGULAR_OPEN <= local.time() < close_time(day)


def calendar(start: date, end: date) -> list[dict]:
    """Alpaca's /v2/calendar rows for the NYSE trading days between start and end."""
    days, day = [], start
    while day <= end and len(days) < 20000:
        if is_trading_day(day):
            days.append(
                {
                    "date": day.isoformat(),
                    "open": REGULAR_OPEN.strftime("%H:%M"),
                    "close": close_time(day).strftime("%H:%M"),
                    "session_open": "0400",
                    "session_close": "2000",
                    "settlement_date": _settlement(day).isoformat(),
                }
            )
        day += timedelta(days=1)
    return days


def _settlement(day: date) -> date:
    settle = day + timedelta(days=1)
    while not is_trading_day(settle):
        settle += timedelta(days=1)
    return settle
