"""Every service is a real process: it starts, reports healthy, consumes, dead-letters garbage, stops on SIGTERM."""

import asyncio
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
from tradebus_contracts import decode_event, encode_event
from tradebus_runtime.health import health_subject
from tradectl.embedded import free_port

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
CONSUMING = {
    # service: (schema, subject to publish to, event factory name)
    "risk-service": ("risk_service", "orders.requested.AAPL"),
    "order-gateway": ("order_gateway", "orders.cancel.AAPL"),
    "position-sync-service": ("position_sync_service", "fills.AAPL"),
}
ALL_SERVICES = ["risk-service", "order-gateway", "position-sync-service", "webhook-ingest", "ticket-api"]


class Running:
    def __init__(self, name, nats_url, database_url, tmp_path):
        self.name = name
        self.log_path = tmp_path / f"{name}.log"
        env = {**os.environ, "NATS_URL": nats_url, "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1",
               "WEBHOOK_PORT": str(free_port()), "TICKET_PORT": str(free_port())}
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
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = json.loads((await nc.request(health_subject(name), b"{}", timeout=1)).data)
            if last["status"] == "ok":
                return last
        except Exception:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name} not healthy: {last}")


@pytest.fixture
def start_service(nats_url, database_url, tmp_path):
    running = []

    def start(name):
        r = Running(name, nats_url, database_url, tmp_path)
        running.append(r)
        return r

    yield start
    for r in running:
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait()


def event_for(subject, order_requested):
    from decimal import Decimal
    from datetime import UTC, datetime
    from tradebus_contracts import CancelRequested, FillReported

    base = order_requested()
    if subject.startswith("orders.requested"):
        return base
    if subject.startswith("orders.cancel"):
        return CancelRequested(producer="test", order_id=base.order_id, correlation_id=str(base.order_id),
                               symbol="AAPL", requested_by="test")
    return FillReported(
        producer="test", order_id=base.order_id, correlation_id=str(base.order_id), client_order_id="tb-x",
        broker_order_id="b-1", symbol="AAPL", side="buy", execution_id="e-1", qty=Decimal("1"),
        price=Decimal("187.25"), cum_qty=Decimal("1"), order_status="partially_filled",
        executed_at=datetime.now(UTC), source="stream",
    )


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
async def test_service_when_event_and_garbage_arrive_then_event_is_kept_and_garbage_dead_lettered(
    name, start_service, nats_url, database_url, order_requested
):
    schema, subject = CONSUMING[name]
    service = start_service(name)
    event = event_for(subject, order_requested)
    nc = await nats.connect(nats_url)
    try:
        await health(nc, name)
        js = nc.jetstream()
        await js.publish(subject, encode_event(event), headers={"Nats-Msg-Id": str(event.event_id)})
        await js.publish(subject, b'{"event_type": "OrderRequested", "qty": 1.5}')
        dlq = await js.pull_subscribe(f"dlq.{name}", stream="DLQ")
        letter = decode_event((await dlq.fetch(1, timeout=10))[0].data)
        still = await health(nc, name)
        conn = await asyncpg.connect(database_url)
        try:
            for _ in range(50):
                rows = await conn.fetch(f"SELECT event_id, event_type FROM {schema}.inbox")
                if rows:
                    break
                await asyncio.sleep(0.1)
        finally:
            await conn.close()
    finally:
        await nc.drain()
    code, _ = service.stop()

    assert [(r["event_id"], r["event_type"]) for r in rows] == [(event.event_id, event.event_type)]
    assert letter.service == name and letter.original_subject == subject
    assert "undecodable" in letter.reason
    assert still["status"] == "ok"
    assert code == 0
