"""Fill webhooks across real processes: alpaca-sim (the broker and the sender), webhook-ingest and the order gateway on
real NATS and PostgreSQL. A verified webhook's fill appears once on ``fills.<SYMBOL>``, however many copies and however
concurrent; with NATS down the sender is told 503 and its retry lands exactly once; killed between the PubAck and
remembering the webhook-id, it is restarted and the sender's retry still makes one message and one fill.

The gateway runs without its trade_updates stream and with polling far away, so the webhook is its only news of a fill.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import httpx
import nats
import pytest

from alpaca_sim.app import SimSettings
from alpaca_sim.testing import simulator_in_thread
from tradebus_contracts import OrderRequested, client_order_id_for, decode_event, encode_event, sign_approval
from tradebus_contracts.signing import generate_private_key, public_key_to_b64
from tradebus_contracts.subjects import subject_for
from tradebus_runtime.bus import ensure_streams
from tradebus_runtime.crashpoints import CRASH_POINTS_ENV
from tradebus_runtime.health import wait_until_healthy
from tradectl.embedded import free_port
from tradectl.testing import exit_reason
from webhook_ingest.testing import WebhookIngestProcess, new_secret, raw_post, remembered, send_all, signed_headers

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
SECRET = new_secret()


async def eventually(condition: Callable[[], object], what: str, timeout: float = 20.0) -> object:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := condition()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
    return value


class Stack:
    """alpaca-sim in a thread, webhook-ingest and the order gateway as processes, and a NATS connection that reads
    what they stored."""

    def __init__(self, sim, nats_url: str, ingest: WebhookIngestProcess, gateway: subprocess.Popen, key) -> None:
        self.sim, self.nats_url, self.ingest, self.gateway, self.key = sim, nats_url, ingest, gateway, key
        self.updates: list[dict] = []  # every trade update the simulator emits, as it would POST it
        sim.sim.broker.listeners.append(self.updates.append)

    async def connect(self) -> None:
        self.nc = await nats.connect(self.nats_url)
        self.js = self.nc.jetstream()

    async def place(self, count: int) -> list[OrderRequested]:
        """``count`` market buys of 1 AAPL, approved as the risk service would, all at once."""
        requests = []
        for _ in range(count):
            order_id = uuid4()
            requests.append(OrderRequested(producer="test", order_id=order_id, correlation_id=str(order_id),
                                           symbol="AAPL", side="buy", type="market", time_in_force="day",
                                           qty=Decimal(1)))
        acks = [await self.js.publish_async(subject_for(a), encode_event(a), headers={"Nats-Msg-Id": str(a.event_id)})
                for a in (sign_approval(r, private_key=self.key, issued_at=datetime.now(UTC),
                                        ttl=timedelta(seconds=60), producer="risk-service") for r in requests)]
        await asyncio.gather(*acks)
        return requests

    def fill_of(self, request: OrderRequested) -> dict | None:
        client_order_id = client_order_id_for(request.order_id)
        return next((u for u in self.updates if u["event"] == "fill"
                     and u["order"]["client_order_id"] == client_order_id), None)

    async def stored(self, stream: str) -> int:
        return (await self.js.stream_info(stream)).state.messages

    async def fills(self, at_least: int) -> list:
        """The FillReported events on the FILLS stream (read from the stream: a busy test process may miss core
        NATS messages), once there are at least ``at_least``."""
        for _ in range(600):
            if (count := await self.stored("FILLS")) >= at_least:
                return [decode_event((await self.js.get_msg("FILLS", seq)).data) for seq in range(1, count + 1)]
            await asyncio.sleep(0.05)
        raise AssertionError(f"fewer than {at_least} fills on the FILLS stream")


@pytest.fixture
async def stack(nats_url, database_url, tmp_path):
    key = generate_private_key()
    with simulator_in_thread(SimSettings(seed=7, tick_seconds=0.1, rate_limit=100_000)) as sim:
        httpx.put(f"{sim.url}/admin/quotes/AAPL", json={"bid": "187.20", "ask": "187.30"}).raise_for_status()
        nc = await nats.connect(nats_url)
        await ensure_streams(nc.jetstream())
        await nc.drain()
        ingest = WebhookIngestProcess(nats_url, database_url, free_port(), tmp_path / "webhook-ingest.log", [SECRET])
        env = {**os.environ, "NATS_URL": nats_url, "DATABASE_URL": database_url, "TRADEBUS_HOME": str(tmp_path),
               "BROKER_URL": sim.url, "TRADEBUS_BROKER": "simulator", "PYTHONUNBUFFERED": "1",
               "GATEWAY_TRUSTED_KEYS": public_key_to_b64(key.public_key()), "GATEWAY_STREAM": "false",
               "GATEWAY_POLL_INTERVAL_S": "600", "GATEWAY_RATE_LIMIT_PER_MIN": "100000"}
        gateway_log = (tmp_path / "order-gateway.log").open("wb")
        gateway = subprocess.Popen([str(BIN / "order-gateway")], env=env, stdout=gateway_log, stderr=subprocess.STDOUT)
        ingest.start()
        try:
            await wait_until_healthy(nats_url, ["order-gateway"], 30, exited=lambda _: exit_reason(gateway))
            await ingest.healthy()
            running = Stack(sim, nats_url, ingest, gateway, key)
            await running.connect()
            yield running
            await running.nc.drain()
        finally:
            ingest.stop()
            gateway.terminate()
            gateway.wait(15)
            gateway_log.close()


async def post(client: httpx.AsyncClient, url: str, update: dict, webhook_id: str | None = None) -> httpx.Response:
    body = json.dumps(update).encode()
    return await client.post(url, content=body, headers=signed_headers(body, SECRET, webhook_id=webhook_id))


async def test_webhook_when_signed_with_the_official_library_then_accepted_and_its_fill_appears_once_on_fills(stack):
    [request] = await stack.place(1)
    fill = await eventually(lambda: stack.fill_of(request), "the simulator's fill")
    webhook_id = "msg_" + fill["execution_id"].replace("-", "")

    async with httpx.AsyncClient(timeout=10) as client:
        accepted = await post(client, stack.ingest.url, fill, webhook_id)
        [reported] = await stack.fills(1)
        replayed = await post(client, stack.ingest.url, fill, webhook_id)  # a sender's retry: same id, new timestamp

    assert (accepted.status_code, accepted.json()["status"]) == (200, "accepted")
    assert (replayed.status_code, replayed.json()["status"]) == (200, "duplicate")
    assert (reported.order_id, reported.execution_id, reported.source) == (request.order_id, fill["execution_id"],
                                                                           "webhook")
    assert (reported.qty, reported.price) == (Decimal(1), Decimal("187.30"))
    assert await stack.stored("BROKER") == 1 and await stack.stored("FILLS") == 1


async def test_webhooks_when_200_arrive_concurrently_for_200_executions_then_exactly_200_fills(stack):
    requests = await stack.place(200)
    # the gateway writes its row before it posts an order, so once the simulator has filled one the gateway knows it
    await eventually(lambda: all(stack.fill_of(r) for r in requests), "200 fills at the simulator", timeout=60)
    bodies = [json.dumps(stack.fill_of(r)).encode() for r in requests]
    ids = [f"msg_{uuid4().hex}" for _ in bodies]

    def signed_posts() -> list[bytes]:  # a fresh timestamp each time, like a sender's retry
        return [raw_post(stack.ingest.url, body, signed_headers(body, SECRET, webhook_id=webhook_id))
                for body, webhook_id in zip(bodies, ids, strict=True)]

    first = await send_all(stack.ingest.url, signed_posts(), connections=200)
    reported = await stack.fills(200)
    again = await send_all(stack.ingest.url, signed_posts(), connections=200)

    assert [a.status for a in first] == [200] * 200
    assert {json.loads(a.body)["status"] for a in first} == {"accepted"}
    assert {(a.status, json.loads(a.body)["status"]) for a in again} == {(200, "duplicate")}
    assert len({f.execution_id for f in reported}) == 200 and {f.source for f in reported} == {"webhook"}
    assert await stack.stored("BROKER") == 200 and await stack.stored("FILLS") == 200



async def test_webhook_when_nats_is_down_then_503_and_after_it_returns_the_senders_retry_lands_exactly_once(
        own_nats, database_url, tmp_path):
    ingest = WebhookIngestProcess(own_nats.url, database_url, free_port(), tmp_path / "webhook-ingest.log",
                                  [SECRET]).start()
    settings = SimSettings(seed=7, tick_seconds=0.1, webhook_retry_scale=0.001)  # retries at 0, 5 ms, 0.3 s, 2.1 s...
    keys = {"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}
    market_buy = {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"}
    try:
        await ingest.healthy()
        with simulator_in_thread(settings) as sim:
            async with httpx.AsyncClient(timeout=10) as client:
                await client.post(f"{sim.url}/admin/webhooks", json={"url": ingest.url, "secret": SECRET})
                own_nats.stop()
                await asyncio.sleep(0.3)  # webhook-ingest sees its connection drop
                order = (await client.post(f"{sim.url}/v2/orders", json=market_buy, headers=keys)).json()
                refused = await post(client, ingest.url, {"event": "new", "order": order}, "msg_by_hand")
                await eventually(lambda: len(sim.sim.broker.orders) and sim.sim.webhooks.targets, "the order")
                await asyncio.sleep(0.5)  # the simulator's first attempts (0, 5 ms, 0.3 s) are refused meanwhile
                delivered_while_down = sim.sim.webhooks.delivered
                own_nats.start()
                await eventually(lambda: sim.sim.webhooks.delivered >= 3, "the simulator's retries", timeout=20)
                retried = await post(client, ingest.url, {"event": "new", "order": order}, "msg_by_hand")
        nc = await nats.connect(own_nats.url)
        js = nc.jetstream()
        count = (await js.stream_info("BROKER")).state.messages
        on_bus = [decode_event((await js.get_msg("BROKER", seq)).data) for seq in range(1, count + 1)]
        await nc.drain()
    finally:
        ingest.stop()

    assert (refused.status_code, refused.headers["retry-after"], refused.json()["code"]) == (503, "5", "UNAVAILABLE")
    assert delivered_while_down == 0 and retried.status_code == 200
    ids = [e.delivery_id for e in on_bus]
    assert len(ids) == len(set(ids)) == 4  # the simulator's pending_new, new and fill, and ours: each exactly once
    assert sorted(e.update for e in on_bus) == ["fill", "new", "new", "pending_new"]


async def test_webhook_when_ingest_is_killed_after_the_puback_before_the_id_is_remembered_then_the_retry_lands_once(
        stack, database_url, tmp_path):
    [request] = await stack.place(1)
    fill = await eventually(lambda: stack.fill_of(request), "the simulator's fill")
    webhook_id = "msg_" + fill["execution_id"].replace("-", "")
    stack.ingest.stop()
    port = free_port()
    crashing = WebhookIngestProcess(stack.nats_url, database_url, port, tmp_path / "crashing.log", [SECRET],
                                    extra_env={CRASH_POINTS_ENV: "webhook.after_puback:1"}).start()
    restarted = WebhookIngestProcess(stack.nats_url, database_url, port, tmp_path / "restarted.log", [SECRET])
    try:
        await crashing.healthy()
        async with httpx.AsyncClient(timeout=10) as client:
            with pytest.raises(httpx.TransportError):  # the process dies with the request: no answer at all
                await post(client, crashing.url, fill, webhook_id)
            exit_code = crashing.proc.wait(10)
            on_bus_after_crash, remembered_after_crash = await stack.stored("BROKER"), await remembered(database_url)
            await restarted.start().healthy()
            retried = await post(client, restarted.url, fill, webhook_id)  # the sender's retry: same id, new timestamp
        [reported] = await stack.fills(1)
        await asyncio.sleep(0.5)  # a second copy or fill, if there were to be one, has had time to appear
        applied = await stack.js.consumer_info("BROKER", "order-gateway-trade-updates")
    finally:
        crashing.stop()
        restarted.stop()

    assert exit_code == -9 and (on_bus_after_crash, remembered_after_crash) == (1, 0)  # killed after the PubAck
    assert (retried.status_code, retried.json()["status"]) == (200, "accepted")
    assert await stack.stored("BROKER") == 1  # the retry's copy, same Nats-Msg-Id, was dropped by the stream
    assert applied.delivered.stream_seq == 1 and await stack.stored("FILLS") == 1
    assert (reported.execution_id, reported.source) == (fill["execution_id"], "webhook")
    assert await remembered(database_url) == 1

