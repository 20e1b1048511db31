"""Stream outages injected with /admin/faults on GET /stream: a dropped socket, and a silent one."""

from __future__ import annotations

import httpx
import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import MarketOrderRequest

from alpaca_sim.app import SimSettings
from alpaca_sim.testing import StreamRecorder, no_retry, simulator_in_thread, wait_for


@pytest.fixture
def sim_with_stream():
    with simulator_in_thread(SimSettings(tick_seconds=0.05)) as running:
        recorder = StreamRecorder("k", "s", running.stream_url).start()
        recorder.wait_listening(running)
        httpx.put(running.url + "/admin/quotes/AAPL", json={"bid": "100.00", "ask": "100.02"}).raise_for_status()
        try:
            yield running, recorder, no_retry(TradingClient("k", "s", url_override=running.url))
        finally:
            recorder.stop()


def filled_buy(client: TradingClient):
    order = client.submit_order(MarketOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY))
    wait_for(lambda: client.get_order_by_id(order.id).status == OrderStatus.FILLED)
    return order


def test_stream_when_silenced_then_fills_only_visible_by_polling_until_cleared(sim_with_stream):
    running, recorder, client = sim_with_stream
    httpx.post(running.url + "/admin/faults", json={"path": "/stream", "status": 503, "after_effect": True, "times": 0}).raise_for_status()

    silent = filled_buy(client)
    httpx.delete(running.url + "/admin/faults").raise_for_status()
    heard = filled_buy(client)

    wait_for(lambda: "fill" in recorder.events(heard.id))
    assert recorder.events(silent.id) == []


def test_stream_when_dropped_and_one_handshake_refused_then_client_reconnects_and_hears_fills(sim_with_stream):
    running, recorder, client = sim_with_stream

    httpx.post(running.url + "/admin/faults", json={"method": "GET", "path": "/stream", "status": 503, "times": 1}).raise_for_status()

    wait_for(lambda: not running.sim.faults.faults, timeout=10)  # the reconnect attempt was refused once
    wait_for(lambda: running.sim.hub.connections > 0, timeout=15)
    order = filled_buy(client)
    wait_for(lambda: "fill" in recorder.events(order.id))
