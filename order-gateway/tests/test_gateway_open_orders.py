"""Listing the open orders covers all of them, however many pages they take: the real Broker (alpaca-py) against
alpaca-sim. An order beyond the first page is open, not gone (the poller looks up by id what the list lacks)."""

from decimal import Decimal
from uuid import uuid4

import pytest

from order_gateway.broker import Broker
from tradebus_contracts import client_order_id_for


@pytest.fixture
def broker(sim):
    broker = Broker("k", "s", sim.url, paper=True, requests_per_min=100_000, timeout_s=5)
    yield broker
    broker.close()


def rest_orders(sim, n):
    """``n`` limit buys far below the market, placed in the simulator directly: they rest."""
    return {sim.sim.broker.submit({"symbol": "AAPL", "side": "buy", "type": "limit", "time_in_force": "day",
                                   "qty": "1", "limit_price": str(Decimal("1.00")),
                                   "client_order_id": client_order_id_for(uuid4())}).id for _ in range(n)}


async def test_open_orders_when_more_rest_than_a_page_holds_then_every_one_is_listed_once(sim, broker):
    resting = rest_orders(sim, 125)

    listed = await broker.open_orders(page=50)

    assert sorted(str(o["id"]) for o in listed) == sorted(resting)


async def test_open_orders_when_fewer_than_a_page_then_one_call(sim, broker):
    resting = rest_orders(sim, 3)
    before = sim.sim.requests["GET /v2/orders"]

    listed = await broker.open_orders(page=50)

    assert {str(o["id"]) for o in listed} == resting
    assert sim.sim.requests["GET /v2/orders"] == before + 1
