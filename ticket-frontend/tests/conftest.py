"""A real ticket API (the production `build_app`: ServiceApp, uvicorn, consumers, refdata mirror) on its own
event loop in a thread, against the session's real NATS and PostgreSQL; plus stand-in responders for risk's preview and position-sync's
ledger.

The server runs in a thread so that synchronous clients (httpx, schemathesis) can call it while the test
publishes events or seeds reference data on the server's loop with `TicketServer.run`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from ticket_api.app import build_app
from ticket_api.settings import TicketSettings
from tradebus_contracts.exposure import buying_power_needed
from tradebus_contracts.refdata import (
    ACCOUNT_KEY,
    CLOCK_KEY,
    REFDATA_BUCKET,
    AccountRef,
    ClockRef,
    PositionRef,
    QuoteRef,
    position_key,
    quote_key,
)
from tradebus_contracts.rpc import LedgerPositionsRequest, PreviewRequest
from tradebus_contracts.subjects import LEDGER_POSITIONS, RISK_PREVIEW
from tradebus_runtime.bus import ensure_kv
from tradectl.embedded import free_port

RiskReply = Callable[[dict[str, Any]], dict[str, Any]]
LedgerReply = Callable[[LedgerPositionsRequest], dict[str, Any] | None]  # None: hear the request, never answer


def approving_risk(request: dict[str, Any]) -> dict[str, Any]:
    """A risk service that approves everything well-formed, prices it at the limit price (or 100) and, holding no
    position, counts all of its cost against buying power (the real one uses `exposure.buying_power_needed` too)."""
    order = PreviewRequest.model_validate(request)
    price = order.limit_price or order.stop_price or Decimal("100")
    cost = order.qty * price if order.qty is not None else order.notional or Decimal(0)
    buying_power = Decimal("100000")
    needed = buying_power_needed(order.side, cost, order.qty, position_qty=Decimal(0))
    return {"ok": True, "approved": True, "reasons": [], "estimated_cost": str(cost),
            "price_basis": "limit_price" if order.limit_price is not None else "ask", "buying_power": str(buying_power),
            "buying_power_after": None if needed is None else str(buying_power - needed), "trading_state": "active"}


def flat_ledger(request: LedgerPositionsRequest) -> dict[str, Any]:
    """A position-sync-service whose ledger holds nothing (it answers: the account is flat)."""
    return {"positions": [], "totals": {"cost_basis": "0", "realized_pl": "0", "dividends": "0"},
            "as_of": datetime.now(UTC).isoformat()}


class TicketServer:
    def __init__(self, nats_url: str, database_url: str, tmp_path: Path, risk: RiskReply | None,
                 ledger: LedgerReply | None = flat_ledger) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.settings = TicketSettings(nats_url=nats_url, database_url=database_url, ticket_port=self.port,
                                       frontend_dist=tmp_path / "no-dist", log_level="warning",
                                       TICKET_PREVIEW_TIMEOUT_S=1.0, TICKET_POSITIONS_TIMEOUT_S=1.0)
        self.risk = risk
        self.risk_requests: list[dict[str, Any]] = []
        self.ledger = ledger
        self.ledger_requests: list[LedgerPositionsRequest] = []
        self.loop = asyncio.new_event_loop()
        self.app = build_app(self.settings)
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="ticket-api-under-test", daemon=True)

    # --- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(30) or self._error is not None:
            raise AssertionError(f"ticket API did not start: {self._error!r}")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base_url}/api/mode", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError("ticket API is not listening")

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        self.nc = await nats.connect(self.settings.nats_url)
        if self.risk is not None:
            await self.nc.subscribe(RISK_PREVIEW, cb=self._answer_preview)
        if self.ledger is not None:
            await self.nc.subscribe(LEDGER_POSITIONS, cb=self._answer_ledger)
        await self.app.start()
        self.kv = await ensure_kv(self.nc.jetstream(), REFDATA_BUCKET)
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.app.stop()
            await self.nc.drain()

    async def _answer_preview(self, msg: Any) -> None:
        request = json.loads(msg.data)
        self.risk_requests.append(request)
        assert self.risk is not None
        await msg.respond(json.dumps(self.risk(request)).encode())

    async def _answer_ledger(self, msg: Any) -> None:
        request = LedgerPositionsRequest.model_validate_json(msg.data)
        self.ledger_requests.append(request)
        assert self.ledger is not None
        answer = self.ledger(request)
        if answer is not None:
            await msg.respond(json.dumps(answer).encode())

    # --- helpers for tests -----------------------------------------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 10) -> Any:
        """Run a coroutine on the server's loop (where its NATS connection lives)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def publish(self, *events: Any) -> None:
        async def go() -> None:
            for event in events:
                await self.app.connections.bus.publish(event)

        self.run(go())

    def put_quote(self, symbol: str, bid: str, ask: str, last: str | None = None, as_of: datetime | None = None):
        ref = QuoteRef(symbol=symbol, bid=Decimal(bid), ask=Decimal(ask), last=None if last is None else Decimal(last),
                       as_of=as_of or datetime.now(UTC))
        self.run(self.kv.put(quote_key(symbol), ref.model_dump_json().encode()))

    def put_position(self, symbol: str, qty: str, avg: str, value: str) -> None:
        ref = PositionRef(symbol=symbol, qty=Decimal(qty), avg_entry_price=Decimal(avg), market_value=Decimal(value),
                          as_of=datetime.now(UTC))
        self.run(self.kv.put(position_key(symbol), ref.model_dump_json().encode()))

    def put_account(self, buying_power: str, equity: str, cash: str) -> None:
        ref = AccountRef(buying_power=Decimal(buying_power), equity=Decimal(equity), cash=Decimal(cash),
                         as_of=datetime.now(UTC))
        self.run(self.kv.put(ACCOUNT_KEY, ref.model_dump_json().encode()))

    def put_clock(self, is_open: bool, next_open: datetime, next_close: datetime) -> None:
        now = datetime.now(UTC)
        ref = ClockRef(is_open=is_open, next_open=next_open, next_close=next_close, timestamp=now, as_of=now)
        self.run(self.kv.put(CLOCK_KEY, ref.model_dump_json().encode()))

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=10)



def eventually(probe: Callable[[], Any], timeout: float = 10, interval: float = 0.05) -> Any:
    """Poll until ``probe`` returns something truthy; the read model and the mirror are eventually consistent."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")


@pytest.fixture
def ticket_server_factory(nats_url: str, database_url: str, tmp_path: Path) -> Iterator[Callable[..., TicketServer]]:
    servers: list[TicketServer] = []

    def make(risk: RiskReply | None = approving_risk, ledger: LedgerReply | None = flat_ledger) -> TicketServer:
        server = TicketServer(nats_url, database_url, tmp_path, risk, ledger)
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def ticket(ticket_server_factory: Callable[..., TicketServer]) -> TicketServer:
    """A running ticket API whose risk service approves everything and whose ledger is flat."""
    return ticket_server_factory()
