"""The local stack as `make up` runs it: `tradectl up` wires alpaca-sim to deliver every trade update as a signed
webhook to webhook-ingest, so a fill reaches the gateway by its trade_updates stream and by webhook (and by polling
while the order is still open) — and exactly one FillReported is published for it. With the stream silenced at the
simulator, the webhook is what reports it, ahead of the next poll.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import httpx
import nats
import pytest

from tradebus_contracts import OrderRequested, decode_event, encode_event, subject_for
from tradectl.testing import running_stack, stack_endpoints, wait_for_reference_data

pytestmark = pytest.mark.integration
WEBHOOK_CONSUMER = ("BROKER", "order-gateway-trade-updates")


@pytest.fixture(scope="module")
def stack():
    """One `tradectl up` for the module (its start-up is the slow part); yields endpoints.json."""
    base = Path(tempfile.mkdtemp(prefix="tradebus-home-"))
    try:
        with running_stack(base / "home"):
            yield stack_endpoints(base / "home")
    finally:
        shutil.rmtree(base, ignore_errors=True)


class Bus:
    def __init__(self, nats_url: str) -> None:
        self.nats_url = nats_url

    async def __aenter__(self) -> Bus:
        self.nc = await nats.connect(self.nats_url)
        self.js = self.nc.jetstream()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.nc.drain()

    async def request(self, **fields: object) -> OrderRequested:
        order_id = uuid.uuid4()
        request = OrderRequested(**{"producer": "test", "order_id": order_id, "correlation_id": str(order_id),
                                    "symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day",
                                    "qty": Decimal(1), **fields})
        await self.js.publish(subject_for(request), encode_event(request),
                              headers={"Nats-Msg-Id": str(request.event_id)})
        return request

    async def stored(self, stream: str) -> list:
        """Every event in a stream, read from the stream itself (nothing a busy subscriber could miss)."""
        count = (await self.js.stream_info(stream)).state.messages
        first = (await self.js.stream_info(stream)).state.first_seq
        return [decode_event((await self.js.get_msg(stream, seq)).data) for seq in range(first, first + count)]

    async def of(self, stream: str, order: OrderRequested, event_type: str) -> list:
        return [e for e in await self.stored(stream)
                if e.event_type == event_type and getattr(e, "order_id", None) == order.order_id]

    async def webhook_updates_applied(self) -> bool:
        info = await self.js.consumer_info(*WEBHOOK_CONSUMER)
        return info.num_pending == 0 and info.num_ack_pending == 0


async def eventually(condition: Callable[[], Awaitable[object]], what: str, timeout: float = 30.0) -> object:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := await condition()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
    return value


async def test_fill_when_the_stack_runs_then_the_webhook_brings_it_too_and_exactly_one_fill_is_reported(stack):
    await wait_for_reference_data(stack["nats_url"])
    async with Bus(stack["nats_url"]) as bus:
        request = await bus.request()
        [fill] = await eventually(lambda: bus.of("FILLS", request, "FillReported"), "the fill")
        [webhook] = await eventually(
            lambda: _webhook_copies(bus, fill.execution_id), "the simulator's fill webhook, verified and published")
        await eventually(bus.webhook_updates_applied, "the gateway to apply the webhook's copy")
        fills = await bus.of("FILLS", request, "FillReported")
        letters = [e for e in await bus.stored("DLQ") if str(request.order_id) in e.payload_text]

    assert fills == [fill] and fill.qty == Decimal(1) and fill.source in ("stream", "webhook")
    assert (webhook.update, webhook.correlation_id, webhook.source) == ("fill", str(request.order_id), "webhook")
    assert letters == []


async def _webhook_copies(bus: Bus, execution_id: str) -> list:
    return [e for e in await bus.stored("BROKER") if e.execution_id == execution_id]


async def test_fill_when_the_gateways_stream_is_silenced_at_the_simulator_then_the_webhook_reports_it_first(stack):
    await wait_for_reference_data(stack["nats_url"])
    async with Bus(stack["nats_url"]) as bus, httpx.AsyncClient(base_url=stack["broker_url"], timeout=10) as sim:
        await sim.put("/admin/quotes/AAPL", json={"bid": "187.20", "ask": "187.30"})
        # a resting order keeps the gateway polling the simulator every 2 s, which lets the test see when it polls
        resting = await bus.request(type="limit", limit_price=Decimal("180.00"))
        await eventually(lambda: bus.of("ORDERS", resting, "OrderSubmitted"), "the resting order at the broker")
        try:
            await sim.post("/admin/faults", json={"method": "GET", "path": "/stream", "status": 503, "times": 0,
                                                  "after_effect": True})  # a silent trade_updates stream
            await sim.post("/admin/faults", json={"method": "GET", "path": "/v2/orders", "delay_ms": 1, "times": 1})
            await eventually(lambda: _poll_seen(sim), "the gateway's next poll")  # the one after is 2 s away
            request = await bus.request()
            [fill] = await eventually(lambda: bus.of("FILLS", request, "FillReported"), "the fill")
        finally:
            await sim.delete("/admin/faults")

    assert (fill.source, fill.qty) == ("webhook", Decimal(1))


async def _poll_seen(sim: httpx.AsyncClient) -> bool:
    return not any(f["path"] == "/v2/orders" for f in (await sim.get("/admin/faults")).json())
