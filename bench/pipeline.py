"""Benchmark: the whole order path against two floors, side by side in one run.

    .venv/bin/python bench/pipeline.py [--orders 200] [--rounds 1] [--fsync-always]

Real stack (separate processes, as `tradectl up` runs them): alpaca-sim, risk-service, order-gateway on a private
NATS (JetStream) and PostgreSQL. One order in flight at a time; for each OrderRequested we time
  * approved:  publish -> RiskApproved seen        (the risk hop: checks, signature, decision committed)
  * submitted: publish -> OrderSubmitted seen      (+ the gateway: verify, pending row committed, POST to the
                                                     broker through alpaca-py, answer recorded with its events)
Floors (bench/floor.py), each on the same NATS, PostgreSQL and simulator:
  * plain: request -> sign -> verify, no validation, no database, no broker: publish -> "verified" seen;
  * structural: the same durable work the design requires and nothing more — risk commits its decision before it
    publishes; the gateway commits the pending row, POSTs to the same simulator over a kept-alive connection,
    commits the answer and publishes OrderSubmitted: publish -> approval seen, publish -> OrderSubmitted seen.
Each round runs tradebus, the structural floor and the plain floor in turn (fresh streams for each), so a noisy
minute hits all three; prints each round and the medians over rounds of p50 and p99, with ratios to the floors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path

import nats
from nats.aio.msg import Msg

from tradebus_contracts import OrderRequested, encode_event, subject_for
from tradebus_runtime.health import wait_until_healthy
from tradectl.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from tradectl.keys import generate_signing_key
from tradectl.testing import wait_for_reference_data

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from risk_stage import UNLIMITED, fresh_streams, one_in_flight  # noqa: E402  (same limits, streams and timing)

# A limit buy of 1 share at $5, far below AAPL's price: it rests at the broker (no fills to muddy the timing), and
# tens of thousands fit the simulator's $100,000 of buying power (at $100 a round of three stages used it up, and
# risk then rejected for buying power). The risk service's price sanity band is widened to 99 % for it (WIDE).
LIMIT_PRICE = Decimal("5.00")
WIDE = {"RISK_PRICE_SANITY_PCT": "99"}


def order() -> OrderRequested:
    order_id = uuid.uuid4()
    return OrderRequested(producer="bench", order_id=order_id, correlation_id=str(order_id), symbol="AAPL",
                          side="buy", type="limit", time_in_force="day", qty=Decimal("1"), limit_price=LIMIT_PRICE)


WARM_UP = 20


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, int(len(ordered) * q) - 1)]


async def time_stages(nats_url: str, n: int) -> tuple[list[float], list[float]]:
    """publish -> an approval on risk.approved.>, and -> OrderSubmitted on orders.submitted.>, per order (any JSON
    message with the order's ``order_id``: tradebus events and the structural floor's alike)."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    marks: dict[tuple[str, str], asyncio.Future[float]] = {}

    def on(kind: str) -> Callable[[Msg], Awaitable[None]]:
        async def mark(msg: Msg) -> None:
            future = marks.get((kind, str(json.loads(msg.data).get("order_id"))))
            if future is not None and not future.done():
                future.set_result(time.perf_counter())
        return mark

    await nc.subscribe("risk.approved.>", cb=on("approved"))
    await nc.subscribe("orders.submitted.>", cb=on("submitted"))
    approved, submitted = [], []
    loop = asyncio.get_running_loop()
    for i in range(n + WARM_UP):
        o = order()
        a = marks[("approved", str(o.order_id))] = loop.create_future()
        s = marks[("submitted", str(o.order_id))] = loop.create_future()
        payload = encode_event(o)  # before the clock, as for the plain floor (one_in_flight)
        start = time.perf_counter()
        await js.publish(subject_for(o), payload, headers={"Nats-Msg-Id": str(o.event_id)})
        t_a = await asyncio.wait_for(a, 30)
        t_s = await asyncio.wait_for(s, 30)
        if i >= WARM_UP:
            approved.append((t_a - start) * 1000)
            submitted.append((t_s - start) * 1000)
    await nc.drain()
    return approved, submitted


async def time_floor(nats_url: str, n: int) -> list[float]:
    """publish -> the plain floor's "verified", per order."""
    return await one_in_flight(nats_url, "floor.verified.>", order, n, warm_up=WARM_UP, timeout=30)


@dataclasses.dataclass(frozen=True)
class Stack:
    """A running pipeline: where its servers are, and how to put other stages in the services' place."""

    nats_url: str
    database_url: str
    broker_url: str
    instead: Callable[[list[list[str]]], None]

    def tradebus(self) -> None:
        """risk-service and order-gateway (again), healthy and with reference data."""
        self.instead([[str(BIN / "risk-service")], [str(BIN / "order-gateway")]])
        asyncio.run(wait_until_healthy(self.nats_url, ["risk-service", "order-gateway"]))
        asyncio.run(wait_for_reference_data(self.nats_url))

    def floor(self, kind: str) -> None:
        """The plain or the structural (``durable``) floor's two stages, given a moment to subscribe."""
        args = {"plain": [], "durable": [self.database_url]}[kind]
        prefix = "" if kind == "plain" else "durable-"
        self.instead([[sys.executable, str(HERE / "floor.py"), f"{prefix}risk", self.nats_url, *args],
                      [sys.executable, str(HERE / "floor.py"), f"{prefix}gateway", self.nats_url, *args,
                       *([self.broker_url] if kind == "durable" else [])]])
        time.sleep(1.5)


@contextlib.contextmanager
def running_pipeline(root: Path, *, fsync_always: bool, pg_no_fsync: bool,
                     env_extra: dict[str, str] | None = None) -> Iterator[Stack]:
    """alpaca-sim, risk-service and order-gateway as separate processes on a private NATS and PostgreSQL, healthy
    and with reference data. `Stack.instead` stops the services (the simulator keeps running), gives the streams
    back fresh and starts the given processes in their place (a floor, or the services again)."""
    server = EmbeddedNats(root / "nats", fsync_always=fsync_always)
    pg = EmbeddedPostgres(root / "pg", durable=not pg_no_fsync)
    sim: list[subprocess.Popen[bytes]] = []
    procs: list[subprocess.Popen[bytes]] = []
    try:
        nats_url, database_url = server.start(), pg.start()
        keys = generate_signing_key(root / "keys")
        broker_url = f"http://127.0.0.1:{free_port()}"
        env = {**os.environ, "NATS_URL": nats_url, "DATABASE_URL": database_url, "TRADEBUS_HOME": str(root),
               "LOG_LEVEL": "info", "RISK_SIGNING_KEY_PATH": str(keys.private_path),
               "GATEWAY_TRUSTED_KEYS": keys.public_b64, "TRADEBUS_BROKER": "simulator",
               "BROKER_URL": broker_url, "GATEWAY_RATE_LIMIT_PER_MIN": "1000000", **UNLIMITED, **WIDE,
               **(env_extra or {})}

        def spawn(argv: list[str], into: list[subprocess.Popen[bytes]]) -> None:
            logs = os.environ.get("BENCH_LOGS")  # a folder: each process's output kept there, for a failed run
            name = f"floor-{argv[2]}" if argv[1:2] == [str(HERE / "floor.py")] else Path(argv[0]).name
            out = open(Path(logs) / f"{name}.log", "ab") if logs else subprocess.DEVNULL
            into.append(subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT))

        def instead(argvs: list[list[str]]) -> None:
            stop(procs)
            asyncio.run(fresh_streams(nats_url))
            for argv in argvs:
                spawn(argv, procs)

        spawn([str(BIN / "alpaca-sim"), "--port", broker_url.rsplit(":", 1)[1], "--rate-limit", "1000000"], sim)
        stack = Stack(nats_url, database_url, broker_url, instead)
        for argv in ([str(BIN / "risk-service")], [str(BIN / "order-gateway")]):
            spawn(argv, procs)
        asyncio.run(wait_until_healthy(nats_url, ["risk-service", "order-gateway"]))
        asyncio.run(wait_for_reference_data(nats_url))
        yield stack
    finally:
        stop(procs)
        stop(sim)
        pg.stop()
        server.stop()


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
        proc.wait(10)
    procs.clear()


PATHS = (("plain floor: request -> sign -> verify", "plain"),
         ("structural floor: request -> approval committed", "durable_approved"),
         ("structural floor: request -> OrderSubmitted", "durable_submitted"),
         ("tradebus: request -> RiskApproved", "approved"),
         ("tradebus: request -> OrderSubmitted (at broker)", "submitted"))


def one_round(stack: Stack, n: int, first: bool) -> dict[str, list[float]]:
    if not first:
        stack.tradebus()
    approved, submitted = asyncio.run(time_stages(stack.nats_url, n))
    stack.floor("durable")
    durable_approved, durable_submitted = asyncio.run(time_stages(stack.nats_url, n))
    stack.floor("plain")
    plain = asyncio.run(time_floor(stack.nats_url, n))
    return {"plain": plain, "durable_approved": durable_approved, "durable_submitted": durable_submitted,
            "approved": approved, "submitted": submitted}


def run(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="tradebus-pipeline-"))
    rounds: list[dict[str, list[float]]] = []
    try:
        with running_pipeline(root, fsync_always=args.fsync_always, pg_no_fsync=args.pg_no_fsync) as stack:
            for r in range(args.rounds):
                rounds.append(one_round(stack, args.orders, first=r == 0))
                if args.rounds > 1:
                    report(f"round {r + 1}", [summary(rounds[-1])])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report(f"NATS fsync always: {args.fsync_always}; PostgreSQL fsync: {not args.pg_no_fsync}; {args.orders} orders, "
           f"one in flight; medians over {args.rounds} round(s)", [summary(r) for r in rounds])


def summary(samples: dict[str, list[float]]) -> dict[str, tuple[float, float]]:
    return {key: (statistics.median(values), pct(values, 0.99)) for key, values in samples.items()}


def report(title: str, rounds: list[dict[str, tuple[float, float]]]) -> None:
    """Medians over rounds of each path's p50 and p99, and of the per-round ratios to both floors."""
    def med(f: Callable[[dict[str, tuple[float, float]]], float]) -> float:
        return statistics.median(f(r) for r in rounds)

    print(f"\n{title}")
    print(f"{'path':<50}{'p50 ms':>9}{'p99 ms':>9}{'p99/p50':>9}{'/ plain':>9}{'/ struct.':>10}")
    for name, key in PATHS:
        floor_key = "durable_submitted" if key in ("submitted", "durable_submitted") else "durable_approved"
        print(f"{name:<50}{med(lambda r: r[key][0]):>9.2f}{med(lambda r: r[key][1]):>9.2f}"
              f"{med(lambda r: r[key][1] / r[key][0]):>9.2f}{med(lambda r: r[key][0] / r['plain'][0]):>8.2f}x"
              f"{med(lambda r: r[key][0] / r[floor_key][0]):>9.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=1, help="tradebus and both floors in turn, this many times")
    parser.add_argument("--fsync-always", action="store_true", help="NATS sync_interval: always, as `tradectl up`")
    parser.add_argument("--pg-no-fsync", action="store_true", help="PostgreSQL with fsync off (to see its share)")
    run(parser.parse_args())
