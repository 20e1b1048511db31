"""Benchmark: the whole order path against the 3-hop plain nats-py floor, side by side in one run.

    .venv/bin/python bench/pipeline.py [--orders 200]

Real stack (separate processes, as `tradectl up` runs them): alpaca-sim, risk-service, order-gateway on a private
NATS (JetStream) and PostgreSQL. One order in flight at a time; for each OrderRequested we time
  * approved:  publish -> RiskApproved seen        (the risk hop: checks, signature, decision committed)
  * submitted: publish -> OrderSubmitted seen      (+ the gateway: verify, pending row committed, POST to the
                                                     broker through alpaca-py, answer recorded with its events)
Floor (bench/floor.py risk + gateway): request -> sign -> verify, no validation, no database, no
broker: publish -> "verified" seen. Prints medians and p99, and the ratios to the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import nats

from tradebus_contracts import OrderRequested, decode_event, encode_event, subject_for
from tradebus_runtime.bus import ensure_streams
from tradebus_runtime.health import wait_until_healthy
from tradectl.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from tradectl.keys import generate_signing_key
from tradectl.testing import wait_for_reference_data

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from risk_stage import UNLIMITED  # noqa: E402  (same unlimited risk limits)


def order() -> OrderRequested:
    order_id = uuid.uuid4()
    return OrderRequested(producer="bench", order_id=order_id, correlation_id=str(order_id), symbol="AAPL",
                          side="buy", type="limit", time_in_force="day", qty=Decimal("1"),
                          limit_price=Decimal("100.00"))  # rests at the broker: no fills to muddy the timing


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, int(len(ordered) * q) - 1)]


async def time_real(nats_url: str, n: int) -> tuple[list[float], list[float]]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    marks: dict[str, asyncio.Future[float]] = {}

    async def on(msg) -> None:  # type: ignore[no-untyped-def]
        event = decode_event(msg.data)
        key = f"{event.event_type}:{getattr(event, 'order_id', '')}"
        future = marks.get(key)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())

    await nc.subscribe("risk.>", cb=on)
    await nc.subscribe("orders.submitted.>", cb=on)
    approved, submitted = [], []
    loop = asyncio.get_running_loop()
    for i in range(n + 20):
        o = order()
        a = marks[f"RiskApproved:{o.order_id}"] = loop.create_future()
        s = marks[f"OrderSubmitted:{o.order_id}"] = loop.create_future()
        start = time.perf_counter()
        await js.publish(subject_for(o), encode_event(o), headers={"Nats-Msg-Id": str(o.event_id)})
        t_a = await asyncio.wait_for(a, 10)
        t_s = await asyncio.wait_for(s, 10)
        if i >= 20:  # warm-up
            approved.append((t_a - start) * 1000)
            submitted.append((t_s - start) * 1000)
    await nc.drain()
    return approved, submitted


async def time_floor(nats_url: str, n: int) -> list[float]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    arrived: asyncio.Queue[float] = asyncio.Queue()

    async def on(msg) -> None:  # type: ignore[no-untyped-def]
        arrived.put_nowait(time.perf_counter())

    await nc.subscribe("floor.verified.>", cb=on)
    samples = []
    for i in range(n + 20):
        o = order()
        start = time.perf_counter()
        await js.publish(subject_for(o), encode_event(o), headers={"Nats-Msg-Id": str(o.event_id)})
        done = await asyncio.wait_for(arrived.get(), 10)
        if i >= 20:
            samples.append((done - start) * 1000)
    await nc.drain()
    return samples


async def fresh_streams(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    for info in await js.streams_info():
        await js.delete_stream(info.config.name)
    await ensure_streams(js)
    await nc.drain()


@contextlib.contextmanager
def running_pipeline(root: Path, *, fsync_always: bool, pg_no_fsync: bool,
                     env_extra: dict[str, str] | None = None) -> Iterator[tuple[str, Callable[[list[list[str]]], None]]]:
    """alpaca-sim, risk-service and order-gateway as separate processes on a private NATS and PostgreSQL, healthy
    and with reference data; yields the NATS URL and ``restart(argv_of_the_floor)`` — stop the services, give the
    streams back fresh and start the given processes instead (the floor)."""
    server = EmbeddedNats(root / "nats", fsync_always=fsync_always)
    pg = EmbeddedPostgres(root / "pg", durable=not pg_no_fsync)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        nats_url, database_url = server.start(), pg.start()
        keys = generate_signing_key(root / "keys")
        sim_port = free_port()
        env = {**os.environ, "NATS_URL": nats_url, "DATABASE_URL": database_url, "TRADEBUS_HOME": str(root),
               "LOG_LEVEL": "info", "RISK_SIGNING_KEY_PATH": str(keys.private_path),
               "GATEWAY_TRUSTED_KEYS": keys.public_b64, "TRADEBUS_BROKER": "simulator",
               "BROKER_URL": f"http://127.0.0.1:{sim_port}", "GATEWAY_RATE_LIMIT_PER_MIN": "1000000", **UNLIMITED,
               **(env_extra or {})}

        def spawn(argv: list[str]) -> None:
            procs.append(subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

        def instead(argvs: list[list[str]]) -> None:
            for proc in procs:
                proc.terminate()
                proc.wait(10)
            procs.clear()
            asyncio.run(fresh_streams(nats_url))
            for argv in argvs:
                spawn(argv)

        spawn([str(BIN / "alpaca-sim"), "--port", str(sim_port), "--rate-limit", "1000000"])
        spawn([str(BIN / "risk-service")])
        spawn([str(BIN / "order-gateway")])
        asyncio.run(wait_until_healthy(nats_url, ["risk-service", "order-gateway"]))
        asyncio.run(wait_for_reference_data(nats_url))
        yield nats_url, instead
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        pg.stop()
        server.stop()


def run(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="tradebus-pipeline-"))
    try:
        with running_pipeline(root, fsync_always=args.fsync_always, pg_no_fsync=args.pg_no_fsync) as (nats_url,
                                                                                                        instead):
            approved, submitted = asyncio.run(time_real(nats_url, args.orders))
            instead([[sys.executable, str(HERE / "floor.py"), "risk", nats_url],
                     [sys.executable, str(HERE / "floor.py"), "gateway", nats_url]])
            time.sleep(1.5)
            floor = asyncio.run(time_floor(nats_url, args.orders))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    f50 = statistics.median(floor)
    print(f"\nNATS fsync always: {args.fsync_always}; PostgreSQL fsync: {not args.pg_no_fsync}; "
          f"{args.orders} orders, one in flight")
    print(f"{'path':<46}{'p50 ms':>9}{'p99 ms':>9}{'p50 / floor':>13}")
    for name, samples in (("floor: request -> sign -> verify", floor),
                          ("tradebus: request -> RiskApproved", approved),
                          ("tradebus: request -> OrderSubmitted (at broker)", submitted)):
        print(f"{name:<46}{statistics.median(samples):>9.2f}{pct(samples, 0.99):>9.2f}"
              f"{statistics.median(samples) / f50:>12.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--fsync-always", action="store_true", help="NATS sync_interval: always, as `tradectl up`")
    parser.add_argument("--pg-no-fsync", action="store_true", help="PostgreSQL with fsync off (to see its share)")
    run(parser.parse_args())
