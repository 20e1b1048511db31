"""Benchmark: a burst of orders published at once, until every one is at the broker (issue 16).

    .venv/bin/python bench/burst.py [--orders 1000] [--concurrency default,8] [--fsync-always] [--runs 3] [--floor]
                                    [--cpu] [--timeout 300]

The path as `bench/pipeline.py` runs it (alpaca-sim with its rate limit off, risk-service with wide limits,
order-gateway; separate processes on a private NATS and PostgreSQL, PostgreSQL fsync on). ``--orders`` limit buys
that rest at the broker (pipeline.order: 1 share at $5, so that 10,000 fit the simulator's buying power) are
published at once; timed from the first publish to the last ``RiskApproved`` and to the last
``OrderSubmitted`` (every order at the broker). Each gateway concurrency in ``--concurrency``
(``GATEWAY_SUBMIT_CONCURRENCY``; ``default``: the gateway's own) gets a fresh stack, in turn, ``--runs`` times;
medians are printed, so the settings compare in one run. ``--floor`` sends the same burst through the structural
floor (bench/floor.py durable-*) on a fresh stack after each run: the ratio measured in the same run. ``--cpu`` also
prints the CPU each of the stack's own processes used during the burst, per order. A run in which an order ends
``SubmissionFailed`` (its approval expired while it waited) or the ``--timeout`` passes prints the counts. Goals
(issue 16): 1,000 orders at the broker within 2 s on 2 cores, 10,000 within 15 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import nats
from nats.aio.msg import Msg

from tradebus_contracts import encode_event, subject_for

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline import order, running_pipeline  # noqa: E402

STACK = ("order-gateway", "risk-service", "alpaca-sim", "nats-server", "postgres")


def cpu_seconds(root: Path) -> dict[str, float]:
    """User+system CPU seconds so far of the stack's processes, by name (all PostgreSQL backends together): this
    process's descendants and whatever runs from ``root`` (a daemonised postmaster) with its children. Other
    engineers' processes of the same names on a shared machine are not counted."""
    procs: dict[int, tuple[int, str, float]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        procs[int(pid)] = (int(fields[1]), command, (int(fields[11]) + int(fields[12])) / tick)
    ours = {os.getpid()} | {pid for pid, (_, command, _) in procs.items() if str(root) in command}
    while grown := {pid for pid, (parent, _, _) in procs.items() if parent in ours} - ours:
        ours |= grown
    used: dict[str, float] = {}
    for pid in ours - {os.getpid()}:
        _, command, seconds = procs.get(pid, (0, "", 0.0))
        name = next((n for n in STACK if n in command), None)
        if name is not None:
            used[name] = used.get(name, 0.0) + seconds
    return used


class NotAllAtTheBroker(Exception):
    pass


async def burst(nats_url: str, n: int, timeout_s: float) -> tuple[float, float]:
    """Seconds from the first publish to the last approval, and to the last order at the broker. Raises
    `NotAllAtTheBroker` (with the counts) when an order failed instead (e.g. its approval expired while it waited)
    or ``timeout_s`` passed."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    orders = [order() for _ in range(n)]
    ours = {str(o.order_id) for o in orders}
    seen: dict[str, set[str]] = {"approved": set(), "submitted": set(), "failed": set()}
    last = {"approved": 0.0, "submitted": 0.0, "failed": 0.0}
    all_in = asyncio.Event()

    def on(kind: str) -> Callable[[Msg], Awaitable[None]]:
        async def mark(msg: Msg) -> None:  # any JSON with the order's order_id: tradebus events and the floor's alike
            order_id = str(json.loads(msg.data).get("order_id"))
            if order_id in ours and order_id not in seen[kind]:
                seen[kind].add(order_id)
                last[kind] = time.perf_counter()
                if len(seen["submitted"]) + len(seen["failed"]) == n:
                    all_in.set()
        return mark

    await nc.subscribe("risk.approved.>", cb=on("approved"))
    await nc.subscribe("orders.submitted.>", cb=on("submitted"))
    await nc.subscribe("orders.failed.>", cb=on("failed"))
    start = time.perf_counter()
    for chunk in range(0, n, 500):
        acks = [await js.publish_async(subject_for(o), encode_event(o), headers={"Nats-Msg-Id": str(o.event_id)})
                for o in orders[chunk:chunk + 500]]
        await asyncio.gather(*acks)
    try:
        await asyncio.wait_for(all_in.wait(), timeout_s)
    except TimeoutError:
        pass
    finally:
        await nc.drain()
    counts = {k: len(v) for k, v in seen.items()}
    if counts["submitted"] < n:
        raise NotAllAtTheBroker(f"after {time.perf_counter() - start:.1f} s: {counts}")
    return last["approved"] - start, last["submitted"] - start


def floor_burst(args: argparse.Namespace) -> tuple[float, float] | None:
    """The same burst through the structural floor's two stages on a fresh stack (its own simulator)."""
    root = Path(tempfile.mkdtemp(prefix="tradebus-burst-floor-"))
    try:
        with running_pipeline(root, fsync_always=args.fsync_always, pg_no_fsync=False) as stack:
            stack.floor("durable")
            took = asyncio.run(burst(stack.nats_url, args.orders, args.timeout))
    except NotAllAtTheBroker as missed:
        print(f"  structural floor: NOT all at the broker {missed}", flush=True)
        return None
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"  structural floor: approved {took[0]:.2f} s, at the broker {took[1]:.2f} s", flush=True)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--concurrency", default="default",
                        help="GATEWAY_SUBMIT_CONCURRENCY values to compare, e.g. default,8")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fsync-always", action="store_true", help="NATS sync_interval: always, as `tradectl up`")
    parser.add_argument("--cpu", action="store_true", help="CPU per order of each process of the stack")
    parser.add_argument("--floor", action="store_true",
                        help="after each run, the same burst through the structural floor (bench/floor.py durable-*)")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    settings = [c for c in args.concurrency.split(",") if c]
    results: dict[str, list[tuple[float, float]]] = {c: [] for c in settings}
    floors: list[tuple[float, float]] = []
    cpu: dict[str, list[dict[str, float]]] = {c: [] for c in settings}
    for run in range(args.runs):
        for concurrency in settings:
            root = Path(tempfile.mkdtemp(prefix="tradebus-burst-"))
            env = {} if concurrency == "default" else {"GATEWAY_SUBMIT_CONCURRENCY": concurrency}
            try:
                with running_pipeline(root, fsync_always=args.fsync_always, pg_no_fsync=False,
                                      env_extra=env) as stack:
                    before = cpu_seconds(root)
                    try:
                        took = asyncio.run(burst(stack.nats_url, args.orders, args.timeout))
                    except NotAllAtTheBroker as missed:
                        print(f"run {run + 1} concurrency {concurrency}: NOT all at the broker {missed}", flush=True)
                        continue
                    after = cpu_seconds(root)
            finally:
                shutil.rmtree(root, ignore_errors=True)
            results[concurrency].append(took)
            cpu[concurrency].append({n: (after.get(n, 0.0) - before.get(n, 0.0)) * 1000 / args.orders for n in STACK})
            print(f"run {run + 1} concurrency {concurrency}: approved {took[0]:.2f} s, at the broker {took[1]:.2f} s",
                  flush=True)
        if args.floor and (floor := floor_burst(args)) is not None:
            floors.append(floor)
    print(f"\n{args.orders} orders at once; NATS fsync always: {args.fsync_always}; PostgreSQL fsync on; medians of "
          f"{args.runs}")
    print(f"{'gateway concurrency':<22}{'all approved s':>16}{'all at broker s':>17}{'orders/s to broker':>20}")
    for concurrency, runs in results.items():
        if not runs:
            print(f"{concurrency:<22}{'no run got every order to the broker':>53}")
            continue
        approved = statistics.median(r[0] for r in runs)
        at_broker = statistics.median(r[1] for r in runs)
        print(f"{concurrency:<22}{approved:>16.2f}{at_broker:>17.2f}{args.orders / at_broker:>20.0f}")
    if floors:
        approved, at_broker = (statistics.median(f[i] for f in floors) for i in (0, 1))
        print(f"{'structural floor':<22}{approved:>16.2f}{at_broker:>17.2f}{args.orders / at_broker:>20.0f}")
    if args.cpu:
        print("\nCPU ms per order during the burst (user+system, medians):")
        print(f"{'gateway concurrency':<22}" + "".join(f"{n:>15}" for n in STACK) + f"{'all':>9}")
        for concurrency, runs in cpu.items():
            if not runs:
                continue
            per = {n: statistics.median(r[n] for r in runs) for n in STACK}
            print(f"{concurrency:<22}" + "".join(f"{per[n]:>15.2f}" for n in STACK) + f"{sum(per.values()):>9.2f}")


if __name__ == "__main__":
    main()
