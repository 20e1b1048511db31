"""Benchmark: cost basis for 1,000,000 fills (issue 12: < 5 s).

    .venv/bin/python bench/position_cost_basis.py                 # 1,000,000 fills, median of 3
    .venv/bin/python bench/position_cost_basis.py --fills 100000  # the small version

A synthetic history, the same every run (seeded): 50 symbols, orders of 1-3 executions (buys and sells, so FIFO
relieves lots, goes short and back), prices that wander, one New York trading day per 5,000 fills. Timed, each the
median of ``--runs``:

* **fold_fills**: the pure core (``ledger.fold_fills``): sequencer + FIFO lots + the Alpaca-method average;
* **restart fold**: what position-sync-service runs at start over its journal (``journal.Folded.fold``): the same,
  with ``coverage`` in front (each execution counted once whichever door it came by);
* **floor**: a plain loop over the same fills, in the same run: per symbol the signed quantity and the signed
  value (``qty × price``) summed — the least any fold of these fills does.
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

# bench/position_sync.py is named like the service's package: without bench/ on the path, ``position_sync`` is it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from position_sync.journal import Folded
from position_sync.ledger import fold_fills
from position_sync.sequencer import Fill
from tradebus_contracts.orders import OrderSide


def history(n: int, seed: int = 12) -> list[Fill]:
    rng = random.Random(seed)
    symbols = [f"S{i:02d}" for i in range(50)]
    prices = {s: Decimal(rng.randint(20, 400)) for s in symbols}
    start = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    fills: list[Fill] = []
    order = 0
    while len(fills) < n:
        order += 1
        symbol = rng.choice(symbols)
        side = OrderSide.BUY if rng.random() < 0.5 else OrderSide.SELL
        cum = Decimal(0)
        executions = rng.randint(1, 3)
        for k in range(executions):
            qty = Decimal(rng.randint(1, 200))
            cum += qty
            prices[symbol] = max(Decimal(1), prices[symbol] + Decimal(rng.randint(-50, 50)) / 100)
            day, minute = divmod(len(fills), 5000)
            at = start + timedelta(days=day, seconds=minute * 4)
            fills.append(Fill(f"e{len(fills)}", f"o{order}", symbol, side, qty, prices[symbol], cum, at,
                              k == executions - 1))
    return fills[:n]


def floor(fills: list[Fill]) -> dict[str, tuple[Decimal, Decimal]]:
    totals: dict[str, tuple[Decimal, Decimal]] = {}
    buy = OrderSide.BUY
    zero = (Decimal(0), Decimal(0))
    for f in fills:
        qty = f.qty if f.side is buy else -f.qty
        held, value = totals.get(f.symbol, zero)
        totals[f.symbol] = (held + qty, value + qty * f.price)
    return totals


def restart_fold(fills: list[Fill]) -> Folded:
    folded = Folded()
    folded.fold(fills)
    return folded


def timed(fn, fills: list[Fill], runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        result = fn(fills)
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fills", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    started = time.perf_counter()
    fills = history(args.fills)
    print(f"{len(fills):,} fills generated in {time.perf_counter() - started:.1f} s "
          f"(Python {platform.python_version()}, {platform.machine()})")

    results = {}
    for name, fn in (("floor", floor), ("fold_fills", fold_fills), ("restart fold", restart_fold)):
        median, results[name] = timed(fn, fills, args.runs)
        print(f"{name:>13}: median {median:6.2f} s of {args.runs}  ({median / len(fills) * 1e6:5.2f} µs/fill)")
        results[name + "_s"] = median

    # the folds agree with each other and with the floor's quantities
    expected = {s: q for s, (q, _) in results["floor"].items()}  # type: ignore[union-attr]
    for name in ("fold_fills", "restart fold"):
        ledger = results[name].ledger if name == "restart fold" else results[name]  # type: ignore[union-attr]
        got = {s: p.lots.qty for s, p in ledger.positions.items()}
        assert got == expected, f"{name} disagrees with the floor's quantities"
    verdict = "PASS" if results["restart fold_s"] < 5 else "FAIL"  # type: ignore[operator]
    print(f"target < 5 s for {len(fills):,} fills: {verdict}; restart fold / floor = "
          f"{results['restart fold_s'] / results['floor_s']:.1f}x")  # type: ignore[operator]
    sys.exit(0 if verdict == "PASS" or len(fills) != 1_000_000 else 1)


if __name__ == "__main__":
    main()
