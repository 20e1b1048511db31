"""One broker contract, two brokers: the in-process alpaca-sim always, Alpaca paper when keys are set.

Contract tests talk to the broker only through alpaca-py (TradingClient, TradingStream,
StockHistoricalDataClient with url_override) and, for the simulator's /admin/ API, plain httpx.
Tests that need /admin/ ask for the ``admin`` fixture and are skipped against Alpaca paper.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import MarketOrderRequest

from alpaca_sim.app import SimSettings
from alpaca_sim.testing import RunningSimulator, StreamRecorder, no_retry, simulator_in_thread, wait_filled


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "sim_strict: the simulator refuses where Alpaca's behaviour is not documented")


PAPER_KEY = os.environ.get("APCA_API_KEY_ID")
PAPER_SECRET = os.environ.get("APCA_API_SECRET_KEY")
SIM_KEY, SIM_SECRET = "sim-key", "sim-secret"
FAST_TICK = 0.05


@dataclass
class BrokerUnderTest:
    name: str
    url: str
    stream_url: str
    key: str
    secret: str
    running: RunningSimulator | None = None
    _stream: StreamRecorder | None = field(default=None, repr=False)

    @property
    def is_sim(self) -> bool:
        return self.running is not None

    def trading(self, retries: bool = False) -> TradingClient:
        client = TradingClient(self.key, self.secret, paper=True, url_override=self.url)
        return client if retries else no_retry(client)

    @staticmethod
    def market(symbol: str, qty: float, side: OrderSide = OrderSide.BUY,
               tif: TimeInForce = TimeInForce.DAY) -> MarketOrderRequest:
        return MarketOrderRequest(symbol=symbol, qty=qty, side=side, time_in_force=tif)

    def hold(self, symbol: str, qty: float, side: OrderSide = OrderSide.BUY) -> Order:
        """Trade ``qty`` at the market and wait for the fill: the position a test then sells, stops, splits or
        covers (a sell opens a short). Returns the filled order."""
        client = self.trading()
        return wait_filled(client, client.submit_order(self.market(symbol, qty, side)).id)

    def data(self) -> StockHistoricalDataClient:
        url = self.url if self.is_sim else None
        return no_retry(StockHistoricalDataClient(self.key, self.secret, url_override=url))

    def stream(self) -> StreamRecorder:
        """One listening TradingStream per broker for the session (starting one costs seconds on Alpaca)."""
        if self._stream is None:
            recorder = StreamRecorder(self.key, self.secret, self.stream_url).start()
            if self.is_sim:
                recorder.wait_listening(self.running)
            else:
                time.sleep(3)
            self._stream = recorder
        return self._stream


@pytest.fixture(scope="session")
def _sim_server() -> Iterator[RunningSimulator]:
    with simulator_in_thread(SimSettings(seed=7, tick_seconds=FAST_TICK, rate_limit=100_000)) as running:
        yield running


def _brokers() -> list[Any]:
    paper = pytest.param("paper", marks=[
        pytest.mark.alpaca_paper,
        pytest.mark.skipif(not (PAPER_KEY and PAPER_SECRET), reason="APCA_API_KEY_ID / APCA_API_SECRET_KEY not set"),
    ])
    return ["sim", paper]


@pytest.fixture(scope="session")
def _broker_instances(_sim_server: RunningSimulator) -> Iterator[dict[str, BrokerUnderTest]]:
    instances = {
        "sim": BrokerUnderTest("sim", _sim_server.url, _sim_server.stream_url, SIM_KEY, SIM_SECRET, _sim_server),
    }
    if PAPER_KEY and PAPER_SECRET:
        instances["paper"] = BrokerUnderTest(
            "paper", "https://paper-api.alpaca.markets", "wss://paper-api.alpaca.markets/stream",
            PAPER_KEY, PAPER_SECRET,
        )
    yield instances
    for instance in instances.values():
        if instance._stream is not None:
            instance._stream.stop()


@pytest.fixture(params=_brokers())
def broker(request, _broker_instances) -> BrokerUnderTest:
    """The broker under contract; the simulator starts every test from /admin/reset."""
    instance = _broker_instances[request.param]
    if instance.is_sim:
        httpx.post(instance.url + "/admin/reset").raise_for_status()
    else:
        instance.trading().cancel_orders()
    return instance


class Admin:
    """The simulator's /admin/ API through plain httpx."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=10)

    def quote(self, symbol: str, bid: str, ask: str) -> dict:
        return self._ok(self.http.put(f"/admin/quotes/{symbol}", json={"bid": bid, "ask": ask}))

    def fault(self, **body: Any) -> dict:
        return self._ok(self.http.post("/admin/faults", json=body))

    def clear_faults(self) -> None:
        self.http.delete("/admin/faults").raise_for_status()

    def liquidity(self, symbol: str, max_fill_qty: Any) -> dict:
        return self._ok(self.http.post("/admin/liquidity", json={"symbol": symbol, "max_fill_qty": max_fill_qty}))

    def clock(self, is_open: bool) -> dict:
        return self._ok(self.http.post("/admin/clock", json={"is_open": is_open}))

    def corporate_action(self, **body: Any) -> dict:
        return self._ok(self.http.post("/admin/corporate_actions", json=body))

    def requests(self) -> dict:
        return self._ok(self.http.get("/admin/requests"))

    def webhook(self, url: str, secret: str) -> dict:
        return self._ok(self.http.post("/admin/webhooks", json={"url": url, "secret": secret}))

    @staticmethod
    def _ok(response: httpx.Response) -> Any:
        response.raise_for_status()
        return response.json() if response.content else None


@pytest.fixture
def admin(broker: BrokerUnderTest) -> Iterator[Admin]:
    if not broker.is_sim:
        pytest.skip("needs the simulator's /admin/ API")
    client = Admin(broker.url)
    yield client
    client.http.close()
