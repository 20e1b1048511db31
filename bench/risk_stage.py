"""Benchmark: the risk stage (OrderRequested -> signed RiskApproved) against a plain nats-py floor, one run.

    .venv/bin/python bench/risk_stage.py [--orders 5000] [--latency-orders 400] [--baseline REF] [--rounds N]

Starts a private NATS (JetStream, file storage) and PostgreSQL from the same wheels as `tradectl up`, seeds the
reference data, then for each stage implementation in turn (with ``--baseline REF``, the risk service as it was at
git commit REF, its ``risk-service`` and ``contracts`` sources taken with ``git archive``, run from them; the real
`risk-service` process of this checkout; `floor.py risk`), each risk service with a database of its own:
  * latency: one order in flight, publish -> approval received by a subscriber, p50/p99 over --latency-orders;
  * throughput: --orders put on the stream while the stage is down, then the stage is started and the rate is
    taken between its first and its last decision (the load generator is out of the measurement);
  * CPU: user+system CPU of the stage process over that same span, per order.
With ``--rounds N`` the stages take turns N times (on a shared machine a noisy minute then hits each alike) and the
medians are shown. Prints a table, the ratios real/floor and, with a baseline, real/baseline, per round and their
median. Results are recorded in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import nats
import psutil

from tradebus_contracts import OrderRequested, encode_event, subject_for
from tradebus_contracts.refdata import ACCOUNT_KEY, REFDATA_BUCKET, AccountRef, AssetRef, QuoteRef, asset_key, quote_key
from tradebus_runtime.bus import ensure_kv, ensure_streams
from tradebus_runtime.health import wait_until_healthy
from tradectl.embedded import EmbeddedNats, EmbeddedPostgres
from tradectl.keys import generate_signing_key

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
UNLIMITED = {  # the bench measures the pipeline, not the limits
    "RISK_MAX_ORDER_NOTIONAL": "1000000000", "RISK_MAX_ORDER_QTY": "1000000000",
    "RISK_MAX_POSITION_QTY": "1000000000", "RISK_MAX_POSITION_NOTIONAL": "1000000000",
    "RISK_MAX_ACCOUNT_GROSS_EXPOSURE": "1000000000", "RISK_MAX_OPEN_ORDERS": "100000000",
    "RISK_MAX_OPEN_ORDERS_PER_SYMBOL": "100000000", "RISK_MAX_DAILY_NOTIONAL": "1000000000000",
    "RISK_MAX_DAILY_NOTIONAL_PER_SYMBOL": "1000000000000", "RISK_THROTTLE_MAX_ORDERS": "100000000",
    "RISK_PRICE_COLLAR_PCT": "90",
}


SYMBOLS = ["AAPL"]  # --symbols N: the orders go round N symbols (a rebalance across a book, not one name)
_next_symbol = itertools.count()


def order() -> OrderRequested:
    order_id = uuid.uuid4()
    symbol = SYMBOLS[next(_next_symbol) % len(SYMBOLS)]
    return OrderRequested(producer="bench", order_id=order_id, correlation_id=str(order_id), symbol=symbol,
                          side="buy", type="limit", time_in_force="day", qty=Decimal("1"),
                          limit_price=Decimal("187.25"))


async def seed(js) -> None:  # type: ignore[no-untyped-def]
    kv = await ensure_kv(js, REFDATA_BUCKET)
    now = datetime.now(UTC)
    for symbol in SYMBOLS:
        await kv.put(asset_key(symbol), AssetRef(symbol=symbol, tradable=True, fractionable=True, shortable=True,
                                                 as_of=now).model_dump_json().encode())
        await kv.put(quote_key(symbol), QuoteRef(symbol=symbol, bid=Decimal("187.20"), ask=Decimal("187.30"),
                                                 last=Decimal("187.25"), as_of=now.replace(year=now.year + 1))
                     .model_dump_json().encode())  # as_of in the future: never stale during the run
    await kv.put(ACCOUNT_KEY, AccountRef(buying_power=Decimal("1000000000000"), equity=Decimal("1"),
                                         cash=Decimal("1"), as_of=now.replace(year=now.year + 1))
                 .model_dump_json().encode())


async def publish_all(js, orders: list[OrderRequested]) -> None:  # type: ignore[no-untyped-def]
    for chunk in range(0, len(orders), 500):
        acks = [await js.publish_async(subject_for(o), encode_event(o), headers={"Nats-Msg-Id": str(o.event_id)})
                for o in orders[chunk:chunk + 500]]
        await asyncio.gather(*acks)


async def one_in_flight(nats_url: str, subject: str, new_order: Callable[[], OrderRequested], n: int, *,
                        warm_up: int, timeout: float) -> list[float]:
    """One order in flight: publish -> the next message on ``subject`` seen by a subscriber, in ms, for ``n`` orders
    after ``warm_up`` untimed ones (the order is encoded before the clock starts)."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    arrived: asyncio.Queue[float] = asyncio.Queue()

    async def on(msg) -> None:  # type: ignore[no-untyped-def]
        arrived.put_nowait(time.perf_counter())

    await nc.subscribe(subject, cb=on)
    samples = []
    for i in range(warm_up + n):
        o = new_order()
        payload = encode_event(o)
        start = time.perf_counter()
        await js.publish(subject_for(o), payload, headers={"Nats-Msg-Id": str(o.event_id)})
        done = await asyncio.wait_for(arrived.get(), timeout)
        if i >= warm_up:
            samples.append((done - start) * 1000)
    await nc.drain()
    return samples


async def latency(nats_url: str, latency_orders: int) -> list[float]:
    """One order in flight: publish -> decision seen by a subscriber, in ms, sorted."""
    return sorted(await one_in_flight(nats_url, "risk.>", order, latency_orders, warm_up=50, timeout=10))


async def drain(nats_url: str, start_stage, orders: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Fill ORDERS with ``orders`` requests while the stage is down, start it, time the drain.

    Returns (orders/s between the first and the last decision, stage CPU ms per order over the same span)."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await publish_all(js, [order() for _ in range(orders)])
    seen = 0
    first = last = 0.0
    cpu_first = cpu_last = 0.0
    done = asyncio.Event()
    proc_box: list[psutil.Process] = []

    async def on_decision(msg) -> None:  # type: ignore[no-untyped-def]
        nonlocal seen, first, last, cpu_first, cpu_last
        seen += 1
        if seen == 1:
            first = time.perf_counter()
            cpu_first = sum(proc_box[0].cpu_times()[:2])
        if seen == orders:
            last = time.perf_counter()
            cpu_last = sum(proc_box[0].cpu_times()[:2])
            done.set()

    await nc.subscribe("risk.>", cb=on_decision)
    await nc.flush()
    proc_box.append(psutil.Process(start_stage()))
    await asyncio.wait_for(done.wait(), 300)
    await nc.drain()
    return (orders - 1) / (last - first), (cpu_last - cpu_first) * 1000 / (orders - 1)


async def fresh_streams(nats_url: str, seeded: bool = False) -> None:
    """Every stream deleted and tradebus's created anew (no stage sees another's messages); ``seeded``: and the
    reference data the risk stage reads put back."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    for info in await js.streams_info():
        await js.delete_stream(info.config.name)
    await ensure_streams(js)
    if seeded:
        await seed(js)
    await nc.drain()


def baseline_sources(ref: str, into: Path) -> str:
    """The risk service and the contracts as they were at ``ref`` (read with ``git archive``, nothing in the
    checkout changes), unpacked under ``into``; returns the PYTHONPATH that runs them."""
    archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", ref, "risk-service/src", "contracts/src"],
                             check=True, capture_output=True).stdout
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return os.pathsep.join(str(into / member / "src") for member in ("risk-service", "contracts"))


Result = dict[str, float]


def measure(nats_url: str, name: str, argv: list[str], stage_env: dict[str, str],
            args: argparse.Namespace) -> Result:
    """One stage: latency with one order in flight, then the drain of ``args.orders``."""
    asyncio.run(fresh_streams(nats_url, seeded=True))
    running: list[subprocess.Popen[bytes]] = []

    def start_stage() -> int:
        proc = subprocess.Popen(argv, env=stage_env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        running.append(proc)
        return proc.pid

    try:
        start_stage()
        if name.startswith("risk-service"):
            asyncio.run(wait_until_healthy(nats_url, ["risk-service"]))
        else:
            time.sleep(1.0)
        samples = asyncio.run(latency(nats_url, args.latency_orders))
        running[-1].terminate()
        running[-1].wait(10)
        rate, cpu = asyncio.run(drain(nats_url, start_stage, args.orders))
        return {"p50_ms": statistics.median(samples), "p99_ms": samples[max(0, int(len(samples) * 0.99) - 1)],
                "orders_per_s": rate, "cpu_ms_per_order": cpu}
    finally:
        for proc in running:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(10)


def run(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="tradebus-bench-"))
    server = EmbeddedNats(root / "nats", fsync_always=args.fsync_always)
    pg = EmbeddedPostgres(root / "pg", durable=not args.pg_no_fsync)
    results: dict[str, list[Result]] = {}
    try:
        nats_url = server.start()
        pg.start()
        keys = generate_signing_key(root / "keys")
        env = {**os.environ, "NATS_URL": nats_url, "LOG_LEVEL": args.log_level,
               "RISK_SIGNING_KEY_PATH": str(keys.private_path), **UNLIMITED}
        baseline_path = baseline_sources(args.baseline, root / "baseline") if args.baseline else None
        for round_no in range(args.rounds):  # the stages take turns, so a noisy minute hits all of them alike
            stages: dict[str, tuple[list[str], dict[str, str]]] = {}
            if baseline_path is not None:
                pg.create_database(f"baseline{round_no}")
                stages[f"risk-service@{args.baseline}"] = ([sys.executable, "-m", "risk_service"], {
                    **env, "PYTHONPATH": baseline_path, "DATABASE_URL": pg.url(f"baseline{round_no}")})
            pg.create_database(f"current{round_no}")
            current = {**env, "DATABASE_URL": pg.url(f"current{round_no}")}
            stages["risk-service"] = ([str(BIN / "risk-service")], current)
            stages["floor (plain nats-py)"] = ([sys.executable, str(HERE / "floor.py"), "risk", nats_url], env)
            for name, (argv, stage_env) in stages.items():
                results.setdefault(name, []).append(measure(nats_url, name, argv, stage_env, args))
    finally:
        pg.stop()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    report(results, args)


def report(results: dict[str, list[Result]], args: argparse.Namespace) -> None:
    print(f"\nNATS fsync always: {args.fsync_always}; PostgreSQL fsync: {not args.pg_no_fsync}; "
          f"risk-service LOG_LEVEL={args.log_level}; {args.orders} orders drained, {args.latency_orders} timed "
          f"singly; {args.rounds} round(s), medians")
    print(f"{'stage':<28}{'p50 ms':>9}{'p99 ms':>9}{'orders/s':>11}{'CPU ms/order':>14}")
    medians = {name: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
               for name, runs in results.items()}
    for name, r in medians.items():
        print(f"{name:<28}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['orders_per_s']:>11.0f}"
              f"{r['cpu_ms_per_order']:>14.3f}")
    real = results["risk-service"]
    for other_name, other in results.items():
        if other_name == "risk-service":
            continue
        ratios = {key: [a[key] / b[key] for a, b in zip(real, other, strict=True)]
                  for key in ("p50_ms", "p99_ms", "orders_per_s", "cpu_ms_per_order")}
        shown = []
        for label, key in (("p50", "p50_ms"), ("throughput", "orders_per_s"), ("CPU/order", "cpu_ms_per_order")):
            rounds = " / ".join(f"{x:.2f}" for x in ratios[key])
            shown.append(f"{label} {rounds} (median {statistics.median(ratios[key]):.2f}x)")
        print(f"ratio risk-service/{other_name.split(' ')[0]} per round: " + ", ".join(shown))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--latency-orders", type=int, default=400)
    parser.add_argument("--log-level", default="info", help="risk-service LOG_LEVEL (info = as deployed)")
    parser.add_argument("--fsync-always", action="store_true", help="NATS sync_interval: always, as `tradectl up`")
    parser.add_argument("--pg-no-fsync", action="store_true", help="PostgreSQL with fsync off (to see its share)")
    parser.add_argument("--baseline", metavar="REF", help="also run the risk service as of git commit REF")
    parser.add_argument("--rounds", type=int, default=1, help="the stages take turns this many times; medians")
    parser.add_argument("--symbols", type=int, default=1, help="orders go round this many symbols (1: AAPL only)")
    parsed = parser.parse_args()
    if parsed.symbols > 1:
        SYMBOLS[:] = [f"S{i:04d}" for i in range(parsed.symbols)]
    run(parsed)
