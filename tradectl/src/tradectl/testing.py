"""Running a whole local stack (`tradectl up`) from tests: a temp home, its output read until it is healthy; and
driving it as the cross-service tests do: the simulator's admin API, market orders on the bus, position-sync's ledger,
its syncs and what it logged and published."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import nats
import psutil
from nats.js.errors import NotFoundError

from tradebus_contracts import OrderRequested, decode_event, encode_event, subject_for
from tradebus_contracts.rpc import LedgerPosition, LedgerPositionsReply, LedgerPositionsRequest, SyncReply, SyncRequest
from tradebus_contracts.subjects import LEDGER_POSITIONS, LEDGER_SYNC, symbol_subject

from .positions import ask

TRADECTL = str(Path(sys.executable).parent / "tradectl")


def stack_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh user: embedded servers (no NATS_URL/DATABASE_URL), this home."""
    env = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "DATABASE_URL"}}
    env["TRADEBUS_HOME"] = str(home)
    env.update(extra)
    return env


def exit_reason(proc: subprocess.Popen[bytes] | subprocess.Popen[str] | None) -> str | None:
    """For `wait_until_healthy`'s ``exited``: why a process started by a test is gone (None while it runs)."""
    if proc is None or proc.poll() is None:
        return None
    return f"exited with code {proc.returncode}"


def read_lines_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> list[str]:
    if proc.stdout is None:
        raise ValueError("read_lines_until needs a process started with stdout=subprocess.PIPE")
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    raise AssertionError(f"{marker!r} not seen; output so far:\n" + "\n".join(lines))


@contextmanager
def running_stack(home: Path, *args: str, timeout: float = 120,
                  env: Mapping[str, str] | None = None) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """`tradectl up --ticket-port 0` in ``home``, ``env`` added to its environment (`up` hands it to every child);
    yields (process, output so far); kills whatever is left after.

    ``home``'s parent is the caller's throw-away directory (``mkdtemp``: 0700). As root, PostgreSQL runs as an
    unprivileged user who must pass through it, and `up` never widens a directory it did not create: so it is
    opened here for passing through (o+x), and nothing above it."""
    if os.geteuid() == 0:
        home.parent.chmod(stat.S_IMODE(home.parent.stat().st_mode) | stat.S_IXOTH)
    proc = subprocess.Popen([TRADECTL, "up", "--ticket-port", "0", *args], env=stack_env(home, **(env or {})),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield proc, read_lines_until(proc, "Press Ctrl-C to stop", timeout)
    finally:
        if proc.poll() is None:
            for child in psutil.Process(proc.pid).children(recursive=True):
                child.kill()
            proc.kill()
            proc.wait()


def stack_endpoints(home: Path) -> dict[str, str]:
    """The running stack's ``endpoints.json`` as a test uses it: ``nats_url`` with the admin's user and password in
    it. The stack is secured (a NATS user per service); a test that places orders or reads streams acts as the admin,
    the break-glass identity, since it plays several parts (the ticket, an observer, the operator)."""
    from .identities import ensure_identities

    endpoints = json.loads((home / "endpoints.json").read_text())
    return {**endpoints, "nats_url": ensure_identities(home).admin_url(endpoints["nats_url"])}


@contextmanager
def positions_stack(settings: Mapping[str, str]) -> Iterator[dict[str, str]]:
    """A whole stack in a throw-away home, its services started with ``settings``, once position-sync has rebuilt its
    ledger and synced; yields `stack_endpoints` with ``home`` and ``up_pid`` (the `tradectl up` process) added."""
    base = Path(tempfile.mkdtemp(prefix="tradebus-home-"))
    try:
        with running_stack(base / "home", env=settings) as (proc, _):
            endpoints = stack_endpoints(base / "home")
            asyncio.run(first_sync_done(endpoints["nats_url"]))
            yield {**endpoints, "home": str(base / "home"), "up_pid": str(proc.pid)}
    finally:
        shutil.rmtree(base, ignore_errors=True)


async def wait_for_reference_data(nats_url: str, symbol: str = "AAPL", timeout: float = 20.0) -> None:
    """Until the gateway has put a quote for ``symbol`` and the account into REFDATA (risk rejects until then)."""
    from tradebus_contracts.refdata import ACCOUNT_KEY, REFDATA_BUCKET, quote_key
    from tradebus_runtime.identity import nats_servers

    nc = await nats.connect(nats_servers(nats_url))
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                kv = await nc.jetstream().key_value(REFDATA_BUCKET)
                await kv.get(quote_key(symbol))
                await kv.get(ACCOUNT_KEY)
                return
            except Exception:
                await asyncio.sleep(0.2)
    finally:
        await nc.drain()
    raise AssertionError(f"no reference data for {symbol} within {timeout:.0f}s")


# --- driving a running stack: the simulator's admin API, orders on the bus, position-sync's ledger --------------------


async def eventually(probe: Callable[[], Awaitable[Any]], what: str, timeout: float = 20.0) -> Any:
    """Poll ``probe`` until it returns something truthy (returned); AssertionError after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.1)


async def simulator_admin(broker_url: str, method: str, path: str, body: Any = None) -> Any:
    """One call to alpaca-sim's ``/admin`` API (no credentials); its JSON answer. An error status raises."""
    def call() -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{broker_url}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the stack's own simulator
            text = response.read()
        return json.loads(text) if text.strip() else None

    return await asyncio.to_thread(call)


async def pin(broker_url: str, symbol: str, bid: str, ask_price: str) -> None:
    """The simulator quotes ``symbol`` at exactly this bid/ask until reset: market orders fill at these prices."""
    await simulator_admin(broker_url, "PUT", f"/admin/quotes/{symbol}", {"bid": bid, "ask": ask_price})


async def set_market(broker_url: str, is_open: bool) -> None:
    await simulator_admin(broker_url, "POST", "/admin/clock", {"is_open": is_open})


async def corporate_action(broker_url: str, **body: str) -> dict[str, Any]:
    return await simulator_admin(broker_url, "POST", "/admin/corporate_actions", body)


async def trade(nats_url: str, symbol: str, side: str, qty: str, timeout: float = 20.0) -> list[Any]:
    """Request a market order on the bus and follow it until its last fill; returns its FillReported events."""
    order_id = uuid.uuid4()
    request = OrderRequested(producer="test", order_id=order_id, correlation_id=str(order_id), symbol=symbol,
                             side=side, type="market", time_in_force="day", qty=Decimal(qty))
    seen: list[Any] = []
    done = asyncio.Event()

    async def on(msg) -> None:
        event = decode_event(msg.data)
        if getattr(event, "order_id", None) != order_id:
            return
        seen.append(event)
        if event.event_type in ("RiskRejected", "SubmissionFailed") or \
                (event.event_type == "FillReported" and event.order_status == "filled"):
            done.set()

    nc = await nats.connect(nats_url)
    try:
        for subject in ("risk.>", "orders.>", "fills.>"):
            await nc.subscribe(subject, cb=on)
        await nc.jetstream().publish(subject_for(request), encode_event(request),
                                     headers={"Nats-Msg-Id": str(request.event_id)})
        await asyncio.wait_for(done.wait(), timeout)
    except TimeoutError:
        pass  # the assertion below says what was seen
    finally:
        await nc.drain()
    fills = [e for e in seen if e.event_type == "FillReported"]
    assert fills and fills[-1].order_status == "filled", \
        f"{side} {qty} {symbol} not filled within {timeout:g} s: {[e.model_dump(mode='json') for e in seen]}"
    return fills


async def ledger(nats_url: str) -> LedgerPositionsReply:
    reply = await ask(nats_url, LEDGER_POSITIONS, LedgerPositionsRequest(lots=True), LedgerPositionsReply, 5)
    assert isinstance(reply, LedgerPositionsReply)
    return reply


def position(reply: LedgerPositionsReply, symbol: str) -> LedgerPosition | None:
    return next((p for p in reply.positions if p.symbol == symbol), None)


async def ledger_holds(nats_url: str, symbol: str, qty: str, timeout: float = 20.0) -> LedgerPosition:
    """The ledger's position in ``symbol`` once it holds ``qty`` shares (fills and activities arrive by consumers)."""
    last: list[LedgerPositionsReply] = []

    async def probe() -> LedgerPosition | None:
        last[:] = [await ledger(nats_url)]
        held = position(last[0], symbol)
        return held if held is not None and held.qty == Decimal(qty) else None

    try:
        return await eventually(probe, f"the ledger to hold {qty} {symbol}", timeout)
    except AssertionError as exc:
        held = {p.symbol: str(p.qty) for p in last[0].positions} if last else None
        raise AssertionError(f"{exc}; the ledger holds {held}") from None


async def open_position(stack: dict[str, str], symbol: str, bid: str, ask_price: str, side: str, qty: str) -> None:
    """Trade ``qty`` of ``symbol`` through the bus at a pinned quote (a sell opens a short) and wait until the
    ledger holds the position."""
    await wait_for_reference_data(stack["nats_url"], symbol)
    await pin(stack["broker_url"], symbol, bid, ask_price)
    await trade(stack["nats_url"], symbol, side, qty)
    await ledger_holds(stack["nats_url"], symbol, qty if side == "buy" else f"-{qty}")


async def first_sync_done(nats_url: str) -> None:
    """Until position-sync has rebuilt its ledger from the broker's FILL history and synced once (it does both on
    start): a rebuild takes in every FILL the broker has, so an order placed outside tradebus before it is no drift."""
    async def synced_once() -> bool:
        return (await ledger(nats_url)).last_sync_at is not None

    await eventually(synced_once, "position-sync's first rebuild and sync", timeout=30)


async def sync(nats_url: str) -> SyncReply:
    reply = await ask(nats_url, LEDGER_SYNC, SyncRequest(), SyncReply, 30)
    assert isinstance(reply, SyncReply)
    return reply


def clean(reply: SyncReply) -> bool:
    return reply.ok and not reply.mismatched and not reply.drifts


async def out_of_step(nats_url: str, reply: SyncReply, symbol: str) -> list[Any]:
    """What says the ledger and the broker disagree about ``symbol``: ``reply`` when that sync was not clean, and
    every PositionDrift ever stored for the symbol. Empty when the two are in step."""
    return ([] if clean(reply) else [reply]) + await stored(nats_url, "positions.drift", symbol)


async def stored(nats_url: str, kind: str, symbol: str) -> list[Any]:
    """Every event stored on the POSITIONS stream under ``<kind>.<SYMBOL>``, oldest first (read from the stream)."""
    nc = await nats.connect(nats_url)
    events, seq = [], 0
    try:
        js = nc.jetstream()
        while True:
            try:
                msg = await js.get_msg("POSITIONS", seq=seq + 1, subject=symbol_subject(kind, symbol), next=True)
            except NotFoundError:
                return events
            events.append(decode_event(msg.data))
            seq = msg.seq
    finally:
        await nc.drain()


async def stored_at_least(nats_url: str, kind: str, symbol: str, count: int) -> list[Any]:
    """``stored`` once it holds at least ``count`` events (events are published just after the ledger changed)."""
    async def probe() -> list[Any]:
        events = await stored(nats_url, kind, symbol)
        return events if len(events) >= count else []

    return await eventually(probe, f"{count} event(s) on {symbol_subject(kind, symbol)}")


def lots(held: LedgerPosition) -> list[tuple[Decimal, Decimal, Decimal]]:
    """(qty, cost per share, cost basis) of each open lot, oldest first."""
    return [(lot.qty, lot.price, lot.cost_basis) for lot in held.lots]


def figures(reply: LedgerPositionsReply, exact_lots: bool) -> dict[str, Any]:
    """What must not move when nothing was traded, per symbol: quantity, cost, realized P&L, Alpaca's average and the
    open lots, not the prices and P&L the market moves. ``exact_lots`` adds each lot's id and time (a rebuild takes
    them from the broker's FILL activities: an adopted lot becomes the broker's fill, a live fill's time the
    activity's)."""
    def lot(view: Any) -> tuple[Any, ...]:
        return (view.lot_id, view.opened_at, view.qty, view.price, view.cost_basis) if exact_lots else \
            (view.qty, view.price, view.cost_basis)

    return {p.symbol: (p.qty, p.avg_cost, p.cost_basis, p.realized_pl, p.broker_avg_entry_price,
                       [lot(view) for view in p.lots]) for p in reply.positions}


def synced(home: str) -> list[dict[str, Any]]:
    """position-sync's ``positions.synced`` log events so far (the stack logs each service to ``<home>/logs``)."""
    text = (Path(home) / "logs" / "position-sync-service.log").read_text(errors="replace")
    events = (json.loads(line) for line in text.splitlines() if line.startswith("{"))
    return [e for e in events if e.get("event") == "positions.synced"]
