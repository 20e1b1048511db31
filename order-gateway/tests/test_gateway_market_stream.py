"""Live prices: the market-data stream into REFDATA quotes, paced per symbol, with REST polling as the fallback.

Pure pieces with plain values and a fake clock; the stream through alpaca-py against an in-process alpaca-sim with an
in-memory KV; the whole gateway process against alpaca-sim, real NATS and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import msgpack
import pytest

from alpaca_sim.app import SimSettings
from alpaca_sim.testing import simulator_in_thread
from order_gateway.market_stream import (
    MarketStream,
    QuoteBook,
    QuotePacer,
    QuoteWriter,
    market_data_url,
    read_quote,
    read_trade,
)
from order_gateway.positions import BrokerPositions
from order_gateway.refdata import RefDataPublisher
from tradebus_contracts.refdata import REFDATA_BUCKET, QuoteRef, quote_key
from tradebus_runtime.bus import ensure_kv

from .conftest import GatewayHarness
from .fakes import FakeBroker

T0 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
SIM_HEADERS = {"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}


class FakeKV:
    def __init__(self) -> None:
        self.puts: list[tuple[str, QuoteRef]] = []

    async def put(self, key: str, value: bytes) -> int:
        if key.startswith("quotes."):
            self.puts.append((key, QuoteRef.model_validate_json(value)))
        return len(self.puts)

    def latest(self, symbol: str) -> QuoteRef | None:
        found = [ref for key, ref in self.puts if key == quote_key(symbol)]
        return found[-1] if found else None


async def eventually(condition, timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
    return value


# ------------------------------------------------------------------------------------------ pacing (pure)
def test_pacer_when_a_symbol_was_quiet_then_its_first_changes_are_written_at_once():
    pacer = QuotePacer(per_second=4, burst=2)

    assert pacer.take("AAPL", now=100.0) == 0.0
    assert pacer.take("AAPL", now=100.01) == 0.0


def test_pacer_when_the_burst_is_spent_then_the_next_write_waits_for_a_token():
    pacer = QuotePacer(per_second=4, burst=2)
    pacer.take("AAPL", 100.0)
    pacer.take("AAPL", 100.0)

    wait = pacer.take("AAPL", 100.1)

    assert wait == pytest.approx(0.15)
    assert pacer.take("AAPL", 100.1 + wait) == 0.0


def test_pacer_when_a_symbol_quotes_all_the_time_then_it_is_written_a_few_times_a_second():
    pacer, now, writes = QuotePacer(per_second=4, burst=2), 0.0, 0

    while now < 10.0:  # a quote every millisecond, for 10 s; a write whenever the pacer lets one go
        writes += pacer.take("AAPL", now) == 0.0
        now += 0.001

    assert 40 <= writes <= 42


def test_pacer_when_one_symbol_is_busy_then_another_is_still_written_at_once():
    pacer = QuotePacer(per_second=4, burst=1)
    pacer.take("AAPL", 100.0)

    assert pacer.take("AAPL", 100.0) > 0
    assert pacer.take("MSFT", 100.0) == 0.0


# ------------------------------------------------------------------------------------------ the newest quote (pure)
def test_book_when_an_older_quote_arrives_after_a_newer_one_then_it_is_ignored():
    book = QuoteBook()
    book.quote("AAPL", Decimal("100.00"), Decimal("100.02"), T0)

    assert book.quote("AAPL", Decimal("99.00"), Decimal("99.02"), T0 - timedelta(seconds=1)) is None
    assert book.latest("AAPL").bid == Decimal("100.00")


def test_book_when_the_same_quote_comes_again_then_nothing_changes():
    book = QuoteBook()
    book.quote("AAPL", Decimal("100.00"), Decimal("100.02"), T0)

    assert book.quote("AAPL", Decimal("100.00"), Decimal("100.02"), T0) is None


def test_book_when_a_pinned_price_is_restamped_then_the_new_time_is_a_change():
    book = QuoteBook()
    book.quote("AAPL", Decimal("100.00"), Decimal("100.02"), T0)

    ref = book.quote("AAPL", Decimal("100.00"), Decimal("100.02"), T0 + timedelta(seconds=1))

    assert ref is not None and ref.as_of == T0 + timedelta(seconds=1)


def test_book_when_a_trade_prints_then_last_is_its_price_and_as_of_stays_the_quotes():
    book = QuoteBook()
    book.quote("AAPL", Decimal("100.00"), Decimal("100.02"), T0)

    ref = book.trade("AAPL", Decimal("100.01"), T0 + timedelta(seconds=5))

    assert ref.last == Decimal("100.01") and ref.as_of == T0


def test_book_when_a_trade_comes_before_any_quote_then_the_first_quote_carries_it():
    book = QuoteBook()

    assert book.trade("AAPL", Decimal("100.01"), T0) is None
    assert book.quote("AAPL", Decimal("100.00"), Decimal("100.02"), T0).last == Decimal("100.01")


def test_book_when_an_older_trade_arrives_late_then_last_keeps_the_newer_price():
    book = QuoteBook()
    book.quote("AAPL", Decimal("100.00"), Decimal("100.02"), T0)
    book.trade("AAPL", Decimal("100.05"), T0 + timedelta(seconds=2))

    assert book.trade("AAPL", Decimal("99.00"), T0 + timedelta(seconds=1)) is None
    assert book.latest("AAPL").last == Decimal("100.05")


# ------------------------------------------------------------------------------------------ reading (pure)
def test_read_quote_when_timestamp_is_a_msgpack_timestamp_then_exact_decimals_and_aware_time():
    raw = msgpack.unpackb(msgpack.packb({"T": "q", "S": "AAPL", "bp": 187.2, "ap": 187.31, "t": T0}, datetime=True))

    assert read_quote(raw) == ("AAPL", Decimal("187.2"), Decimal("187.31"), T0)


def test_read_quote_when_timestamp_is_rfc3339_with_nanoseconds_then_parsed():
    quote = read_quote({"T": "q", "S": "AAPL", "bp": 1, "ap": 2, "t": "2026-12-01T15:00:00.123456789Z"})

    assert quote[3] == T0.replace(microsecond=123456)


def test_read_when_a_field_is_missing_then_none():
    assert read_quote({"T": "q", "S": "AAPL", "bp": 1, "t": "2026-12-01T15:00:00Z"}) is None
    assert read_trade({"T": "t", "S": "AAPL", "t": "2026-12-01T15:00:00Z"}) is None
    assert read_trade({"T": "t", "S": "AAPL", "p": 9.5, "t": "2026-12-01T15:00:00Z"})[1] == Decimal("9.5")


def test_market_data_url_when_broker_is_the_simulator_then_its_feed_path_else_alpacas_own():
    assert market_data_url("http://127.0.0.1:8002/", "iex") == "ws://127.0.0.1:8002/v2/iex"
    assert market_data_url("https://sim.example:9/", "sip") == "wss://sim.example:9/v2/sip"
    assert market_data_url(None, "iex") is None


# ------------------------------------------------------------------------------------------ writing
async def test_writer_when_quotes_come_faster_than_the_pace_then_the_first_and_then_the_latest_are_written():
    kv = FakeKV()
    writer = QuoteWriter(kv, QuotePacer(per_second=20, burst=1))

    writer.quote("AAPL", Decimal("100.00"), Decimal("101.00"), T0)
    await eventually(lambda: kv.puts)
    for cents in range(1, 10):  # all within the 50 ms the pacer holds the next write back
        writer.quote("AAPL", Decimal(f"100.{cents:02d}"), Decimal("101.00"), T0 + timedelta(milliseconds=cents))
    await writer.idle()

    assert [ref.bid for _, ref in kv.puts] == [Decimal("100.00"), Decimal("100.09")]


class RecordingBroker(FakeBroker):
    def __init__(self) -> None:
        super().__init__()
        self.asked: list[list[str]] = []

    async def latest_quotes(self, symbols: list[str]) -> dict[str, dict[str, Any]]:
        self.asked.append(list(symbols))
        return await super().latest_quotes(symbols)


class FakeLive:
    def __init__(self, covered: set[str]) -> None:
        self._covered = frozenset(covered)
        self.followed: list[set[str]] = []

    def covered(self) -> frozenset[str]:
        return self._covered

    async def follow(self, symbols: set[str]) -> None:
        self.followed.append(set(symbols))


async def test_refresh_when_the_stream_delivers_some_symbols_then_rest_polls_only_the_others():
    broker, live = RecordingBroker(), FakeLive({"AAPL"})
    refdata = RefDataPublisher(broker, FakeKV(), BrokerPositions(), watch={"AAPL", "MSFT"}, quote_interval_s=1,
                               account_interval_s=1, live=live)

    await refdata.refresh_quotes()

    assert broker.asked == [["MSFT"]]


async def test_refresh_when_the_stream_is_down_then_rest_polls_every_watched_symbol():
    broker = RecordingBroker()
    refdata = RefDataPublisher(broker, FakeKV(), BrokerPositions(), watch={"AAPL", "MSFT"}, quote_interval_s=1,
                               account_interval_s=1, live=FakeLive(set()))

    await refdata.refresh_quotes()

    assert broker.asked == [["AAPL", "MSFT"]]


async def test_watch_when_assets_load_then_the_stream_follows_the_watched_symbols():
    live = FakeLive(set())
    refdata = RefDataPublisher(RecordingBroker(), FakeKV(), BrokerPositions(), watch=set(), quote_interval_s=1,
                               account_interval_s=1, live=live)

    await refdata.refresh_assets()

    assert live.followed == [{"AAPL"}]


# ----------------------------------------------------------------------------------- the stream, through alpaca-py
@pytest.fixture
def quiet_sim():
    """A simulator ticking like `tradectl up`'s (every 0.5 s)."""
    with simulator_in_thread(SimSettings(tick_seconds=0.5, seed=7)) as running:
        yield running


@pytest.fixture
async def live(quiet_sim):
    kv = FakeKV()
    market = MarketStream(QuoteWriter(kv), "k", "s", url=market_data_url(quiet_sim.url, "iex"))
    task = asyncio.create_task(market.run())
    yield market, kv
    await market.stop()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def pin(running, symbol: str, bid: str, ask: str) -> None:
    async with httpx.AsyncClient(base_url=running.url) as http:
        (await http.put(f"/admin/quotes/{symbol}", json={"bid": bid, "ask": ask})).raise_for_status()


async def test_stream_when_a_price_is_pinned_at_the_simulator_then_it_is_written_at_once(quiet_sim, live):
    market, kv = live
    await market.follow({"AAPL", "MSFT"})
    await eventually(lambda: market.covered() == {"AAPL", "MSFT"}, what="subscription confirmed")

    started = time.monotonic()
    await pin(quiet_sim, "AAPL", "150.00", "150.02")
    ref = await eventually(lambda: (q := kv.latest("AAPL")) is not None and q.bid == Decimal("150.00") and q)

    assert time.monotonic() - started < 0.5
    assert ref.ask == Decimal("150.02") and ref.as_of > datetime.now(UTC) - timedelta(seconds=1)


async def test_stream_when_a_pinned_price_holds_then_its_quote_keeps_fresh_timestamps(quiet_sim, live):
    market, kv = live
    await market.follow({"AAPL"})
    await pin(quiet_sim, "AAPL", "150.00", "150.02")
    first = await eventually(lambda: (q := kv.latest("AAPL")) is not None and q.bid == Decimal("150.00") and q)

    later = await eventually(lambda: (q := kv.latest("AAPL")).as_of > first.as_of + timedelta(seconds=0.9) and q,
                             timeout=5)

    assert (later.bid, later.ask) == (Decimal("150.00"), Decimal("150.02"))


async def test_stream_when_an_order_fills_then_last_is_the_trade_price(quiet_sim, live):
    market, kv = live
    await market.follow({"AAPL"})
    await eventually(lambda: market.covered() == {"AAPL"}, what="subscription confirmed")
    await pin(quiet_sim, "AAPL", "150.00", "150.02")

    async with httpx.AsyncClient(base_url=quiet_sim.url, headers=SIM_HEADERS) as http:
        order = {"symbol": "AAPL", "qty": "3", "side": "buy", "type": "market", "time_in_force": "day"}
        (await http.post("/v2/orders", json=order)).raise_for_status()

    ref = await eventually(lambda: (q := kv.latest("AAPL")) is not None and q.last is not None and q)
    assert ref.last == Decimal("150.02")


async def test_follow_when_symbols_come_and_go_then_the_subscription_follows(quiet_sim, live):
    market, kv = live
    await market.follow({"AAPL"})
    await eventually(lambda: market.covered() == {"AAPL"}, what="AAPL subscribed")

    await market.follow({"AAPL", "MSFT"})
    await eventually(lambda: market.covered() == {"AAPL", "MSFT"}, what="MSFT added")
    await market.follow({"MSFT"})
    await eventually(lambda: market.covered() == {"MSFT"}, what="AAPL removed")

    kv.puts.clear()
    await asyncio.sleep(1.2)  # two ticks
    assert {key for key, _ in kv.puts} == {quote_key("MSFT")}


async def test_stream_when_the_simulator_drops_it_then_nothing_is_covered_until_it_reconnects(quiet_sim, live):
    market, kv = live
    await market.follow({"AAPL"})
    await eventually(lambda: market.covered() == {"AAPL"}, what="subscription confirmed")

    async with httpx.AsyncClient(base_url=quiet_sim.url) as http:
        fault = {"method": "GET", "path": "/v2/iex", "status": 503, "times": 1}
        (await http.post("/admin/faults", json=fault)).raise_for_status()

    await eventually(lambda: not market.covered(), timeout=5, what="the drop seen")
    await eventually(lambda: market.covered() == {"AAPL"}, timeout=20, what="resubscribed after the reconnect")
    await pin(quiet_sim, "AAPL", "151.00", "151.02")
    await eventually(lambda: (q := kv.latest("AAPL")) is not None and q.bid == Decimal("151.00"))


# ------------------------------------------------------------------------------------------ the whole gateway
def _logged(harness: GatewayHarness, event: str) -> list[dict[str, Any]]:
    found = []
    for line in harness.log_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == event:
            found.append(record)
    return found


async def _moved_within(kv, harness: GatewayHarness, bid: str, ask: str, within_s: float) -> bool:
    started = time.monotonic()
    await harness.quote("AAPL", bid, ask)
    while time.monotonic() - started < within_s:
        try:
            ref = QuoteRef.model_validate_json((await kv.get(quote_key("AAPL"))).value)
            if ref.bid == Decimal(bid):
                return True
        except Exception:
            pass
        await asyncio.sleep(0.005)
    return False


@pytest.mark.integration
async def test_gateway_when_the_stream_is_refused_then_rest_keeps_quotes_and_the_stream_takes_over_when_back(
    nats_url, database_url, tmp_path, quiet_sim
):
    harness = GatewayHarness(nats_url, database_url, tmp_path, quiet_sim)
    await harness.open()
    await harness.admin("/admin/faults", {"method": "GET", "path": "/v2/iex", "status": 503, "times": 0})
    harness.start()
    try:
        await harness.healthy()
        kv = await ensure_kv(harness.js, REFDATA_BUCKET)

        await harness.quote("AAPL", "120.00", "120.02")  # the stream is down: the REST poll (every 1 s) brings it
        deadline = time.monotonic() + 5
        while QuoteRef.model_validate_json((await kv.get(quote_key("AAPL"))).value).bid != Decimal("120.00"):
            assert time.monotonic() < deadline, "the REST fallback did not bring the quote"
            await asyncio.sleep(0.05)

        await harness.admin("/admin/faults", method="DELETE")
        await harness.wait_for(lambda: _logged(harness, "gateway.quote_stream_subscribed"), timeout=40,
                               what="the stream back")
        await harness.wait_for(lambda: any(r.get("polled") == 0 for r in _logged(harness, "refdata.quote_polling")),
                               timeout=10, what="REST quote polling stopped")
        fast = []
        for i in range(1, 4):
            await asyncio.sleep(0.6)  # within the pace: a few writes per symbol per second
            fast.append(await _moved_within(kv, harness, f"12{i}.00", f"12{i}.02", within_s=0.15))
    finally:
        await harness.close()

    assert fast == [True, True, True]  # the stream, not the 1 s poll
