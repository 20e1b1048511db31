"""Benchmark: a price moved at the simulator -> the quote in REFDATA, through the market-data stream and the REST poll.

    .venv/bin/python bench/quote_path.py [--moves 300] [--symbols 10] [--interval 0.1] [--poll-moves 30]

Real processes, as `tradectl up` runs them: alpaca-sim (ticking every 0.5 s, so every symbol also quotes twice a
second) and order-gateway on a private NATS (JetStream) and PostgreSQL. Each move pins one symbol's quote at a new
price with ``PUT /admin/quotes/{symbol}``; the time is taken from just before that request to the moment the
``quotes.<SYMBOL>`` entry with the new bid arrives at a subscriber of the REFDATA bucket's subject (what risk's mirror
watches). Moves rotate over --symbols symbols, --interval apart (plus up to 50 ms at random, so they do not keep
step with the tick), so each symbol moves about every symbols x interval seconds, within the gateway's pace (a few
writes per symbol per second).
  * stream: the gateway as deployed (GATEWAY_QUOTE_STREAM on), --moves moves after --warm-up;
  * poll:   the fallback alone (GATEWAY_QUOTE_STREAM=false: REST every GATEWAY_QUOTE_INTERVAL_S, 2 s), --poll-moves
            moves up to 2 s apart at random (out of step with the poll).
Prints p50/p99/max per path, and the PUT's own round trip. Results are recorded in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import httpx
import nats

from tradebus_contracts.refdata import QuoteRef
from tradebus_runtime.bus import ensure_streams
from tradebus_runtime.health import wait_until_healthy
from tradectl.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from tradectl.keys import generate_signing_key
from tradectl.testing import wait_for_reference_data

BIN = Path(sys.executable).parent
SYMBOLS = ("AAPL", "MSFT", "GOOGL", "AMZN", "META", "NVDA", "TSLA", "NFLX", "AMD", "INTC", "JPM", "BAC", "XOM", "KO")


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, int(len(ordered) * q) - 1)]


async def wait_logged(log_path: Path, event: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log_path.read_text().splitlines() if log_path.exists() else ():
            try:
                if json.loads(line).get("event") == event:
                    return
            except ValueError:
                continue
        await asyncio.sleep(0.2)
    raise SystemExit(f"{event} not logged within {timeout:.0f}s; see {log_path}")


async def time_moves(nats_url: str, sim_url: str, moves: int, symbols: int, interval: float, jitter: float,
                     warm_up: int, round_base: int) -> tuple[list[float], list[float]]:
    """(move -> REFDATA ms, PUT round trip ms) for each move after the warm-up."""
    nc = await nats.connect(nats_url)
    waiting: dict[tuple[str, Decimal], asyncio.Future[float]] = {}

    async def on(msg) -> None:  # type: ignore[no-untyped-def]
        arrived = time.perf_counter()
        try:
            ref = QuoteRef.model_validate_json(msg.data)
        except ValueError:
            return
        future = waiting.pop((ref.symbol, ref.bid), None)
        if future is not None and not future.done():
            future.set_result(arrived)

    await nc.subscribe("$KV.REFDATA.quotes.>", cb=on)
    latencies, round_trips = [], []
    async with httpx.AsyncClient(base_url=sim_url, timeout=10) as http:
        for i in range(warm_up + moves):
            symbol = SYMBOLS[i % symbols]
            bid = Decimal(round_base + i) / 100  # a new price every move
            future = asyncio.get_running_loop().create_future()
            waiting[(symbol, bid)] = future
            quote = {"bid": str(bid), "ask": str(bid + Decimal("0.02"))}
            started = time.perf_counter()
            response = await http.put(f"/admin/quotes/{symbol}", json=quote)
            answered = time.perf_counter()
            response.raise_for_status()
            arrived = await asyncio.wait_for(future, 15)
            if i >= warm_up:
                latencies.append((arrived - started) * 1000)
                round_trips.append((answered - started) * 1000)
            await asyncio.sleep(interval + random.uniform(0, jitter))  # no lock-step with the tick or the poll
    await nc.drain()
    return latencies, round_trips


def run(args: argparse.Namespace) -> dict[str, tuple[list[float], list[float]]]:
    root = Path(tempfile.mkdtemp(prefix="tradebus-quote-path-"))
    server = EmbeddedNats(root / "nats", fsync_always=args.fsync_always)
    pg = EmbeddedPostgres(root / "pg", durable=True)
    procs: list[subprocess.Popen[bytes]] = []
    results: dict[str, tuple[list[float], list[float]]] = {}
    try:
        nats_url, database_url = server.start(), pg.start()
        asyncio.run(declare_streams(nats_url))
        keys = generate_signing_key(root / "keys")
        sim_port = free_port()
        sim_url = f"http://127.0.0.1:{sim_port}"
        procs.append(subprocess.Popen([str(BIN / "alpaca-sim"), "--port", str(sim_port), "--rate-limit", "1000000"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        paths = (("stream", {}, args.moves, args.warm_up, 0.05),
                 ("poll", {"GATEWAY_QUOTE_STREAM": "false"}, args.poll_moves, 2, 2.0))
        for n, (name, extra, moves, warm_up, jitter) in enumerate(paths):
            if not moves:
                continue
            log_path = root / f"order-gateway-{name}.log"
            env = {**os.environ, "NATS_URL": nats_url, "DATABASE_URL": database_url, "TRADEBUS_HOME": str(root),
                   "LOG_LEVEL": "info", "GATEWAY_TRUSTED_KEYS": keys.public_b64, "TRADEBUS_BROKER": "simulator",
                   "BROKER_URL": sim_url, "GATEWAY_RATE_LIMIT_PER_MIN": "1000000", "PYTHONUNBUFFERED": "1", **extra}
            with log_path.open("wb") as log:
                gateway = subprocess.Popen([str(BIN / "order-gateway")], env=env, stdout=log, stderr=subprocess.STDOUT)
            procs.append(gateway)
            asyncio.run(wait_until_healthy(nats_url, ["order-gateway"]))
            asyncio.run(wait_for_reference_data(nats_url))
            if name == "stream":
                asyncio.run(wait_logged(log_path, "gateway.quote_stream_subscribed"))
            results[name] = asyncio.run(time_moves(nats_url, sim_url, moves, args.symbols, args.interval, jitter,
                                                   warm_up, round_base=10_000 + n * 100_000))
            gateway.terminate()
            gateway.wait(15)
            procs.remove(gateway)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        pg.stop()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    return results


async def declare_streams(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    await ensure_streams(nc.jetstream())
    await nc.drain()


def report(results: dict[str, tuple[list[float], list[float]]], args: argparse.Namespace) -> None:
    print(f"\nNATS fsync always: {args.fsync_always}; alpaca-sim ticking every 0.5 s; moves rotate over "
          f"{args.symbols} symbols, {args.interval * 1000:.0f} ms apart")
    print(f"{'path: /admin/quotes -> REFDATA':<34}{'moves':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
          f"{'PUT p50 ms':>12}")
    labels = {"stream": "market-data stream (deployed)", "poll": "REST poll only (fallback, 2 s)"}
    for name, (latencies, round_trips) in results.items():
        print(f"{labels[name]:<34}{len(latencies):>7}{statistics.median(latencies):>9.2f}{pct(latencies, 0.99):>9.2f}"
              f"{max(latencies):>9.2f}{statistics.median(round_trips):>12.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--moves", type=int, default=300)
    parser.add_argument("--warm-up", type=int, default=20)
    parser.add_argument("--symbols", type=int, default=10, choices=range(1, len(SYMBOLS) + 1), metavar="1-14")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between two moves")
    parser.add_argument("--poll-moves", type=int, default=30, help="moves timed with the stream off (0: skip)")
    parser.add_argument("--fsync-always", action="store_true", help="NATS sync_interval: always, as `tradectl up`")
    options = parser.parse_args()
    report(run(options), options)
