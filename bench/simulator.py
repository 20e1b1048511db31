"""Benchmark: what one order costs the simulator as orders rest in it (issue 16: 10,000 orders at the broker in 15 s).

    .venv/bin/python bench/simulator.py [--resting 0,1000,10000] [--runs 3] [--samples 200] [--http-samples 50]
                                        [--baseline REF]

The resting orders are what a burst leaves behind (bench/pipeline.py's order: a day limit buy of 1 AAPL at $5, which
never fills), put in the simulator as a saved state, so that setting up 10,000 of them costs the same in every version.
With N of them resting, it times:
  * in process, no HTTP (``alpaca_sim.broker.Broker``): ``submit`` of one more such order; submit and then
    ``match_symbol`` (what the HTTP layer runs for a POST); ``cancel`` of it (so N stays N);
  * over HTTP, against a real simulator process (uvicorn on uvloop, as the `alpaca-sim` command runs; rate limit
    off; the walk ticking every 0.5 s): ``POST /v2/orders`` and ``DELETE /v2/orders/{id}``, one request at a time on
    one kept-alive connection, with the state file (as `tradectl up` runs it: every change saved) and without (as
    bench/pipeline.py runs it).
Each figure is the median over --samples (in process) or --http-samples (HTTP) operations after a warm-up; the table
gives the median over --runs runs. With ``--baseline REF`` the simulator as it was at git commit REF (its sources
taken with ``git archive``, nothing in the checkout changes) takes turns with this checkout's in every run, and the
ratios REF/current per run (and their median) are printed: on a shared machine, compare versions within a run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESTING_PRICE = "5"
WARM_UP = 10
COLUMNS = (  # key, heading, unit scale, format
    ("submit", "submit µs", 1e6, ".0f"),
    ("submit_match", "+match µs", 1e6, ".0f"),
    ("cancel", "cancel µs", 1e6, ".0f"),
    ("post_state", "POST ms", 1e3, ".2f"),
    ("delete_state", "DELETE ms", 1e3, ".2f"),
    ("post", "POST ms", 1e3, ".2f"),
    ("delete", "DELETE ms", 1e3, ".2f"),
)


def order_body() -> dict[str, str]:
    return {
        "symbol": "AAPL",
        "qty": "1",
        "side": "buy",
        "type": "limit",
        "limit_price": RESTING_PRICE,
        "time_in_force": "day",
        "client_order_id": str(uuid.uuid4()),
    }


def resting_state(n: int) -> dict:
    """A saved simulator state with ``n`` resting orders (one placed for real, then copied with fresh ids)."""
    from alpaca_sim.broker import Broker
    from alpaca_sim.persistence import snapshot

    broker = Broker()
    broker.submit(order_body())
    state = snapshot(broker)
    placed = state["orders"][0]
    state["orders"], state["client_order_ids"] = [], {}
    for _ in range(n):
        order = {**placed, "id": str(uuid.uuid4()), "client_order_id": str(uuid.uuid4())}
        state["orders"].append(order)
        state["client_order_ids"][order["client_order_id"]] = order["id"]
    return state


def median_seconds(samples: list[float]) -> float:
    return statistics.median(samples[WARM_UP:])


# ------------------------------------------------------------------------------------------------ workers
def in_process(state_path: Path, samples: int) -> dict[str, float]:
    """Worker: the broker core with the state's orders resting, in this process (the alpaca_sim on the path)."""
    from alpaca_sim.broker import Broker
    from alpaca_sim.persistence import restore

    broker = Broker()
    restore(broker, json.loads(state_path.read_text()))
    submit, submit_match, cancel = [], [], []
    for _ in range(WARM_UP + samples):
        body = order_body()
        started = time.perf_counter()
        order = broker.submit(body)
        submitted = time.perf_counter()
        broker.match_symbol(order.symbol)
        matched = time.perf_counter()
        broker.cancel(order.id)
        canceled = time.perf_counter()
        submit.append(submitted - started)
        submit_match.append(matched - started)
        cancel.append(canceled - matched)
    assert len(broker.orders.open()) == len(broker.orders) - WARM_UP - samples, "a resting order filled"
    return {
        "submit": median_seconds(submit),
        "submit_match": median_seconds(submit_match),
        "cancel": median_seconds(cancel),
    }


def serve(state_path: Path, keep_state: bool) -> None:
    """Worker: a simulator on a free port as the `alpaca-sim` command runs it, its orders from the state file, which
    it saves after every change with ``keep_state`` (--state) and never reads again without; prints its URL."""
    import asyncio
    import socket

    import uvicorn
    import uvloop

    from alpaca_sim.app import SimSettings, create_app
    from alpaca_sim.logs import configure
    from alpaca_sim.persistence import restore

    configure()
    app = create_app(SimSettings(rate_limit=1_000_000_000, state_file=state_path if keep_state else None))
    if not keep_state:
        restore(app.state.sim.broker, json.loads(state_path.read_text()))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))

    async def run() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        print(f"http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
        await task

    uvloop.run(run())


def over_http(env: dict[str, str], state: dict, keep_state: bool, samples: int, tmp: Path) -> dict[str, float]:
    import httpx

    state_path = tmp / f"state-{uuid.uuid4()}.json"
    state_path.write_text(json.dumps(state))
    argv = [sys.executable, str(Path(__file__).resolve()), "--serve", str(state_path)]
    proc = subprocess.Popen(
        argv + (["--keep-state"] if keep_state else []),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = proc.stdout.readline().strip()
        if not url:
            raise SystemExit(f"the simulator did not start: {' '.join(argv)}")
        post, delete = [], []
        with httpx.Client(base_url=url, headers={"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}) as http:
            for _ in range(WARM_UP + samples):
                started = time.perf_counter()
                answer = http.post("/v2/orders", json=order_body())
                posted = time.perf_counter()
                gone = http.delete(f"/v2/orders/{answer.json()['id']}")
                deleted = time.perf_counter()
                if answer.status_code != 200 or gone.status_code != 204:
                    raise SystemExit(f"POST {answer.status_code} {answer.text[:200]}, DELETE {gone.status_code}")
                post.append(posted - started)
                delete.append(deleted - posted)
        key = "_state" if keep_state else ""
        return {"post" + key: median_seconds(post), "delete" + key: median_seconds(delete)}
    finally:
        proc.terminate()
        proc.wait(10)


# ------------------------------------------------------------------------------------------------ the run
def baseline_path(ref: str, into: Path) -> str:
    """alpaca-sim's sources as they were at ``ref`` (``git archive``), unpacked under ``into``; its PYTHONPATH."""
    archive = subprocess.run(
        ["git", "-C", str(HERE.parent), "archive", ref, "alpaca-sim/src"], check=True, capture_output=True
    ).stdout
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return str(into / "alpaca-sim" / "src")


def measure(env: dict[str, str], n: int, args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    state = resting_state(n)
    state_path = tmp / f"resting-{n}.json"
    state_path.write_text(json.dumps(state))
    worker = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--in-process",
            str(state_path),
            "--samples",
            str(args.samples),
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(worker.stdout.strip().splitlines()[-1])
    for keep_state in (True, False):
        result |= over_http(env, state, keep_state, args.http_samples, tmp)
    return result


def run(args: argparse.Namespace) -> None:
    resting = [int(n) for n in args.resting.split(",")]
    print(
        f"Python {platform.python_version()} {platform.machine()}, {os.cpu_count()} CPUs, load average at the start "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )
    results: dict[str, dict[int, list[dict[str, float]]]] = {}
    with tempfile.TemporaryDirectory(prefix="tradebus-bench-sim-") as tmp_dir:
        tmp = Path(tmp_dir)
        versions = {"current": {**os.environ}}
        if args.baseline:
            path = baseline_path(args.baseline, tmp / "baseline")
            versions = {args.baseline: {**os.environ, "PYTHONPATH": path}, **versions}
        for round_no in range(args.runs):
            order = list(versions.items())
            for name, env in order if round_no % 2 == 0 else reversed(order):  # turn about: noise hits both alike
                for n in resting:
                    result = measure(env, n, args, tmp)
                    results.setdefault(name, {}).setdefault(n, []).append(result)
                    shown = ", ".join(f"{key} {result[key] * scale:{spec}}" for key, _, scale, spec in COLUMNS)
                    print(f"run {round_no + 1} {name} {n:,} resting: {shown}", flush=True)
    print(f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    report(results, resting, args)


def report(results: dict[str, dict[int, list[dict[str, float]]]], resting: list[int], args: argparse.Namespace) -> None:
    print(f"\nmedians of {args.runs} run(s); in process: median of {args.samples} each, HTTP: of {args.http_samples}")
    print(f"{'':>28}{'in process (no HTTP)':^30}{'HTTP, --state':^20}{'HTTP, no state':^20}")
    print(f"{'version':<18}{'resting':>10}" + "".join(f"{heading:>10}" for _, heading, _, _ in COLUMNS))
    for name, by_n in results.items():
        for n in resting:
            runs = by_n[n]
            row = "".join(
                f"{statistics.median(r[key] for r in runs) * scale:>10{spec}}" for key, _, scale, spec in COLUMNS
            )
            print(f"{name:<18}{n:>10,}{row}")
    if args.baseline:
        before, after = results[args.baseline], results["current"]
        print(f"\nratio {args.baseline}/current, per run (median):")
        for n in resting:
            shown = []
            for key, heading, _, _ in COLUMNS:
                ratios = [b[key] / a[key] for b, a in zip(before[n], after[n], strict=True)]
                per_run = " / ".join(f"{x:.1f}" for x in ratios)
                shown.append(f"{key} {per_run} ({statistics.median(ratios):.1f}x)")
            print(f"  {n:,} resting: " + ", ".join(shown))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resting", default="0,1000,10000", help="counts of resting orders, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="every count measured afresh this many times; medians")
    parser.add_argument("--samples", type=int, default=200, help="in-process operations timed per count and run")
    parser.add_argument("--http-samples", type=int, default=50, help="HTTP requests of each kind per count and run")
    parser.add_argument("--baseline", metavar="REF", help="also measure alpaca-sim as of git commit REF, turn about")
    parser.add_argument("--in-process", type=Path, help=argparse.SUPPRESS)  # worker: in-process timings of a state
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)  # worker: a simulator with a state's orders
    parser.add_argument("--keep-state", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process:
        print(json.dumps(in_process(args.in_process, args.samples)))
    elif args.serve:
        serve(args.serve, args.keep_state)
    else:
        run(args)


if __name__ == "__main__":
    main()
