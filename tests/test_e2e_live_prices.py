"""Live prices through the whole stack as `make up` runs it: a price moved at the simulator reaches risk through the
market-data stream, the gateway and REFDATA in time for the next order, sent 200 ms after the move."""

import asyncio
import json
import time
import uuid
from decimal import Decimal

import nats
import pytest

from tradebus_contracts import OrderRequested, decode_event, encode_event, subject_for
from tradectl.testing import pin, stack_endpoints, wait_for_reference_data

pytestmark = pytest.mark.integration
SENT_AFTER_MOVE_S = 0.2


def buy_limit(price: str) -> OrderRequested:
    order_id = uuid.uuid4()
    return OrderRequested(producer="test", order_id=order_id, correlation_id=str(order_id), symbol="AAPL", side="buy",
                          type="limit", time_in_force="day", qty=Decimal("1"), limit_price=Decimal(price))


async def risk_decision(nats_url: str, request: OrderRequested, timeout: float = 20):
    """Publish the request; the RiskApproved or RiskRejected that answers it."""
    nc = await nats.connect(nats_url)
    decided: asyncio.Future = asyncio.get_running_loop().create_future()

    async def on(msg):
        event = decode_event(msg.data)
        if getattr(event, "order_id", None) == request.order_id and not decided.done():
            decided.set_result(event)

    await nc.subscribe("risk.>", cb=on)
    await nc.jetstream().publish(subject_for(request), encode_event(request),
                                 headers={"Nats-Msg-Id": str(request.event_id)})
    try:
        return await asyncio.wait_for(decided, timeout)
    finally:
        await nc.drain()


async def stream_subscribed(log_path, timeout: float = 60) -> None:
    """Until the gateway says the market-data stream confirmed its subscription (REST polling alone would take ~2 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log_path.exists():
            for line in log_path.read_text().splitlines():
                try:
                    if json.loads(line).get("event") == "gateway.quote_stream_subscribed":
                        return
                except ValueError:
                    continue
        await asyncio.sleep(0.2)
    raise AssertionError("the gateway's market-data stream never subscribed:\n" + log_path.read_text()[-3000:])


async def test_quote_when_moved_at_the_simulator_then_risk_judges_the_next_order_against_it(running_stack):
    home, _, _ = running_stack
    endpoints = stack_endpoints(home)
    nats_url, broker_url = endpoints["nats_url"], endpoints["broker_url"]
    await wait_for_reference_data(nats_url)
    await stream_subscribed(home / "logs" / "order-gateway.log")

    # down to 150: a buy limit at 170 is now 13 % above the ask (the collar is 10 %); at the old ~190 it rested
    await pin(broker_url, "AAPL", "150.00", "150.02")
    await asyncio.sleep(SENT_AFTER_MOVE_S)
    down = await risk_decision(nats_url, buy_limit("170.00"))

    await asyncio.sleep(1)  # a new move, not a burst
    # up to 169: the same limit is now 0.6 % above the ask; against 150.02 it would be refused
    await pin(broker_url, "AAPL", "169.00", "169.02")
    await asyncio.sleep(SENT_AFTER_MOVE_S)
    up = await risk_decision(nats_url, buy_limit("170.00"))

    assert down.event_type == "RiskRejected"
    collar = [r for r in down.reasons if r.code == "PRICE_COLLAR_BUY_LIMIT_ABOVE_ASK"]
    assert collar and "150.02" in collar[0].message, down.reasons
    assert up.event_type == "RiskApproved", getattr(up, "reasons", None)
