"""The POST /v2/orders body carries the approved decimals exactly, as strings: the real Broker (alpaca-py) against
alpaca-sim, and the bytes the simulator received.

A JSON float rounds what does not fit in 17 significant digits and spells ``1`` as ``1.0``; the signed order must
reach the broker as it was approved."""

import json
from decimal import Decimal
from uuid import uuid4

import httpx
import pytest

from alpaca_sim import trading_routes
from order_gateway.broker import Broker, BrokerUnavailable
from tradebus_contracts import OrderFields, client_order_id_for


@pytest.fixture
def posted_bodies(monkeypatch):
    """Every POST /v2/orders body the simulator reads, as the raw bytes it received."""
    bodies: list[bytes] = []
    read_json = trading_routes.read_json

    async def recording(request, default=None):
        if request.method == "POST" and request.url.path == "/v2/orders":
            bodies.append(await request.body())
        return await read_json(request, default)

    monkeypatch.setattr(trading_routes, "read_json", recording)
    return bodies


@pytest.fixture
def broker(sim):
    broker = Broker("k", "s", sim.url, paper=True, requests_per_min=1000, timeout_s=5)
    yield broker
    broker.close()


@pytest.mark.parametrize("fields", [
    {"type": "limit", "qty": "0.123456789", "limit_price": "187.25"},
    {"type": "limit", "qty": "12345678.123456789", "limit_price": "0.0010"},  # 17 digits: a float keeps 16
    {"type": "market", "qty": "1"},  # a float says "1.0"
    {"type": "market", "notional": "10.50"},
], ids=["fractional-limit", "seventeen-digits", "whole-share", "notional"])
async def test_submit_when_posted_then_the_simulator_receives_the_approved_decimals_as_exact_strings(
        sim, broker, posted_bodies, fields):
    order = OrderFields(symbol="AAPL", side="buy", time_in_force="day",
                        **{name: Decimal(value) if name != "type" else value for name, value in fields.items()})
    client_order_id = client_order_id_for(uuid4())

    placed = await broker.submit(order, client_order_id)

    (raw,) = posted_bodies
    body = json.loads(raw)
    numbers = {name: value for name, value in fields.items() if name != "type"}
    assert {name: body[name] for name in numbers} == numbers  # strings, digit for digit
    assert body["client_order_id"] == client_order_id and body["type"] == fields["type"]
    stored = sim.sim.broker.get_by_client_order_id(client_order_id).to_json()
    for name in ("qty", "notional"):
        if name in numbers:
            assert stored[name] == format(Decimal(numbers[name]).normalize(), "f") == placed[name]  # Alpaca's spelling



async def test_submit_when_the_broker_answers_504_then_posted_once_and_unavailable_without_an_sdk_retry(
        sim, broker, posted_bodies):
    fault = {"method": "POST", "path": "/v2/orders", "status": 504, "times": 0, "after_effect": True}
    httpx.post(f"{sim.url}/admin/faults", json=fault, timeout=5).raise_for_status()
    order = OrderFields(symbol="AAPL", side="buy", type="market", time_in_force="day", qty=Decimal(1))

    with pytest.raises(BrokerUnavailable):
        await broker.submit(order, client_order_id_for(uuid4()))

    assert len(posted_bodies) == 1  # alpaca-py would have sent it 4 times (3 retries on 504)
