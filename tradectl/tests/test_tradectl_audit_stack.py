"""Orders through the real stack (risk-service, order-gateway against alpaca-sim, audit-recorder: each its own
process), then ``tradectl replay --order`` tells each order's story in order and ``tradectl audit verify`` passes."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import nats
import pytest

from alpaca_sim.testing import simulator_in_thread
from audit_recorder.testing import RecorderProcess, wait_recorded
from tradebus_contracts import CancelRequested, OrderRequested, decode_event, encode_event, subject_for
from tradebus_runtime.bus import ensure_streams
from tradebus_runtime.health import wait_until_healthy
from tradectl.keys import ensure_signing_key
from tradectl.replay import ReplayQuery, replay
from tradectl.testing import exit_reason, wait_for_reference_data

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


@pytest.fixture
async def stack(nats_url, database_url, tmp_path):
    """risk-service and order-gateway on alpaca-sim, and the audit recorder; yields a tradectl runner."""
    nc = await nats.connect(nats_url)
    await ensure_streams(nc.jetstream())
    home = tmp_path / "home"
    keys = ensure_signing_key(home / "keys")
    env = {**os.environ, "NATS_URL": nats_url, "DATABASE_URL": database_url, "TRADEBUS_HOME": str(home),
           "RISK_SIGNING_KEY_PATH": str(keys.private_path), "GATEWAY_TRUSTED_KEYS": keys.public_b64,
           "TRADEBUS_BROKER": "simulator", "PYTHONUNBUFFERED": "1", "GATEWAY_POLL_INTERVAL_S": "0.5"}
    recorder = RecorderProcess(nats_url, database_url, home).start()
    with simulator_in_thread() as sim:
        services = {name: subprocess.Popen([str(BIN / name)], env={**env, "BROKER_URL": sim.url},
                                           stdout=(tmp_path / f"{name}.log").open("wb"), stderr=subprocess.STDOUT)
                    for name in ("risk-service", "order-gateway")}
        try:
            await wait_until_healthy(nats_url, services, 30, exited=lambda name: exit_reason(services[name]))
            await recorder.healthy()
            await wait_for_reference_data(nats_url)

            def tradectl(*args: str) -> subprocess.CompletedProcess[str]:
                return subprocess.run([str(BIN / "tradectl"), *args], env=env, capture_output=True, text=True,
                                      timeout=60)

            yield nc, tradectl
        finally:
            for proc in services.values():
                proc.send_signal(signal.SIGTERM)
            for proc in services.values():
                proc.wait(15)
            recorder.stop()
            await nc.drain()


def order(**fields) -> OrderRequested:
    order_id = uuid.uuid4()
    base = dict(producer="test", order_id=order_id, correlation_id=str(order_id), symbol="AAPL", side="buy",
                type="market", time_in_force="day", qty=Decimal("1"))
    return OrderRequested(**(base | fields))


async def until(nc, order_id, done, timeout=20.0):
    """Wait until ``done(event)`` for an event of the order on the bus."""
    reached = asyncio.Event()

    async def on(msg):
        event = decode_event(msg.data)
        if getattr(event, "order_id", None) == order_id and done(event):
            reached.set()

    subs = [await nc.subscribe(subject, cb=on) for subject in ("orders.>", "risk.>", "fills.>")]
    try:
        await asyncio.wait_for(reached.wait(), timeout)
    finally:
        for sub in subs:
            await sub.unsubscribe()


async def place(nc, request, done):
    waiting = asyncio.create_task(until(nc, request.order_id, done))
    await asyncio.sleep(0.05)
    await nc.jetstream().publish(subject_for(request), encode_event(request),
                                 headers={"Nats-Msg-Id": str(request.event_id)})
    await waiting


async def replayed(database_url, query, as_json=False) -> str:
    """What ``tradectl replay`` prints, run in this process."""
    out = io.StringIO()
    assert await replay(database_url, query, as_json, out) == 0
    return out.getvalue()


def types_in(lines: str) -> list[str]:
    return [line.split()[1] for line in lines.splitlines()]


async def test_replay_when_orders_went_through_the_stack_then_each_story_in_order_and_verify_passes(
        stack, nats_url, database_url):
    nc, tradectl = stack
    filled, resting, refused = order(), order(type="limit", limit_price=Decimal("100.00")), order(qty=Decimal("0"))
    await place(nc, filled, lambda e: getattr(e, "status", None) == "filled")
    await place(nc, resting, lambda e: e.event_type == "OrderStatusChanged" and e.status == "new")
    cancel = CancelRequested(producer="test", order_id=resting.order_id, correlation_id=str(resting.order_id),
                             symbol="AAPL", requested_by="test")
    await place(nc, cancel, lambda e: getattr(e, "status", None) == "canceled")
    await place(nc, refused, lambda e: e.event_type == "RiskRejected")  # listening before it is sent
    await wait_recorded(nats_url, database_url)

    story = tradectl("replay", "--order", str(filled.order_id))
    cancelled = await replayed(database_url, ReplayQuery(order_id=str(resting.order_id)))
    rejected = await replayed(database_url, ReplayQuery(order_id=str(refused.order_id)))
    fills = await replayed(database_url, ReplayQuery(order_id=str(filled.order_id), event_type="FillReported"), True)
    verified = tradectl("audit", "verify")

    steps = types_in(story.stdout)
    assert story.returncode == 0, story.stderr
    assert steps[:3] == ["OrderRequested", "RiskApproved", "OrderSubmitted"]
    assert "FillReported" in steps and "status=filled" in story.stdout
    assert all(str(filled.order_id) in line for line in story.stdout.splitlines())
    assert types_in(cancelled)[:3] == ["OrderRequested", "RiskApproved", "OrderSubmitted"]
    assert {"CancelRequested", "CancelResult"} <= set(types_in(cancelled)) and "status=canceled" in cancelled
    assert types_in(rejected) == ["OrderRequested", "RiskRejected"] and "reasons=QTY_NOT_POSITIVE" in rejected
    assert fills.count('"FillReported"') == fills.count("\n") >= 1
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("audit trail intact: seq 1..")
