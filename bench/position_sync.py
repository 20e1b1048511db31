"""Benchmark: a sync of 1,000 positions (issue 12: < 1 s).

    .venv/bin/python bench/position_sync.py                   # compute only: 1,000 positions, median of 3
    .venv/bin/python bench/position_sync.py --positions 5000
    .venv/bin/python bench/position_sync.py --stack           # end to end through the running services

``--stack``: the whole stack as `tradectl up` runs it (NATS, PostgreSQL, alpaca-sim, risk, the gateway,
position-sync-service, ...), with the simulator's state written beforehand: 1,000 symbols listed beyond its universe
and one filled market buy in each, so the broker holds 1,000 positions and its FILL history 1,000 fills.
position-sync rebuilds its ledger from that history on its first start (through the gateway) and syncs once; then
each timed run is `rpc.position-sync-service.sync` (what `tradectl sync` sends) from request to reply: the gateway
reads the simulator's positions over HTTP through alpaca-py, position-sync compares 1,000 symbols, records the
sync in PostgreSQL and publishes a ``PositionSnapshot`` for each figure that moved (none after the first sync: the timed
syncs are the steady state; ``publish 2n`` times 2,000 on their own). Each must come back clean (1,000 checked,
none mismatched). Also timed, as a part of it: the gateway's read alone (``rpc.order-gateway.positions``).

Without ``--stack``: what one sync computes once the gateway has answered, timed as position-sync-service runs it
(no NATS, no PostgreSQL, no broker): the gateway's JSON reply parsed into a read
(``reads.parse_read``), the ledger's Alpaca-method figures (``Ledger.sync_figures``), the drift watch over every
symbol (``DriftWatch.read``: 1 % of them differ, suspected by a read before, so this one reports them as drifts),
the ledger's FIFO figures, and a ``PositionSnapshot`` per symbol from each side built and encoded
(``encode_event``). The ledger holds 1,000 symbols, 20 fills each.

Floor, same run: a plain loop over the same 1,000 positions — parse the reply with ``json.loads``, compare each
quantity as a Decimal, and ``json.dumps`` two small dicts per symbol.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

# This script is named like the service's package: without bench/ on the path, ``position_sync`` is the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from position_sync.events import snapshot_event
from position_sync.ledger import Ledger, fold_fills
from position_sync.reads import parse_read
from position_sync.reconcile import DriftWatch, Figures, SyncRules
from position_sync.sequencer import Fill
from tradebus_contracts import encode_event, subject_for
from tradebus_contracts.orders import OrderSide

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


def ledger_of(n: int) -> Ledger:
    rng = random.Random(7)
    fills = []
    for i in range(n):
        symbol = f"S{i:04d}"
        for k in range(20):  # each execution its own order
            side = OrderSide.BUY if k % 3 != 2 else OrderSide.SELL
            qty = Decimal(rng.randint(1, 50))
            fills.append(Fill(f"{symbol}-{k}", f"{symbol}-o{k}", symbol, side, qty,
                              Decimal(rng.randint(1000, 50000)) / 100, qty, NOW - timedelta(days=1), True))
    return fold_fills(fills)


def broker_reply(ledger: Ledger) -> bytes:
    figures = ledger.sync_figures(NOW)
    positions = []
    for n, (symbol, f) in enumerate(sorted(figures.items())):
        qty = f.qty + (1 if n % 100 == 0 else 0)  # 1 % differ
        positions.append({"symbol": symbol, "qty": format(qty, "f"), "avg_entry_price": format(f.avg_entry_price, "f"),
                          "cost_basis": format(f.cost_basis, "f")})
    return json.dumps({"as_of": NOW.isoformat(), "positions": positions}).encode()


def sync(ledger: Ledger, reply: bytes, watch: DriftWatch) -> int:
    held = {s for s, p in ledger.positions.items() if p.lots.qty} | set(watch.watches)
    read = parse_read(reply, held, NOW)
    outcomes = watch.read(ledger.sync_figures(read.as_of), read, frozenset())
    ours = {s: Figures(p.lots.qty, p.lots.cost / p.lots.qty, p.lots.cost) for s, p in ledger.positions.items()
            if p.lots.qty}
    payloads = [encode_event(snapshot_event(s, f, "ledger", read.read_id, read.as_of)) for s, f in ours.items()]
    payloads += [encode_event(snapshot_event(s, f, "broker", read.read_id, read.as_of))
                 for s, f in read.positions.items()]
    return len(payloads) + len(outcomes)


def floor(ledger: Ledger, reply: bytes) -> int:
    body = json.loads(reply)
    qtys = {s: p.lots.qty for s, p in ledger.positions.items()}
    out = 0
    for p in body["positions"]:
        same = Decimal(p["qty"]) == qtys.get(p["symbol"])
        out += len(json.dumps({"symbol": p["symbol"], "qty": p["qty"], "same": same}))
        out += len(json.dumps({"symbol": p["symbol"], "qty": str(qtys.get(p["symbol"]))}))
    return out


def simulator_state(n: int) -> dict:
    """The simulator's saved state after one filled market buy in each of ``n`` newly listed symbols."""
    from alpaca_sim.assets import Asset
    from alpaca_sim.broker import Broker
    from alpaca_sim.corporate_actions import list_asset
    from alpaca_sim.persistence import snapshot

    broker = Broker(cash=Decimal(10_000_000))
    for i in range(n):
        symbol = f"ZB{i:04d}"
        list_asset(broker, Asset(symbol, f"Benchmark listing {i}", "NYSE", Decimal(10 + i % 90)))
        broker.submit({"symbol": symbol, "qty": str(1 + i % 7), "side": "buy", "type": "market",
                       "time_in_force": "day"})
    broker.match_all()
    assert len(broker.ledger.positions) == n, len(broker.ledger.positions)
    return snapshot(broker)


async def ledger_ready(nats_url: str, n: int, timeout: float = 180) -> None:
    """Until position-sync has rebuilt its ledger from the FILL history (``n`` positions) and synced once."""
    from tradebus_contracts.rpc import LedgerPositionsReply, LedgerPositionsRequest
    from tradebus_contracts.subjects import LEDGER_POSITIONS
    from tradectl.positions import ask

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            reply = await ask(nats_url, LEDGER_POSITIONS, LedgerPositionsRequest(), LedgerPositionsReply, 10)
            if isinstance(reply, LedgerPositionsReply) and len(reply.positions) == n and reply.last_sync_at:
                return
        except Exception:  # not up yet
            pass
        await asyncio.sleep(1)
    raise SystemExit(f"position-sync did not hold {n} positions and sync within {timeout:.0f} s")


async def timed_syncs(nats_url: str, n: int, runs: int) -> dict[str, list[float]]:
    import nats

    from tradebus_contracts.rpc import SyncReply, SyncRequest
    from tradebus_contracts.subjects import GATEWAY_POSITIONS, LEDGER_SYNC
    from tradebus_runtime.identity import nats_servers

    timings: dict[str, list[float]] = {"gateway read": [], "publish 2n": [], "sync": []}
    nc = await nats.connect(nats_servers(nats_url))
    try:
        for _ in range(runs):
            started = time.perf_counter()
            read = await nc.request(GATEWAY_POSITIONS, b"{}", timeout=30)
            timings["gateway read"].append(time.perf_counter() - started)
            assert len(json.loads(read.data)["positions"]) == n, read.data[:300]
            started = time.perf_counter()
            answer = await nc.request(LEDGER_SYNC, SyncRequest().model_dump_json().encode(), timeout=120)
            timings["sync"].append(time.perf_counter() - started)
            reply = SyncReply.model_validate_json(answer.data)
            assert reply.ok and reply.symbols_checked == n and not reply.mismatched, reply
            await asyncio.sleep(1)
            timings["publish 2n"].append(await publish_snapshots(nc.jetstream(), 2 * n))
            await asyncio.sleep(1)
    finally:
        await nc.drain()
    return timings


async def publish_snapshots(js, count: int) -> float:
    """The sync's publishing alone: ``count`` PositionSnapshot to JetStream, 64 in flight, as ``Syncer._snapshots``
    does (with ``Nats-Msg-Id``, acknowledged); returns the seconds it took."""
    read_id = datetime.now(UTC).isoformat()
    figures = Figures(Decimal(3), Decimal("41.5"), Decimal("124.5"))
    events = [snapshot_event(f"ZB{i % 10000:04d}", figures, "ledger", f"bench-{read_id}-{i}", datetime.now(UTC))
              for i in range(count)]
    started = time.perf_counter()
    for at in range(0, count, 64):
        await asyncio.gather(*(js.publish(subject_for(e), encode_event(e), headers={"Nats-Msg-Id": str(e.event_id)})
                               for e in events[at:at + 64]))
    return time.perf_counter() - started


def main_stack(n: int, runs: int) -> None:
    from tradectl.testing import running_stack, stack_endpoints

    base = Path(tempfile.mkdtemp(prefix="tradebus-bench-"))
    try:
        state = base / "home" / "alpaca-sim" / "state.json"
        state.parent.mkdir(parents=True)
        state.write_text(json.dumps(simulator_state(n)))
        with running_stack(base / "home", timeout=240):
            nats_url = stack_endpoints(base / "home")["nats_url"]
            asyncio.run(ledger_ready(nats_url, n))
            timings = asyncio.run(timed_syncs(nats_url, n, runs))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"{n:,} positions through the running stack; each sync clean ({n:,} checked, none mismatched)")
    for name, values in timings.items():
        print(f"{name:>13}: median {statistics.median(values) * 1000:7.1f} ms of {runs} "
              f"({', '.join(f'{v * 1000:.1f}' for v in values)})")
    verdict = "PASS" if statistics.median(timings["sync"]) < 1 else "FAIL"
    print(f"target < 1 s for 1,000 positions: {verdict}")
    sys.exit(0 if verdict == "PASS" or n != 1000 else 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--positions", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stack", action="store_true", help="end to end through the running services")
    args = parser.parse_args()
    if args.stack:
        main_stack(args.positions, args.runs)
        return
    ledger = ledger_of(args.positions)
    reply = broker_reply(ledger)
    rules = SyncRules(min_gap=timedelta(0))

    timings: dict[str, list[float]] = {"floor": [], "sync": []}
    for _ in range(args.runs):
        gc.collect()
        started = time.perf_counter()
        floor(ledger, reply)
        timings["floor"].append(time.perf_counter() - started)
        watch = DriftWatch(rules)
        sync(ledger, reply, watch)  # the first read suspects the 1 %: the timed one turns them into drifts
        gc.collect()
        started = time.perf_counter()
        made = sync(ledger, reply, watch)
        timings["sync"].append(time.perf_counter() - started)
    medians = {name: statistics.median(t) for name, t in timings.items()}
    print(f"{args.positions:,} positions ({made:,} snapshots and drift outcomes per sync)")
    for name, median in medians.items():
        print(f"{name:>6}: median {median * 1000:7.1f} ms of {args.runs}")
    verdict = "PASS" if medians["sync"] < 1 else "FAIL"
    print(f"target < 1 s for 1,000 positions: {verdict}; sync / floor = {medians['sync'] / medians['floor']:.1f}x")
    sys.exit(0 if verdict == "PASS" or args.positions != 1000 else 1)


if __name__ == "__main__":
    main()
