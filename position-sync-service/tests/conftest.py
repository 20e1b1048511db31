"""The integration harness: position-sync-service as a real process against the session's NATS and PostgreSQL, with
the test playing the order gateway — it publishes ``FillReported`` and ``BrokerActivity`` on their streams, writes
the broker's clock and quotes to REFDATA, and answers ``rpc.order-gateway.positions`` and
``rpc.order-gateway.fills-history`` from core-NATS responders whose answers the test sets.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import nats
import pytest

from tradebus_contracts import FillReported, decode_event, encode_event, subject_for
from tradebus_contracts import refdata as kv
from tradebus_contracts.events import BrokerActivity
from tradebus_contracts.rpc import FillsHistoryReply, LedgerPositionsReply, SyncReply
from tradebus_contracts.subjects import GATEWAY_FILLS_HISTORY, GATEWAY_POSITIONS, LEDGER_POSITIONS, LEDGER_SYNC
from tradebus_runtime.bus import ensure_kv, ensure_streams
from tradebus_runtime.health import NotHealthy, wait_until_healthy
from tradectl.testing import exit_reason

BIN = Path(sys.executable).parent
SERVICE = "position-sync-service"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class FakeGateway:
    """What the broker holds (``positions``: symbol -> (qty, avg_entry_price); None: the read fails) and its FILL
    history, served in pages of ``page_size``."""

    positions: dict[str, tuple[str, str]] | None = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 2
    read_delay: float = 0.0
    reads: list[datetime] = field(default_factory=list)
    history_requests: list[dict[str, Any]] = field(default_factory=list)

    async def answer_positions(self, msg) -> None:
        self.reads.append(utc_now())
        if self.read_delay:
            await asyncio.sleep(self.read_delay)
        if self.positions is None:
            body: dict[str, Any] = {"error": "broker unavailable (503)"}
        else:
            body = {"as_of": utc_now().isoformat(), "positions": [
                {"symbol": s, "qty": q, "avg_entry_price": avg, "cost_basis": str(Decimal(q) * Decimal(avg))}
                for s, (q, avg) in self.positions.items()]}
        await msg.respond(json.dumps(body).encode())

    async def answer_history(self, msg) -> None:
        request = json.loads(msg.data)
        self.history_requests.append(request)
        start = int(request.get("page_token") or 0)
        end = start + min(self.page_size, int(request["page_size"]))
        token = str(end) if end < len(self.history) else None
        reply = FillsHistoryReply(activities=self.history[start:end], complete=token is None, next_page_token=token)
        await msg.respond(reply.model_dump_json().encode())


class Harness:
    def __init__(self, nats_url: str, database_url: str, tmp_path: Path, env: dict[str, str]) -> None:
        self.nats_url, self.database_url, self.env = nats_url, database_url, env
        self.log_path = tmp_path / f"{SERVICE}.log"
        self.gateway = FakeGateway()
        self.events: list[Any] = []
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def table(reply) -> dict:
        """A positions reply as ``{symbol: (qty, avg_cost, cost_basis, realized_pl)}``."""
        return {p.symbol: (p.qty, p.avg_cost, p.cost_basis, p.realized_pl) for p in reply.positions}

    async def open(self) -> None:
        self.nc = await nats.connect(self.nats_url)
        self.js = self.nc.jetstream()
        await ensure_streams(self.js)
        self.kv = await ensure_kv(self.js, kv.REFDATA_BUCKET)
        await self.nc.subscribe(GATEWAY_POSITIONS, cb=self.gateway.answer_positions)
        await self.nc.subscribe(GATEWAY_FILLS_HISTORY, cb=self.gateway.answer_history)

        async def collect(msg) -> None:
            self.events.append(decode_event(msg.data))

        await self.nc.subscribe("positions.>", cb=collect)
        await self.set_clock(is_open=True)

    # --- the process ---------------------------------------------------------------------------------------

    def start(self) -> None:
        env = {**os.environ, "NATS_URL": self.nats_url, "DATABASE_URL": self.database_url, "PYTHONUNBUFFERED": "1",
               "POSITION_SYNC_INTERVAL_S": "3600", "POSITION_SYNC_MIN_GAP_S": "1", "POSITION_SYNC_SETTLE_S": "0",
               "POSITION_SYNC_TICK_S": "0.1", "POSITION_HISTORY_RETRY_S": "0.5", "POSITION_FILL_HOLD_S": "2",
               **self.env}
        self.proc = subprocess.Popen([str(BIN / SERVICE)], env=env, stdout=self.log_path.open("ab"),
                                     stderr=subprocess.STDOUT)

    async def healthy(self) -> None:
        try:
            await wait_until_healthy(self.nats_url, [SERVICE], 20, exited=lambda _: exit_reason(self.proc))
        except NotHealthy as exc:
            raise AssertionError(f"{exc}\n{self.log()[-4000:]}") from None

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            return self.proc.wait(15)
        return None

    async def restart(self) -> None:
        self.stop()
        self.start()
        await self.healthy()

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def log_events(self, name: str) -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in self.log().splitlines() if line.startswith("{")]
        return [line for line in lines if line.get("event") == name]

    # --- playing the gateway -------------------------------------------------------------------------------

    async def set_clock(self, *, is_open: bool) -> None:
        now = utc_now()
        clock = kv.ClockRef(is_open=is_open, next_open=now + timedelta(days=1 if not is_open else 2),
                            next_close=now + timedelta(hours=6), timestamp=now, as_of=now)
        await self.kv.put(kv.CLOCK_KEY, clock.model_dump_json().encode())

    async def set_quote(self, symbol: str, bid: str, ask: str, last: str | None = None) -> None:
        quote = kv.QuoteRef(symbol=symbol, bid=Decimal(bid), ask=Decimal(ask),
                            last=None if last is None else Decimal(last), as_of=utc_now())
        await self.kv.put(kv.quote_key(symbol), quote.model_dump_json().encode())

    async def publish(self, *events: Any) -> None:
        for event in events:
            await self.js.publish(subject_for(event), encode_event(event), headers={"Nats-Msg-Id": str(event.event_id)})

    async def activity(self, raw: dict[str, Any], *, event_id: uuid.UUID | None = None) -> BrokerActivity:
        details = raw.get("details") or {}
        activity = BrokerActivity(
            event_id=event_id or uuid.uuid5(uuid.NAMESPACE_URL, f"activity|{raw.get('event_id') or raw.get('id')}"),
            producer="order-gateway", correlation_id=str(raw.get("event_id") or raw.get("id")),
            activity_id=str(raw.get("event_id") or raw.get("id")), activity_type=raw["activity_type"],
            activity_subtype=raw.get("activity_subtype"), symbol=raw.get("symbol") or details.get("symbol"),
            group_id=details.get("group_id") or raw.get("group_id"), source="stream", activity=raw)
        await self.publish(activity)
        return activity

    # --- asking the service --------------------------------------------------------------------------------

    async def positions(self, lots: bool = False) -> LedgerPositionsReply:
        reply = await self.nc.request(LEDGER_POSITIONS, json.dumps({"lots": lots}).encode(), timeout=5)
        return LedgerPositionsReply.model_validate_json(reply.data)

    async def sync(self, rebuild: bool = False, timeout: float = 30) -> SyncReply:
        reply = await self.nc.request(LEDGER_SYNC, json.dumps({"rebuild": rebuild}).encode(), timeout=timeout)
        return SyncReply.model_validate_json(reply.data)

    async def until(self, predicate, timeout: float = 10, what: str = "condition") -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what}\n{self.log()[-3000:]}")
            await asyncio.sleep(0.05)

    async def settled(self, check, timeout: float = 10):
        """Ask for the positions until ``check(reply)`` holds (the consumers run beside the responder)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            reply = await self.positions(lots=True)
            if check(reply):
                return reply
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"positions never settled: {reply.model_dump_json()}\n{self.log()[-3000:]}")
            await asyncio.sleep(0.1)

    def of_type(self, event_type: str) -> list[Any]:
        return [e for e in self.events if e.event_type == event_type]


class Fills:
    """FillReported events as the gateway publishes them: one broker order at a time, executions numbered."""

    def __init__(self, executed_at: datetime | None = None) -> None:
        self.executed_at = executed_at or utc_now()

    def order(self, symbol: str, side: str, *executions: tuple[str, str], broker_order_id: str | None = None,
              final: bool = True, executed_at: datetime | None = None) -> list[FillReported]:
        order_id = uuid.uuid4()
        broker_order_id = broker_order_id or f"b-{order_id.hex[:8]}"
        cum, out = Decimal(0), []
        for n, (qty, price) in enumerate(executions):
            cum += Decimal(qty)
            last = n == len(executions) - 1
            out.append(FillReported(
                producer="order-gateway", order_id=order_id, correlation_id=str(order_id), client_order_id=f"tb-{n}",
                broker_order_id=broker_order_id, symbol=symbol, side=side, execution_id=f"{broker_order_id}-e{n}",
                qty=Decimal(qty), price=Decimal(price), cum_qty=cum,
                order_status="filled" if last and final else "partially_filled",
                executed_at=executed_at or self.executed_at, source="stream"))
        return out


@pytest.fixture
async def harness(nats_url, database_url, tmp_path, service_env):
    """The harness, open, the service not started (add to ``service_env`` in a module, or to ``harness.env``)."""
    h = Harness(nats_url, database_url, tmp_path, service_env)
    await h.open()
    yield h
    h.stop()
    await h.nc.drain()


@pytest.fixture(name="Fills")
def fills_factory() -> type[Fills]:
    """The `Fills` builder (test modules cannot import conftest under importlib mode)."""
    return Fills
