"""Every service is a real process: it starts, reports healthy, consumes, dead-letters garbage, stops on SIGTERM."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import nats
import pytest

from alpaca_sim.testing import simulator_in_thread
from tradebus_contracts import decode_event, encode_event
from tradebus_runtime.health import ask, wait_until_healthy
from tradectl.embedded import free_port
from tradectl.keys import ensure_signing_key
from tradectl.testing import eventually

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
CONSUMING = {  # service: the subject it consumes that we send garbage to
    "risk-service": "orders.requested.AAPL",
    "order-gateway": "risk.approved.AAPL",
    "position-sync-service": "fills.AAPL",
}
ALL_SERVICES = ["risk-service", "order-gateway", "position-sync-service", "webhook-ingest", "ticket-api",
                "audit-recorder"]


class Running:
    def __init__(self, name, nats_url, database_url, tmp_path, broker_url):
        self.name = name
        self.log_path = tmp_path / f"{name}.log"
        keys = ensure_signing_key(tmp_path / "keys")
        env = {**os.environ, "NATS_URL": nats_url, "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1",
               "WEBHOOK_PORT": str(free_port()), "TICKET_PORT": str(free_port()), "TRADEBUS_HOME": str(tmp_path),
               "RISK_SIGNING_KEY_PATH": str(keys.private_path), "GATEWAY_TRUSTED_KEYS": keys.public_b64,
               "AUDIT_SIGNING_KEY_PATH": str(keys.private_path),
               "TRADEBUS_BROKER": "simulator", "BROKER_URL": broker_url}
        self.proc = subprocess.Popen([str(BIN / name)], env=env, stdout=self.log_path.open("wb"),
                                     stderr=subprocess.STDOUT)

    def log(self):
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.startswith("{")]

    def stop(self, timeout=10.0):
        self.proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = self.proc.wait(timeout)
        return code, time.monotonic() - started


async def health(nc, name, timeout=20.0):
    """The service's report, once it says ok."""
    await wait_until_healthy(nc.connected_url.geturl(), [name], timeout)
    return await ask(nc, name)


@pytest.fixture
def start_service(nats_url, database_url, tmp_path):
    running = []
    sim = simulator_in_thread()
    broker = sim.__enter__()

    def start(name):
        r = Running(name, nats_url, database_url, tmp_path, broker.url)
        running.append(r)
        return r

    yield start
    for r in running:
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait()
    sim.__exit__(None, None, None)


@pytest.mark.parametrize("name", ALL_SERVICES)
async def test_service_when_started_then_healthy_and_sigterm_stops_it_cleanly(name, start_service, nats_url):
    service = start_service(name)
    nc = await nats.connect(nats_url)
    try:
        report = await health(nc, name)
    finally:
        await nc.drain()

    code, took = service.stop()

    assert report["checks"]["nats"] and report["checks"]["postgres"]
    assert code == 0 and took < 8
    events = [line["event"] for line in service.log()]
    assert "service.ready" in events and events[-1] == "service.stopped"


@pytest.mark.parametrize("name", sorted(CONSUMING))
async def test_service_when_garbage_arrives_then_it_is_dead_lettered_with_the_reason_and_the_service_stays_up(
    name, start_service, nats_url
):
    subject = CONSUMING[name]
    service = start_service(name)
    nc = await nats.connect(nats_url)
    try:
        await health(nc, name)
        js = nc.jetstream()
        await js.publish(subject, b'{"event_type": "OrderRequested", "qty": 1.5}')
        dlq = await js.pull_subscribe(f"dlq.{name}", stream="DLQ")
        letter = decode_event((await dlq.fetch(1, timeout=10))[0].data)
        still = await health(nc, name)
    finally:
        await nc.drain()
    code, _ = service.stop()

    assert letter.service == name and letter.original_subject == subject
    assert "undecodable" in letter.reason and '"qty": 1.5' in letter.payload_text
    assert still["status"] == "ok"
    assert code == 0


async def test_position_sync_when_a_fill_arrives_then_it_is_kept_in_its_inbox_until_the_ledger_lands(
    start_service, nats_url, database_url, order_requested
):
    from datetime import UTC, datetime
    from decimal import Decimal

    from tradebus_contracts import FillReported

    base = order_requested()
    fill = FillReported(
        producer="test", order_id=base.order_id, correlation_id=str(base.order_id), client_order_id="tb-x",
        broker_order_id="b-1", symbol="AAPL", side="buy", execution_id="e-1", qty=Decimal("1"),
        price=Decimal("187.25"), cum_qty=Decimal("1"), order_status="partially_filled",
        executed_at=datetime.now(UTC), source="stream",
    )
    service = start_service("position-sync-service")
    nc = await nats.connect(nats_url)
    try:
        await health(nc, "position-sync-service")
        await nc.jetstream().publish("fills.AAPL", encode_event(fill), headers={"Nats-Msg-Id": str(fill.event_id)})
        conn = await asyncpg.connect(database_url)

        async def inbox() -> list:
            return await conn.fetch("SELECT event_id, event_type FROM position_sync_service.inbox")

        try:
            rows = await eventually(inbox, "the fill in position-sync's inbox", timeout=5)
        finally:
            await conn.close()
    finally:
        await nc.drain()
    code, _ = service.stop()

    assert [(r["event_id"], r["event_type"]) for r in rows] == [(fill.event_id, "FillReported")]
    assert code == 0
