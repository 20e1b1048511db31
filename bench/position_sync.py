"""Benchmark: a sync of 1,000 positions (issue 12: < 1 s).

    .venv/bin/python bench/position_sync.py                   # 1,000 positions, median of 3
    .venv/bin/python bench/position_sync.py --positions 5000

What one sync computes once the gateway has answered, timed as position-sync-service runs it (no NATS, no
PostgreSQL: their round trips are a few milliseconds per sync, and the 2,000 snapshot publishes are bounded by the
broker's own throughput, ~0.1 ms each with 64 in flight): the gateway's JSON reply parsed into a read
(``reads.parse_read``), the ledger's Alpaca-method figures (``Ledger.sync_figures``), the drift watch over every
symbol (``DriftWatch.read``: 1 % of them differ, suspected by a read before, so this one reports them as drifts),
the ledger's FIFO figures, and a ``PositionSnapshot`` per symbol from each side built and encoded
(``encode_event``). The ledger holds 1,000 symbols, 20 fills each.

Floor, same run: a plain loop over the same 1,000 positions — parse the reply with ``json.loads``, compare each
quantity as a Decimal, and ``json.dumps`` two small dicts per symbol.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
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
from tradebus_contracts import encode_event
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--positions", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
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
