"""Contract: the real-time stock data websocket (/v2/{feed}) as alpaca-py's StockDataStream receives it, and the
protocol's control messages and error codes as Alpaca documents them (through a plain websocket client)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import msgpack
import pytest
from alpaca.data.live.stock import StockDataStream
from alpaca.data.requests import StockLatestQuoteRequest
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest
from websockets.sync.client import ClientConnection, connect

from alpaca_sim.marketdata_stream import DataLimits
from alpaca_sim.testing import wait_for


def feed_url(broker, feed: str = "iex") -> str:
    return broker.url.replace("http://", "ws://") + f"/v2/{feed}"


class DataRecorder:
    """A real StockDataStream in a background thread, recording what its handlers receive."""

    def __init__(self, broker, raw_data: bool = False) -> None:
        self.received: list[Any] = []
        self._lock = threading.Lock()
        self.stream = StockDataStream(broker.key, broker.secret, raw_data=raw_data, url_override=feed_url(broker))
        self.thread = threading.Thread(target=self.stream.run, daemon=True, name="stock-data")

    async def record(self, item: Any) -> None:
        with self._lock:
            self.received.append(item)

    def items(self) -> list[Any]:
        with self._lock:
            return list(self.received)

    def start(self) -> DataRecorder:
        self.thread.start()
        return self

    def stop(self) -> None:
        loop = self.stream._loop
        if loop is not None and loop.is_running():
            self.stream.stop()
        self.thread.join(timeout=10)


def put_the_plan_back(broker) -> None:
    """After a test: the simulator's default data plan, and no connection left (each key may hold only one)."""
    hub = broker.running.sim.marketdata
    hub.limits = DataLimits()
    wait_for(lambda: hub.connections == 0, timeout=10)


@pytest.fixture
def streams(broker, admin) -> Iterator[Any]:
    """Start StockDataStreams; each is stopped after the test, and the simulator's plan is put back."""
    started: list[DataRecorder] = []

    def start(subscribe, raw_data: bool = False) -> DataRecorder:
        recorder = DataRecorder(broker, raw_data)
        subscribe(recorder)
        started.append(recorder.start())
        wait_for(lambda: any(c.authenticated and any(c.subscriptions.values())
                             for c in broker.running.sim.marketdata._connections), timeout=10)
        return recorder

    yield start
    for recorder in started:
        recorder.stop()
    put_the_plan_back(broker)


def quotes_at(recorder: DataRecorder, bid: float) -> list[Any]:
    return [q for q in recorder.items() if getattr(q, "bid_price", None) == bid]


def test_quotes_when_a_price_is_pinned_then_stock_data_stream_receives_it_at_once(broker, admin, streams):
    recorder = streams(lambda r: r.stream.subscribe_quotes(r.record, "AAPL"))

    before = time.monotonic()
    admin.quote("AAPL", "100.00", "100.02")

    wait_for(lambda: quotes_at(recorder, 100.0), timeout=5)
    assert time.monotonic() - before < 1.0
    quote = quotes_at(recorder, 100.0)[0]
    assert quote.symbol == "AAPL" and quote.ask_price == 100.02 and quote.bid_exchange == "V"
    assert quote.timestamp.tzinfo is not None
    assert abs(quote.timestamp - datetime.now(timezone.utc)) < timedelta(seconds=5)


def test_pinned_quote_when_ticks_pass_then_it_keeps_quoting_with_fresh_timestamps(broker, admin, streams):
    recorder = streams(lambda r: r.stream.subscribe_quotes(r.record, "AAPL"))
    admin.quote("AAPL", "100.00", "100.02")

    wait_for(lambda: len(quotes_at(recorder, 100.0)) >= 4, timeout=5)

    stamps = [q.timestamp for q in quotes_at(recorder, 100.0)]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    data, request = broker.data(), StockLatestQuoteRequest(symbol_or_symbols="AAPL")  # REST says the same
    first = data.get_stock_latest_quote(request)["AAPL"].timestamp
    wait_for(lambda: data.get_stock_latest_quote(request)["AAPL"].timestamp > first)


def test_quotes_when_subscribed_to_one_symbol_then_no_other_symbol_arrives(broker, admin, streams):
    recorder = streams(lambda r: r.stream.subscribe_quotes(r.record, "MSFT"))
    admin.quote("AAPL", "100.00", "100.02")

    wait_for(lambda: len(recorder.items()) >= 3, timeout=5)

    assert {q.symbol for q in recorder.items()} == {"MSFT"}


def test_trades_when_an_order_fills_then_a_trade_with_its_price_and_size(broker, admin, streams):
    recorder = streams(lambda r: r.stream.subscribe_trades(r.record, "AAPL"))
    admin.quote("AAPL", "100.00", "100.02")

    broker.trading().submit_order(MarketOrderRequest(symbol="AAPL", qty=5, side=OrderSide.BUY,
                                                     time_in_force=TimeInForce.DAY))

    trade = wait_for(lambda: recorder.items() and recorder.items()[0], timeout=5)
    assert trade.symbol == "AAPL" and trade.price == 100.02 and trade.size == 5 and trade.id > 0
    assert trade.timestamp.tzinfo is not None


def test_raw_data_when_msgpack_then_timestamps_are_msgpack_timestamps(broker, admin, streams):
    recorder = streams(lambda r: r.stream.subscribe_quotes(r.record, "AAPL"), raw_data=True)
    admin.quote("AAPL", "100.00", "100.02")

    raw = wait_for(lambda: [m for m in recorder.items() if m["bp"] == 100.0], timeout=5)[0]

    assert raw["T"] == "q" and raw["S"] == "AAPL" and raw["ap"] == 100.02
    assert isinstance(raw["t"], msgpack.Timestamp)
    assert set(raw) == {"T", "S", "bx", "bp", "bs", "ax", "ap", "as", "c", "z", "t"}


def test_unsubscribe_when_stock_data_stream_drops_a_symbol_then_its_quotes_stop(broker, admin, streams):
    recorder = streams(lambda r: r.stream.subscribe_quotes(r.record, "AAPL", "MSFT"))
    wait_for(lambda: {"AAPL", "MSFT"} <= {q.symbol for q in recorder.items()}, timeout=5)

    recorder.stream.unsubscribe_quotes("AAPL")
    time.sleep(0.2)
    seen = len(recorder.items())
    time.sleep(0.5)

    assert {q.symbol for q in recorder.items()[seen:]} == {"MSFT"}


def test_dropped_stream_when_the_fault_is_used_up_then_stock_data_stream_reconnects_and_resubscribes(
        broker, admin, streams):
    recorder = streams(lambda r: r.stream.subscribe_quotes(r.record, "AAPL"))
    hub = broker.running.sim.marketdata

    admin.fault(method="GET", path="/v2/iex", status=503, times=1)
    wait_for(lambda: hub.connections == 0 or not any(c.authenticated for c in hub._connections), timeout=5)
    admin.quote("AAPL", "101.00", "101.02")

    wait_for(lambda: quotes_at(recorder, 101.0), timeout=20)


# ---------------------------------------------------------------------------------------------- the protocol itself
class Client:
    """A plain websocket client: JSON text frames, or MessagePack binary frames with the header alpaca-py sends."""

    def __init__(self, url: str, use_msgpack: bool = False) -> None:
        headers = {"Content-Type": "application/msgpack"} if use_msgpack else None
        self.msgpack = use_msgpack
        self._open = contextlib.ExitStack()
        self.ws: ClientConnection = self._open.enter_context(connect(url, additional_headers=headers, open_timeout=5))

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(msgpack.packb(message) if self.msgpack else json.dumps(message))

    def recv(self, timeout: float = 5) -> list[dict[str, Any]]:
        frame = self.ws.recv(timeout=timeout)
        assert isinstance(frame, bytes) == self.msgpack
        return msgpack.unpackb(frame) if self.msgpack else json.loads(frame)

    def recv_control(self, timeout: float = 5) -> dict[str, Any]:
        """The next control message (data points in between are skipped); control messages come alone."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self.recv(max(deadline - time.monotonic(), 0.01))
            if frame[0]["T"] in ("success", "error", "subscription"):
                assert len(frame) == 1
                return frame[0]

    def auth(self, key: str = "sim-key", secret: str = "sim-secret") -> dict[str, Any]:
        self.send({"action": "auth", "key": key, "secret": secret})
        return self.recv_control()

    def assert_closed_by_server(self) -> None:
        """Nothing more arrives: the server has closed the connection."""
        with pytest.raises(Exception):
            self.recv(timeout=2)

    def close(self) -> None:
        self._open.close()


@pytest.fixture
def client(broker, admin) -> Iterator[Any]:
    """Open a connected client; ``plan`` first sets the simulator's data plan (put back after the test)."""
    opened: list[Client] = []

    def open_client(feed: str = "iex", use_msgpack: bool = False, plan: DataLimits | None = None) -> Client:
        if plan is not None:
            broker.running.sim.marketdata.limits = plan
        c = Client(feed_url(broker, feed), use_msgpack)
        opened.append(c)
        assert c.recv_control() == {"T": "success", "msg": "connected"}
        return c

    yield open_client
    for c in opened:
        c.close()
    put_the_plan_back(broker)


def test_json_client_when_authenticated_and_subscribed_then_the_whole_subscription_and_json_quotes(client, admin):
    c = client()

    assert c.auth() == {"T": "success", "msg": "authenticated"}
    c.send({"action": "subscribe", "trades": ["AAPL"], "quotes": ["AAPL", "MSFT"], "bars": ["*"]})
    assert c.recv_control() == {"T": "subscription", "trades": ["AAPL"], "quotes": ["AAPL", "MSFT"], "bars": ["*"],
                                "updatedBars": [], "dailyBars": [], "statuses": [], "lulds": [],
                                "corrections": ["AAPL"], "cancelErrors": ["AAPL"]}
    admin.quote("AAPL", "100.00", "100.02")
    quote = next(m for _ in range(50) for m in c.recv() if m["S"] == "AAPL" and m["bp"] == 100.0)
    assert quote["T"] == "q" and quote["ap"] == 100.02 and quote["t"].endswith("Z")
    c.send({"action": "unsubscribe", "quotes": ["AAPL"]})
    assert c.recv_control()["quotes"] == ["MSFT"]


def test_msgpack_client_when_it_sends_the_header_then_binary_msgpack_frames(client):
    c = client(use_msgpack=True)

    assert c.auth() == {"T": "success", "msg": "authenticated"}


def test_subscribe_when_not_authenticated_then_401(client):
    c = client()
    c.send({"action": "subscribe", "quotes": ["AAPL"]})

    assert c.recv_control() == {"T": "error", "code": 401, "msg": "not authenticated"}


def test_auth_when_credentials_are_missing_then_402(client):
    assert client().auth(key="", secret="") == {"T": "error", "code": 402, "msg": "auth failed"}


def test_auth_when_already_authenticated_then_403(client):
    c = client()
    c.auth()

    assert c.auth() == {"T": "error", "code": 403, "msg": "already authenticated"}


def test_message_when_not_json_or_no_known_action_then_400(client):
    c = client()
    c.ws.send("{not json")
    assert c.recv_control() == {"T": "error", "code": 400, "msg": "invalid syntax"}
    c.send({"action": "listen"})
    assert c.recv_control()["code"] == 400
    c.auth()
    c.send({"action": "subscribe", "quotes": "AAPL"})
    assert c.recv_control()["code"] == 400


def test_subscribe_when_a_channel_stocks_do_not_have_then_410(client):
    c = client()
    c.auth()
    c.send({"action": "subscribe", "orderbooks": ["AAPL"]})

    assert c.recv_control() == {"T": "error", "code": 410, "msg": "invalid subscribe action for this feed"}


def test_subscribe_when_over_the_plans_symbol_limit_then_405_and_nothing_changes(client):
    c = client(plan=DataLimits(symbol_limit=2))
    c.auth()
    c.send({"action": "subscribe", "quotes": ["AAPL", "MSFT"]})
    assert c.recv_control()["quotes"] == ["AAPL", "MSFT"]

    c.send({"action": "subscribe", "trades": ["GOOGL"]})

    assert c.recv_control() == {"T": "error", "code": 405, "msg": "symbol limit exceeded"}
    c.send({"action": "subscribe", "trades": ["AAPL"]})
    assert c.recv_control()["trades"] == ["AAPL"]


def test_auth_when_the_key_already_has_a_connection_then_406_and_closed(client):
    first = client()
    first.auth()
    second = client()

    assert second.auth() == {"T": "error", "code": 406, "msg": "connection limit exceeded"}
    second.assert_closed_by_server()


def test_connect_when_no_auth_in_time_then_404_and_closed(client):
    c = client(plan=DataLimits(auth_timeout_s=0.2))

    assert c.recv_control() == {"T": "error", "code": 404, "msg": "auth timeout"}
    c.assert_closed_by_server()


def test_reader_when_too_slow_for_its_buffer_then_407_and_closed(client):
    c = client(plan=DataLimits(buffer_limit=1))
    c.auth()
    c.send({"action": "subscribe", "quotes": ["*"]})
    c.recv_control()

    assert c.recv_control(timeout=5) == {"T": "error", "code": 407, "msg": "slow client"}


def test_auth_when_the_feed_is_not_in_the_plan_then_409(client):
    assert client("sip", plan=DataLimits(feeds=("iex",))).auth() == \
        {"T": "error", "code": 409, "msg": "insufficient subscription"}


def test_connect_when_the_feed_does_not_exist_then_the_handshake_is_refused(broker, admin):
    with pytest.raises(Exception), connect(feed_url(broker, "nasdaq"), open_timeout=5):
        pass
