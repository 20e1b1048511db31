"""The local stack as `make up` runs it: `tradectl up` wires alpaca-sim to deliver every trade update as a signed
webhook to webhook-ingest, so a fill reaches the gateway by its trade_updates stream, by webhook and by polling —
and exactly one FillReported is published for it. With the stream silenced at the simulator, the webhook is what
reports it, ahead of the next poll.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import nats
import pytest

from tradebus_contracts import OrderRequested, client_order_id_for, decode_event, encode_event, subject_for
from tradebus_contracts.services import OPERATOR, Service
from tradectl.identities import pg_role, secrets_dir
from tradectl.testing import running_stack, stack_endpoints, wait_for_reference_data

pytestmark = pytest.mark.integration
WEBHOOK_CONSUMER = ("BROKER", "order-gateway-trade-updates")


@pytest.fixture(scope="module")
def stack():
    """One `tradectl up` for the module (its start-up is the slow part); yields endpoints.json (and its home)."""
    base = Path(tempfile.mkdtemp(prefix="tradebus-home-"))
    home = base / "home"
    try:
        with running_stack(home):
            yield {**stack_endpoints(home), "home": home,
                   "plain_database_url": json.loads((home / "endpoints.json").read_text())["database_url"]}
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


async def test_fill_when_the_stack_runs_then_stream_poll_and_webhook_each_bring_it_and_exactly_one_fill_is_reported(
        stack):
    """The gateway's order row is held locked while the fill happens, so each source's report has to wait for it
    side by side (a report that adds nothing is never written anywhere: only a waiting report can be seen). Once the
    webhook's copy is held by the gateway, the simulator has answered the gateway's poll of the order, and three
    gateway transactions wait for the row — the stream's, the webhook's, the poll's — the row is let go."""
    await wait_for_reference_data(stack["nats_url"])
    async with Bus(stack["nats_url"]) as bus, httpx.AsyncClient(base_url=stack["broker_url"], timeout=10) as sim:
        await sim.put("/admin/quotes/AAPL", json={"bid": "187.20", "ask": "187.30"})
        request = await bus.request(type="limit", limit_price=Decimal("185.00"))  # resting: polled every 2 s
        await eventually(lambda: _status(bus, request, "new"), "the order resting at the broker")
        row = await _gateway_db(stack)
        try:
            async with row.transaction():
                await row.fetchval("SELECT 1 FROM orders WHERE order_id = $1 FOR UPDATE", request.order_id)
                polls_before = await _lookups(sim)
                await sim.put("/admin/quotes/AAPL", json={"bid": "184.80", "ask": "184.90"})  # now it fills
                [webhook] = await eventually(lambda: _webhook_fills(bus, request), "the fill's webhook on BROKER")
                await eventually(lambda: _webhook_held(bus), "the gateway holding the webhook's copy")
                await eventually(lambda: _gt(_lookups(sim), polls_before), "the gateway's poll of the order")
                await eventually(lambda: _waiting_for_the_row(row), "three reports waiting for the order's row")
            [fill] = await eventually(lambda: bus.of("FILLS", request, "FillReported"), "the fill")
            await eventually(bus.webhook_updates_applied, "the gateway to apply the webhook's copy")
            await asyncio.sleep(1.0)  # the reports that waited have all been applied by now
            fills = await bus.of("FILLS", request, "FillReported")
            recorded = await row.fetch("SELECT execution_id, source FROM fills WHERE order_id = $1", request.order_id)
        finally:
            await row.close()
        letters = [e for e in await bus.stored("DLQ") if str(request.order_id) in e.payload_text]

    assert fills == [fill] and fill.qty == Decimal(1)
    # whichever report got the row first counts it: the stream or the webhook with the broker's execution id, the
    # poll with the id it derives from the cumulative quantity (there is none in a polled order)
    assert (fill.source, fill.execution_id) in {("stream", webhook.execution_id), ("webhook", webhook.execution_id),
                                                ("poll", f"{client_order_id_for(request.order_id)}:cum:1")}, fill
    assert [(r["execution_id"], r["source"]) for r in recorded] == [(fill.execution_id, fill.source)]
    assert (webhook.update, webhook.correlation_id, webhook.source) == ("fill", str(request.order_id), "webhook")
    assert letters == []


async def _status(bus: Bus, request: OrderRequested, status: str) -> bool:
    return any(e.status == status for e in await bus.of("ORDERS", request, "OrderStatusChanged"))


async def _gateway_db(stack) -> asyncpg.Connection:
    """PostgreSQL as the gateway's own role (the only one that may lock its rows)."""
    role = pg_role(Service.GATEWAY)
    url = stack["plain_database_url"].replace(f"{pg_role(OPERATOR)}@", f"{role}@")
    conn = await asyncpg.connect(url, passfile=str(secrets_dir(stack["home"]) / "postgres" / f"{role}.pgpass"))
    await conn.execute("SET search_path = order_gateway")
    return conn


async def _webhook_fills(bus: Bus, request: OrderRequested) -> list:
    return [e for e in await bus.stored("BROKER")
            if getattr(e, "update", None) == "fill" and e.correlation_id == str(request.order_id)]


async def _webhook_held(bus: Bus) -> bool:
    info = await bus.js.consumer_info(*WEBHOOK_CONSUMER)
    return info.num_pending == 0 and info.num_ack_pending == 1


async def _lookups(sim: httpx.AsyncClient) -> int:
    """How often the simulator has answered a look-up of one order by id (what the poller asks for an order that
    has left the open orders)."""
    return (await sim.get("/admin/requests")).json()["by_route"].get("GET /v2/orders/{order_id}", 0)


async def _gt(value: Awaitable[int], than: int) -> bool:
    return await value > than


async def _waiting_for_the_row(conn: asyncpg.Connection) -> bool:
    """Three other sessions of the gateway's role wait for a lock, each on ``lock_order``'s statement: the stream's
    report, the webhook's (held unacked, just checked) and the poll's (one poller, one at a time)."""
    waiting = await conn.fetch(
        "SELECT query FROM pg_stat_activity WHERE usename = current_user AND pid <> pg_backend_pid() "
        "AND wait_event_type = 'Lock'")
    return len(waiting) == 3 and all("FOR UPDATE" in r["query"] for r in waiting)


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
