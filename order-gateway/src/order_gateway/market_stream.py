"""Live prices: Alpaca's real-time stock data websocket into the ``REFDATA`` quotes, paced per symbol.

* `MarketStream` runs alpaca-py's StockDataStream (raw data, MessagePack) on our event loop, subscribed to the quotes
  and trades of the watched symbols; `follow` changes the subscription as symbols come and go. alpaca-py reconnects
  with backoff by itself; `covered` is what the server confirmed it sends while the socket is authenticated, and the
  REST poll (`refdata.RefDataPublisher`) keeps every other watched symbol's quote, so nothing goes stale while the
  stream is down or a symbol is refused (e.g. a plan's symbol limit).
* `QuoteWriter` is the one writer of ``quotes.<SYMBOL>``, for the stream and the poll alike: the newest quote per
  symbol (`QuoteBook`: never an older one over a newer one; ``last`` from trades), written at once while the
  symbol's budget allows (`QuotePacer`: a few writes per symbol per second), else the latest value when it next
  does. A first change after a quiet spell therefore costs one KV put; a busy symbol costs at most `per_second`.

Security: the key pair goes to alpaca-py only (its auth message); nothing here logs it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import msgpack
from alpaca.data.enums import DataFeed
from alpaca.data.live.stock import StockDataStream
from nats.js.kv import KeyValue

from tradebus_contracts.refdata import QuoteRef, quote_key
from tradebus_runtime import get_logger

from .broker import dec, parse_time

log = get_logger(__name__)
# alpaca-py's defaults wait 180 s for a pong: a dead socket would hold the REST fallback off that long
WEBSOCKET_PARAMS = {"ping_interval": 10, "ping_timeout": 30, "max_queue": 1024}
RETRY_AFTER_REFUSAL_S = 60.0


def market_data_url(broker_url: str | None, feed: str) -> str | None:
    """The market-data websocket next to an overridden broker URL (alpaca-sim's /v2/<feed>); None: Alpaca's own."""
    if not broker_url:
        return None
    return broker_url.replace("http://", "ws://").replace("https://", "wss://").rstrip("/") + f"/v2/{feed}"


# --------------------------------------------------------------------------------------------- pure: reading
def _time(value: Any) -> datetime | None:
    if isinstance(value, msgpack.Timestamp):
        return value.to_datetime()
    return parse_time(value)


def read_quote(msg: dict[str, Any]) -> tuple[str, Decimal, Decimal, datetime] | None:
    """(symbol, bid, ask, as_of) of a ``{"T":"q"}`` message, None when it lacks one of them."""
    try:
        symbol, bid, ask, at = msg["S"], dec(msg.get("bp")), dec(msg.get("ap")), _time(msg.get("t"))
    except (TypeError, ValueError, InvalidOperation, KeyError):
        return None
    if not isinstance(symbol, str) or bid is None or ask is None or at is None:
        return None
    return symbol, bid, ask, at


def read_trade(msg: dict[str, Any]) -> tuple[str, Decimal, datetime] | None:
    """(symbol, price, at) of a ``{"T":"t"}`` message, None when it lacks one of them."""
    try:
        symbol, price, at = msg["S"], dec(msg.get("p")), _time(msg.get("t"))
    except (TypeError, ValueError, InvalidOperation, KeyError):
        return None
    if not isinstance(symbol, str) or price is None or at is None:
        return None
    return symbol, price, at


# --------------------------------------------------------------------------------------------- pure: deciding
class QuotePacer:
    """A token bucket per symbol: up to `burst` writes at once, `per_second` sustained."""

    def __init__(self, per_second: float = 4.0, burst: int = 2) -> None:
        if per_second <= 0 or burst < 1:
            raise ValueError("per_second must be > 0 and burst >= 1")
        self.per_second = per_second
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}  # symbol -> (tokens, when counted)

    def take(self, symbol: str, now: float) -> float:
        """0.0: write now (a token is spent); otherwise the seconds until a write may go (nothing is spent)."""
        tokens, stamp = self._buckets.get(symbol, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + max(now - stamp, 0.0) * self.per_second)
        if tokens >= 1.0:
            self._buckets[symbol] = (tokens - 1.0, now)
            return 0.0
        self._buckets[symbol] = (tokens, now)
        return (1.0 - tokens) / self.per_second


class QuoteBook:
    """The newest quote per symbol from any source: an older quote never replaces a newer one; a trade sets
    ``last`` (kept for quotes to come when it arrives first). ``as_of`` stays the quote's own time: a trade says
    nothing about how fresh the bid and ask are."""

    def __init__(self) -> None:
        self._quotes: dict[str, QuoteRef] = {}
        self._trades: dict[str, tuple[datetime, Decimal]] = {}

    def latest(self, symbol: str) -> QuoteRef | None:
        return self._quotes.get(symbol)

    def quote(self, symbol: str, bid: Decimal, ask: Decimal, as_of: datetime) -> QuoteRef | None:
        """The new value when this quote changes what we hold, else None."""
        held = self._quotes.get(symbol)
        if held is not None and as_of < held.as_of:
            return None
        trade = self._trades.get(symbol)
        ref = QuoteRef(symbol=symbol, bid=bid, ask=ask, last=trade[1] if trade else None, as_of=as_of)
        if ref == held:
            return None
        self._quotes[symbol] = ref
        return ref

    def trade(self, symbol: str, price: Decimal, at: datetime) -> QuoteRef | None:
        """The new value when this trade changes ``last`` of a quote we hold, else None."""
        seen = self._trades.get(symbol)
        if seen is not None and at < seen[0]:
            return None
        self._trades[symbol] = (at, price)
        held = self._quotes.get(symbol)
        if held is None or held.last == price:
            return None
        ref = self._quotes[symbol] = held.model_copy(update={"last": price})
        return ref


# --------------------------------------------------------------------------------------------- I/O
class QuoteWriter:
    """Writes ``quotes.<SYMBOL>``: the latest value wins, paced per symbol; one put in flight per symbol."""

    def __init__(self, kv: KeyValue, pacer: QuotePacer | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.kv = kv
        self.book = QuoteBook()
        self.pacer = pacer or QuotePacer()
        self._clock = clock
        self._written: dict[str, QuoteRef] = {}
        self._writing: dict[str, asyncio.Task[None]] = {}

    def quote(self, symbol: str, bid: Decimal, ask: Decimal, as_of: datetime) -> None:
        if self.book.quote(symbol, bid, ask, as_of) is not None:
            self._offer(symbol)

    def trade(self, symbol: str, price: Decimal, at: datetime) -> None:
        if self.book.trade(symbol, price, at) is not None:
            self._offer(symbol)

    def _offer(self, symbol: str) -> None:
        if symbol not in self._writing:  # else the running writer picks the newest value up
            self._writing[symbol] = asyncio.get_running_loop().create_task(self._write(symbol))

    async def _write(self, symbol: str) -> None:
        try:
            while (ref := self.book.latest(symbol)) is not None and ref != self._written.get(symbol):
                wait = self.pacer.take(symbol, self._clock())
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                await self.kv.put(quote_key(symbol), ref.model_dump_json().encode())
                self._written[symbol] = ref
        except Exception as exc:  # NATS away: the next quote of this symbol tries again
            log.warning("refdata.quote_write_failed", symbol=symbol, error=str(exc) or type(exc).__name__)
        finally:
            self._writing.pop(symbol, None)

    async def idle(self) -> None:
        """Until every pending write is done (tests, shutdown)."""
        while self._writing:
            await asyncio.gather(*self._writing.values(), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._writing.values()):
            task.cancel()
        await asyncio.gather(*self._writing.values(), return_exceptions=True)


class _DataStream(StockDataStream):
    """alpaca-py's StockDataStream (raw data), telling us what only its private loop knows: when the socket is
    authenticated, what the server confirmed it sends (the ``subscription`` message, which alpaca-py only logs) and
    the errors it reports. Subscription changes go through its own senders, on our loop: its public ``subscribe_*``
    wait on the loop they run on, which from inside that loop would never return."""

    def __init__(self, key_id: str, secret: str, feed: str, url: str | None) -> None:
        super().__init__(key_id, secret, raw_data=True, feed=DataFeed(feed), url_override=url,
                         websocket_params=dict(WEBSOCKET_PARAMS))
        self.authenticated = False
        self.confirmed: frozenset[str] = frozenset()

    async def _start_ws(self) -> None:
        await super()._start_ws()
        self.authenticated = True
        log.info("gateway.quote_stream_connected", url=self._endpoint)

    async def close(self) -> None:
        if self.authenticated:
            log.warning("gateway.quote_stream_down", url=self._endpoint)
        self.authenticated = False
        self.confirmed = frozenset()
        await super().close()

    async def _dispatch(self, msg: dict[str, Any]) -> None:
        kind = msg.get("T")
        if kind == "subscription":
            self.confirmed = frozenset(msg.get("quotes") or ()) if self.authenticated else frozenset()
            log.info("gateway.quote_stream_subscribed", quotes=len(self.confirmed), trades=len(msg.get("trades") or ()))
        elif kind == "error":
            log.warning("gateway.quote_stream_error", code=msg.get("code"), reason=msg.get("msg"))
        else:
            await super()._dispatch(msg)

    def wanted(self) -> set[str]:
        return set(self._handlers["quotes"])

    def want(self, added: Iterable[str], gone: Iterable[str], on_quote: Any, on_trade: Any) -> None:
        for symbol in added:
            self._handlers["quotes"][symbol] = on_quote
            self._handlers["trades"][symbol] = on_trade
        for symbol in gone:
            self._handlers["quotes"].pop(symbol, None)
            self._handlers["trades"].pop(symbol, None)

    async def send_changes(self, added: list[str], gone: list[str]) -> None:
        if added:
            await self._send_subscribe_msg()  # the whole set: subscribing is additive
        if gone:
            await self._ws.send(msgpack.packb({"action": "unsubscribe", "quotes": gone, "trades": gone}))


class MarketStream:
    def __init__(self, quotes: QuoteWriter, key_id: str, secret: str, *, feed: str = "iex",
                 url: str | None = None) -> None:
        self.quotes = quotes
        self.stream = _DataStream(key_id, secret, feed, url)
        self._has_symbols = asyncio.Event()
        self._stopping = False

    def covered(self) -> frozenset[str]:
        """The symbols whose quotes the stream delivers now (empty while it is down)."""
        return self.stream.confirmed if self.stream.authenticated else frozenset()

    async def follow(self, symbols: Iterable[str]) -> None:
        """Quotes and trades of exactly these symbols from now on."""
        wanted, held = set(symbols), self.stream.wanted()
        added, gone = sorted(wanted - held), sorted(held - wanted)
        if not added and not gone:
            return
        self.stream.want(added, gone, self.on_quote, self.on_trade)
        if wanted:
            self._has_symbols.set()
        if not self.stream.authenticated:
            return  # the (re)connect subscribes to everything wanted
        try:
            await self.stream.send_changes(added, gone)
        except Exception as exc:  # the socket just died: the reconnect subscribes to everything wanted
            log.warning("gateway.quote_subscribe_failed", error=str(exc) or type(exc).__name__)

    async def on_quote(self, msg: dict[str, Any]) -> None:
        quote = read_quote(msg)
        if quote is None:
            log.warning("gateway.quote_unreadable", symbol=str(msg.get("S"))[:16])
            return
        try:
            self.quotes.quote(*quote)
        except ValueError as exc:  # not a quote our contracts can carry
            log.warning("gateway.quote_unusable", symbol=quote[0][:16], error=str(exc)[:200])

    async def on_trade(self, msg: dict[str, Any]) -> None:
        trade = read_trade(msg)
        if trade is not None:
            self.quotes.trade(*trade)

    async def run(self) -> None:
        await self._has_symbols.wait()  # alpaca-py spins (sleep(0)) until it has something to subscribe to
        while not self._stopping:
            try:
                await self.stream._run_forever()  # alpaca-py's own loop (reconnects with backoff); on our event loop
            finally:
                await self.stream.stop_ws()
            if self._stopping:
                return
            # it gives up only on "insufficient subscription" (a feed the plan lacks); polling keeps the quotes
            log.error("gateway.quote_stream_refused", retry_in_s=RETRY_AFTER_REFUSAL_S)
            await asyncio.sleep(RETRY_AFTER_REFUSAL_S)

    async def stop(self) -> None:
        self._stopping = True
        await self.stream.stop_ws()
        await self.stream.close()
