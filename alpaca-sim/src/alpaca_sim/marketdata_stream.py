"""Alpaca's real-time stock data websocket at /v2/{feed} (iex, sip, delayed_sip, test), as alpaca-py's StockDataStream
speaks it.

Protocol (Alpaca's "WebSocket Stream" and "Real-time Stock Data" pages): on connect the server says
[{"T":"success","msg":"connected"}]; the client sends {"action":"auth","key","secret"} and gets
[{"T":"success","msg":"authenticated"}]; then {"action":"subscribe"|"unsubscribe","trades":[..],"quotes":[..],...}
is answered with the connection's whole subscription, [{"T":"subscription","trades":[..],"quotes":[..],...}]. From
then on every quote ({"T":"q"}) and trade ({"T":"t"}) of a subscribed symbol is pushed as it happens: a price move,
a pin (/admin/quotes), a tick (a pinned quote re-stamped), a fill. Control messages come one to a frame; data points
may come several to a frame, as Alpaca batches them for a slow reader.

Encoding: MessagePack in binary frames when the client asks for it with ``Content-Type: application/msgpack`` (alpaca-py
does; timestamps are then MessagePack timestamps), else JSON in text frames (RFC 3339 timestamps). Client frames are
read in either encoding.

Errors, [{"T":"error","code","msg"}], Alpaca's codes and texts: 400 invalid syntax, 401 not authenticated, 402 auth
failed, 403 already authenticated, 404 auth timeout (no auth within 10 s; closed), 405 symbol limit exceeded, 406
connection limit exceeded (more than one authenticated connection per key and feed, as on most Alpaca plans;
closed), 407 slow client (its outgoing buffer is full; closed), 409 insufficient subscription (a feed not in
`DataLimits.feeds`), 410 invalid subscribe action for this feed (a channel stocks do not have), 500 internal error.

Faults: an /admin/faults entry on "GET /v2/iex" (or any feed path) refuses handshakes and drops open sockets like
/stream's; with after_effect it silences the socket (data points are not sent, one per use of ``times``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgpack
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from .errors import BrokerError
from .guards import Credentials, Fault, FaultBook
from .logs import log
from .market import Quote, Trade
from .orders import iso
from .stream import frames

FEEDS = ("iex", "sip", "delayed_sip", "test")
CHANNELS = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds")
COUNTED = ("trades", "quotes")  # the channels a plan's symbol limit counts
CONTROL = frozenset({"success", "error", "subscription"})
MAX_BATCH = 1000
ERRORS = {
    400: "invalid syntax", 401: "not authenticated", 402: "auth failed", 403: "already authenticated",
    404: "auth timeout", 405: "symbol limit exceeded", 406: "connection limit exceeded", 407: "slow client",
    409: "insufficient subscription", 410: "invalid subscribe action for this feed", 500: "internal error",
}


@dataclass(frozen=True)
class DataLimits:
    """The plan the simulated account has; tests swap it (``sim.marketdata.limits = DataLimits(...)``)."""

    connections_per_key: int = 1
    symbol_limit: int | None = None  # distinct symbols over trades and quotes; None: unlimited, like Algo Trader Plus
    auth_timeout_s: float = 10.0
    buffer_limit: int = 10_000  # data points waiting for a slow reader before it is dropped (407)
    feeds: tuple[str, ...] = FEEDS  # the feeds the plan includes; another one is 409 at auth


def error(code: int) -> dict[str, Any]:
    return {"T": "error", "code": code, "msg": ERRORS[code]}


def quote_message(symbol: str, quote: Quote) -> dict[str, Any]:
    return {"T": "q", "S": symbol, "bx": "V", "bp": float(quote.bid), "bs": 1, "ax": "V", "ap": float(quote.ask),
            "as": 1, "c": ["R"], "z": "C", "t": quote.timestamp}


def trade_message(symbol: str, trade: Trade) -> dict[str, Any]:
    return {"T": "t", "S": symbol, "i": trade.trade_id, "x": "V", "p": float(trade.price), "s": float(trade.size),
            "c": ["@"], "z": "C", "t": trade.timestamp}


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def decode(raw: dict[str, Any]) -> Any:
    """A client frame in either encoding (ValueError when it is neither)."""
    if raw.get("text") is not None:
        return json.loads(raw["text"])
    data = raw.get("bytes") or b""
    try:
        return msgpack.unpackb(data)
    except Exception:
        return json.loads(data)


_CLOSE = object()


class DataConnection:
    """One client: its encoding, key, subscription and an outgoing buffer drained by one writer task."""

    def __init__(self, ws: WebSocket, feed: str) -> None:
        self.ws = ws
        self.feed = feed
        self.path = ws.url.path
        self.msgpack = "msgpack" in (ws.headers.get("content-type") or "").lower()
        self.key: str | None = None
        self.subscriptions: dict[str, set[str]] = {c: set() for c in CHANNELS}
        self._outbox: deque[Any] = deque()
        self._ready = asyncio.Event()
        self._data_waiting = 0
        self.slow = False

    @property
    def authenticated(self) -> bool:
        return self.key is not None

    def wants(self, channel: str, symbol: str) -> bool:
        chosen = self.subscriptions[channel]
        return symbol in chosen or "*" in chosen

    def control(self, message: dict[str, Any]) -> None:
        self._outbox.append(message)
        self._ready.set()

    def data(self, message: dict[str, Any], limit: int) -> None:
        if self._data_waiting >= limit:
            self.slow = True
        else:
            self._data_waiting += 1
            self._outbox.append(message)
        self._ready.set()

    def close_after_sent(self) -> None:
        self._outbox.append(_CLOSE)
        self._ready.set()

    def subscription(self) -> dict[str, Any]:
        trades = sorted(self.subscriptions["trades"])
        return {"T": "subscription", **{c: sorted(self.subscriptions[c]) for c in CHANNELS},
                "corrections": trades, "cancelErrors": trades}

    async def write_forever(self) -> None:
        try:
            await self._write_forever()
        except Exception as exc:  # the client went away mid-send: the reader sees the disconnect and cleans up
            log.debug("marketdata_writer_stopped", feed=self.feed, error=type(exc).__name__)

    async def _write_forever(self) -> None:
        while True:
            while not self._outbox and not self.slow:
                self._ready.clear()
                await self._ready.wait()
            if self.slow:
                log.info("marketdata_slow_client", feed=self.feed)
                await self._send([error(407)])
                await self.ws.close(code=1008)
                return
            first = self._outbox.popleft()
            if first is _CLOSE:
                await self.ws.close(code=1008)
                return
            frame = [first]
            if first["T"] not in CONTROL:  # data points travel together; a control message always alone
                while self._outbox and len(frame) < MAX_BATCH and self._outbox[0] is not _CLOSE \
                        and self._outbox[0]["T"] not in CONTROL:
                    frame.append(self._outbox.popleft())
                self._data_waiting -= len(frame)
            await self._send(frame)

    async def _send(self, frame: list[dict[str, Any]]) -> None:
        if self.msgpack:
            await self.ws.send_bytes(msgpack.packb(frame, datetime=True))
        else:
            await self.ws.send_text(json.dumps(frame, default=_json_default))


class MarketDataHub:
    """Every market-data connection; the price feed's listener. Pushing never blocks the feed or the matcher."""

    def __init__(self, faults: FaultBook, limits: DataLimits | None = None) -> None:
        self.faults = faults
        self.limits = limits or DataLimits()
        self._connections: set[DataConnection] = set()

    @property
    def connections(self) -> int:
        return len(self._connections)

    def attach(self, conn: DataConnection) -> None:
        self._connections.add(conn)

    def detach(self, conn: DataConnection) -> None:
        self._connections.discard(conn)

    def on_quote(self, symbol: str, quote: Quote) -> None:
        if self._connections:
            self._push("quotes", symbol, quote_message(symbol, quote))

    def on_trade(self, symbol: str, trade: Trade) -> None:
        if self._connections:
            self._push("trades", symbol, trade_message(symbol, trade))

    def _push(self, channel: str, symbol: str, message: dict[str, Any]) -> None:
        for conn in list(self._connections):
            if conn.authenticated and conn.wants(channel, symbol):
                if self.faults.faults and self.faults.take("GET", conn.path, after_effect=True) is not None:
                    continue  # an injected silent socket
                conn.data(message, self.limits.buffer_limit)

    async def drop(self, fault: Fault) -> None:
        """Close every socket the fault's path matches (an injected outage); clients reconnect on their own."""
        for conn in list(self._connections):
            if fault.matches("GET", conn.path):
                with contextlib.suppress(Exception):
                    await conn.ws.close(code=1011)

    # ------------------------------------------------------------------ the protocol
    def act(self, conn: DataConnection, message: Any, credentials: Credentials) -> None:
        action = message.get("action") if isinstance(message, dict) else None
        if action == "auth":
            self._auth(conn, message, credentials)
        elif action in ("subscribe", "unsubscribe"):
            if not conn.authenticated:
                conn.control(error(401))
            else:
                self._subscribe(conn, message, adding=action == "subscribe")
        else:
            conn.control(error(400))

    def _auth(self, conn: DataConnection, message: dict[str, Any], credentials: Credentials) -> None:
        if conn.authenticated:
            conn.control(error(403))
            return
        key, secret = message.get("key"), message.get("secret")
        try:
            credentials.check(key if isinstance(key, str) else None, secret if isinstance(secret, str) else None)
        except BrokerError:
            log.info("marketdata_unauthorized", feed=conn.feed)
            conn.control(error(402))
            return
        if conn.feed not in self.limits.feeds:
            conn.control(error(409))
            return
        same = sum(1 for c in self._connections if c.key == key and c.feed == conn.feed)
        if same >= self.limits.connections_per_key:
            conn.control(error(406))
            conn.close_after_sent()
            return
        conn.key = key
        conn.control({"T": "success", "msg": "authenticated"})

    def _subscribe(self, conn: DataConnection, message: dict[str, Any], adding: bool) -> None:
        asked = {k: v for k, v in message.items() if k != "action"}
        if any(k not in CHANNELS for k in asked):
            conn.control(error(410))
            return
        if any(not isinstance(v, list) or not all(isinstance(s, str) and s for s in v) for v in asked.values()):
            conn.control(error(400))
            return
        after = {c: (conn.subscriptions[c] | set(asked.get(c, ())) if adding
                     else conn.subscriptions[c] - set(asked.get(c, ()))) for c in CHANNELS}
        limit = self.limits.symbol_limit
        if limit is not None and len(set().union(*(after[c] for c in COUNTED))) > limit:
            conn.control(error(405))
            return
        conn.subscriptions = after
        log.info("marketdata_subscription", feed=conn.feed, quotes=len(after["quotes"]), trades=len(after["trades"]))
        conn.control(conn.subscription())


async def _expire_unauthenticated(conn: DataConnection, after_s: float) -> None:
    await asyncio.sleep(after_s)
    if not conn.authenticated:
        conn.control(error(404))
        conn.close_after_sent()


async def marketdata_endpoint(ws: WebSocket) -> None:
    sim = ws.app.state.sim
    hub: MarketDataHub = sim.marketdata
    feed = ws.path_params["feed"]
    if feed not in FEEDS:
        await ws.close(code=1008)  # before accepting: the handshake gets 403
        return
    fault = sim.faults.take("GET", ws.url.path, after_effect=False)
    if fault is not None:
        log.info("fault_injected", path=ws.url.path, fault=fault.to_json())
        await asyncio.sleep(fault.delay_ms / 1000)
        if fault.status:
            await ws.close(code=1013)
            return
    await ws.accept()
    conn = DataConnection(ws, feed)
    hub.attach(conn)
    writer = asyncio.create_task(conn.write_forever())
    deadline = asyncio.create_task(_expire_unauthenticated(conn, hub.limits.auth_timeout_s))
    conn.control({"T": "success", "msg": "connected"})
    try:
        async for raw in frames(ws):
            try:
                message = decode(raw)
            except Exception:
                conn.control(error(400))
                continue
            try:
                hub.act(conn, message, sim.credentials)
            except Exception:  # a bug must still answer in Alpaca's shape, and be visible in the log
                log.exception("marketdata_crashed", feed=feed)
                conn.control(error(500))
    except WebSocketDisconnect:
        pass
    finally:
        hub.detach(conn)
        writer.cancel()
        deadline.cancel()


ROUTES = [WebSocketRoute("/v2/{feed}", marketdata_endpoint)]
