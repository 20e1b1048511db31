"""A running order-gateway (real process) against alpaca-sim (through the real alpaca-py), real NATS and PostgreSQL.

Tests sign approvals themselves with a test key, so the gateway is tested alone: what it submits, what it refuses.
Unit tests get the in-memory edges instead (`clock`, `broker`: tests/fakes.py); a module that talks to the simulator
through the real adapter gives its own ``broker``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import httpx
import nats
import pytest

from alpaca_sim.app import SimSettings
from alpaca_sim.testing import simulator_in_thread
from tradebus_contracts import OrderRequested, decode_event, encode_event, sign_approval, subject_for
from tradebus_contracts.signing import generate_private_key, public_key_to_b64
from tradebus_runtime.bus import ensure_streams
from tradebus_runtime.health import NotHealthy, wait_until_healthy
from tradectl.testing import exit_reason

from .fakes import FakeBroker, FakeClock

BIN = Path(sys.executable).parent


class GatewayHarness:
    def __init__(self, nats_url, database_url, tmp_path, sim, extra_env=None):
        self.nats_url = nats_url
        self.database_url = database_url
        self.home = tmp_path / "home"
        self.home.mkdir()
        self.sim = sim
        self.key = generate_private_key()
        self.events: list = []
        self.log_path = tmp_path / "order-gateway.log"
        self.extra_env = extra_env or {}
        self.proc = None

    def env(self):
        return {**os.environ, "NATS_URL": self.nats_url, "DATABASE_URL": self.database_url,
                "TRADEBUS_HOME": str(self.home), "BROKER_URL": self.sim.url, "TRADEBUS_BROKER": "simulator",
                "GATEWAY_TRUSTED_KEYS": public_key_to_b64(self.key.public_key()), "GATEWAY_POLL_INTERVAL_S": "0.5",
                "GATEWAY_SWEEP_AFTER_S": "1", "GATEWAY_QUOTE_INTERVAL_S": "1", "PYTHONUNBUFFERED": "1",
                **self.extra_env}

    async def open(self):
        self.nc = await nats.connect(self.nats_url)
        self.js = self.nc.jetstream()
        await ensure_streams(self.js)

        async def collect(msg):
            try:
                self.events.append(decode_event(msg.data))
            except Exception:
                pass

        for subject in ("orders.>", "fills.>"):
            await self.nc.subscribe(subject, cb=collect)
        self.http = httpx.AsyncClient(base_url=self.sim.url, timeout=10)

    def start(self):
        self.proc = subprocess.Popen([str(BIN / "order-gateway")], env=self.env(), stdout=self.log_path.open("ab"),
                                     stderr=subprocess.STDOUT)

    async def healthy(self, timeout=20):
        try:
            await wait_until_healthy(self.nats_url, ["order-gateway"], timeout, exited=lambda _: exit_reason(self.proc))
        except NotHealthy as exc:
            raise AssertionError(f"{exc}\n" + self.log_path.read_text()[-4000:]) from None

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            return self.proc.wait(15)
        return None

    async def close(self):
        self.stop()
        await self.http.aclose()
        await self.nc.drain()

    # ---- acting as the risk service ------------------------------------------------------------------------
    def request(self, **fields) -> OrderRequested:
        order_id = fields.pop("order_id", uuid4())
        base = {"producer": "test", "order_id": order_id, "correlation_id": str(order_id), "symbol": "AAPL",
                "side": "buy", "type": "market", "time_in_force": "day", "qty": Decimal("1")}
        base.update(fields)
        return OrderRequested(**base)

    def approve(self, request, *, key=None, ttl=timedelta(seconds=30), issued_at=None):
        return sign_approval(request, private_key=key or self.key, issued_at=issued_at or datetime.now(UTC), ttl=ttl,
                             producer="risk-service")

    async def publish(self, event, subject=None):
        await self.js.publish(subject or subject_for(event), encode_event(event),
                              headers={"Nats-Msg-Id": str(event.event_id)})

    # ---- observing ------------------------------------------------------------------------------------------
    def of(self, order_id, event_type=None):
        return [e for e in self.events if getattr(e, "order_id", None) == order_id
                and (event_type is None or e.event_type == event_type)]

    async def wait_for(self, predicate, timeout=15, what="condition"):
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what}; events: "
                                     f"{[(e.event_type, getattr(e, 'status', '')) for e in self.events][-20:]}\n"
                                     + self.log_path.read_text()[-3000:])
            await asyncio.sleep(0.05)

    async def final_status(self, order_id, timeout=15):
        await self.wait_for(lambda: any(e.status.is_final for e in self.of(order_id, "OrderStatusChanged")),
                            timeout, f"final status of {order_id}")
        return [e for e in self.of(order_id, "OrderStatusChanged") if e.status.is_final][-1]

    async def submission_failed(self, order_id, timeout=15):
        """The order's one SubmissionFailed (an approval that could not be used ends its order with one)."""
        await self.wait_for(lambda: self.of(order_id, "SubmissionFailed"), timeout, f"SubmissionFailed of {order_id}")
        return self.of(order_id, "SubmissionFailed")[0]

    async def broker_orders(self, client_order_id):
        r = await self.http.get("/v2/orders", params={"status": "all", "limit": 500},
                                headers={"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"})
        r.raise_for_status()
        return [o for o in r.json() if o["client_order_id"] == client_order_id]

    async def quote(self, symbol, bid, ask):
        r = await self.http.put(f"/admin/quotes/{symbol}", json={"bid": str(bid), "ask": str(ask)})
        r.raise_for_status()

    async def admin(self, path, body=None, method="POST"):
        r = await self.http.request(method, path, json=body)
        assert r.status_code < 300, r.text
        return r

    async def dead_letters(self, n=1, timeout=10):
        sub = await self.js.pull_subscribe("dlq.order-gateway", stream="DLQ")
        msgs = await sub.fetch(n, timeout=timeout)
        return [decode_event(m.data) for m in msgs]

    def log_text(self):
        return self.log_path.read_text()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def broker(clock):
    return FakeBroker(clock)


@pytest.fixture
def sim():
    with simulator_in_thread(SimSettings(tick_seconds=0.1, seed=7)) as running:
        yield running


@pytest.fixture
async def gateway(nats_url, database_url, tmp_path, sim):
    harness = GatewayHarness(nats_url, database_url, tmp_path, sim)
    await harness.open()
    await harness.quote("AAPL", "187.20", "187.30")
    harness.start()
    await harness.healthy()
    yield harness
    await harness.close()
