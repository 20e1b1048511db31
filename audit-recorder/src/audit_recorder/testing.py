"""Run the real ``audit-recorder`` process from tests and benchmarks of any package, and feed it events."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import asyncpg
import nats
from nats.js import JetStreamContext

from tradebus_contracts import Envelope, OrderRequested, OrderStatusChanged, encode_event, subject_for
from tradebus_contracts.streams import AUDIT
from tradebus_runtime.bus import ensure_streams
from tradebus_runtime.health import NotHealthy, wait_until_healthy

BIN = Path(sys.executable).parent
KEY_NAME = "audit-signing"  # tradectl.keys.AUDIT_KEY_NAME: where `up` and `audit verify` look for it


class RecorderProcess:
    """``audit-recorder`` as its own process, its key under ``home/keys`` and its checkpoints under ``home/audit``."""

    def __init__(self, nats_url: str, database_url: str, home: Path, **env: str) -> None:
        from tradectl.keys import ensure_signing_key

        self.nats_url = nats_url
        self.database_url = database_url
        self.home = home
        self.key = ensure_signing_key(home / "keys", KEY_NAME)
        self.log_path = home / "audit-recorder.log"
        self.env = {**os.environ, "NATS_URL": nats_url, "DATABASE_URL": database_url, "TRADEBUS_HOME": str(home),
                    "AUDIT_SIGNING_KEY_PATH": str(self.key.private_path), "PYTHONUNBUFFERED": "1", **env}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RecorderProcess:
        self.home.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([str(BIN / "audit-recorder")], env=self.env, stdout=self.log_path.open("ab"),
                                     stderr=subprocess.STDOUT)
        return self

    async def healthy(self, timeout: float = 20.0) -> None:
        def exited(_: str) -> str | None:
            code = None if self.proc is None else self.proc.poll()
            return None if code is None else f"exited with code {code}"

        try:
            await wait_until_healthy(self.nats_url, ["audit-recorder"], timeout, exited=exited)
        except NotHealthy as exc:
            raise AssertionError(f"{exc}\n{self.log_text()[-3000:]}") from None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@asynccontextmanager
async def declared_streams(nats_url: str) -> AsyncIterator[JetStreamContext]:
    """Every stream of the contract declared, and a JetStream handle on them."""
    nc = await nats.connect(nats_url)
    try:
        await ensure_streams(nc.jetstream())
        yield nc.jetstream()
    finally:
        await nc.drain()


def order_story(symbol: str = "AAPL") -> list[Envelope]:
    """A small order story of valid events: requested, then new, then filled."""
    order_id = uuid.uuid4()
    ids = {"producer": "test", "order_id": order_id, "correlation_id": str(order_id)}
    request = OrderRequested(**ids, symbol=symbol, side="buy", type="market", time_in_force="day", qty=Decimal("1"))
    client_order_id = "tb-" + order_id.hex
    status = {"client_order_id": client_order_id, "broker_order_id": "b-" + order_id.hex[:8], "symbol": symbol,
              "source": "stream"}
    return [request,
            OrderStatusChanged(**ids, **status, previous_status="pending_new", status="new", filled_qty=Decimal("0")),
            OrderStatusChanged(**ids, **status, previous_status="new", status="filled", filled_qty=Decimal("1"))]


async def publish(nats_url: str, events: Iterable[Envelope]) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        acks = [await js.publish_async(subject_for(e), encode_event(e), headers={"Nats-Msg-Id": str(e.event_id)})
                for e in events]
        await asyncio.gather(*acks)
    finally:
        await nc.drain()


async def wait_recorded(nats_url: str, database_url: str, timeout: float = 20.0) -> int:
    """Until the table holds every message AUDIT holds; returns that sequence."""
    nc = await nats.connect(nats_url)
    conn = await asyncpg.connect(database_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            last = (await nc.jetstream().stream_info(AUDIT.name)).state.last_seq
            head = await conn.fetchval("SELECT coalesce(max(seq), 0) FROM audit_recorder.events")
            if last and head >= last:
                return int(head)
            if time.monotonic() > deadline:
                raise AssertionError(f"recorded {head} of {last} AUDIT messages within {timeout:.0f}s")
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
        await nc.drain()
