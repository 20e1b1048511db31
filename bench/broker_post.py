"""Benchmark: what one ``POST /v2/orders`` costs on each layer of the gateway's broker adapter (issue 16).

    .venv/bin/python bench/broker_post.py [--posts 600] [--runs 3]

Starts an alpaca-sim process (rate limit off, no state file, as bench/pipeline.py runs it) and sends it the
pipeline's order (a day limit buy of 1 AAPL at $5, which rests) through five clients in turn, one request at a time,
interleaved so that a noisy moment hits each alike:
  * ``raw``: one kept-alive HTTP/1.1 connection on asyncio streams (bench/floor.py's `KeptAlive`, the structural
    floor's POST) — the least any client can do;
  * ``urllib3``: a urllib3 connection pool, the transport under requests;
  * ``requests``: a ``requests.Session`` with the adapter's settings;
  * ``alpaca-py``: the adapter's alpaca-py ``TradingClient`` called directly (its headers, its error handling);
  * ``adapter``: ``order_gateway.broker.Broker.submit`` — the rate limiter and the worker thread on top.
Prints the median per client per run (after a warm-up) and the median over runs; the differences between rows are
what each layer adds. Results are recorded in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import requests
import urllib3
import uvloop

from order_gateway.broker import Broker, order_body
from tradebus_contracts import OrderFields
from tradectl.embedded import free_port, port_open

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from floor import KeptAlive  # noqa: E402  (the structural floor's own client)

BIN = Path(sys.executable).parent
CLIENTS = ("raw", "urllib3", "requests", "alpaca-py", "adapter")
WARM_UP = 20
ORDER = OrderFields(symbol="AAPL", side="buy", type="limit", time_in_force="day", qty=Decimal(1),
                    limit_price=Decimal(5))
HEADERS = {"APCA-API-KEY-ID": "bench", "APCA-API-SECRET-KEY": "bench"}


async def one_run(port: int, posts: int) -> dict[str, float]:
    """Median ms per POST of each client over ``posts`` POSTs each."""
    url = f"http://127.0.0.1:{port}"
    broker = Broker("bench", "bench", url, paper=True, requests_per_min=10**9, timeout_s=5, workers=8)
    raw = KeptAlive(url)
    pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=8)
    session = requests.Session()
    session.trust_env = False

    async def post(client: str) -> None:
        body = order_body(ORDER, uuid.uuid4().hex)
        if client == "raw":
            await raw.post("/v2/orders", json.dumps(body).encode(), HEADERS)
        elif client == "urllib3":
            answer = pool.urlopen("POST", "/v2/orders", body=json.dumps(body).encode(), retries=False,
                                  headers={**HEADERS, "Content-Type": "application/json"}, timeout=5)
            json.loads(answer.data)
        elif client == "requests":
            answer = session.post(f"{url}/v2/orders", json=body, headers=HEADERS, allow_redirects=False, timeout=5)
            answer.raise_for_status()
            answer.json()
        elif client == "alpaca-py":
            broker._client.post("/orders", body)
        else:
            await broker.submit(ORDER, body["client_order_id"])

    samples: dict[str, list[float]] = {c: [] for c in CLIENTS}
    try:
        for i in range((posts + WARM_UP) * len(CLIENTS)):
            client = CLIENTS[i % len(CLIENTS)]
            start = time.perf_counter()
            await post(client)
            samples[client].append((time.perf_counter() - start) * 1000)
    finally:
        broker.close()
    return {c: statistics.median(v[WARM_UP:]) for c, v in samples.items()}


def main(args: argparse.Namespace) -> None:
    port = free_port()
    sim = subprocess.Popen([str(BIN / "alpaca-sim"), "--port", str(port), "--rate-limit", "1000000"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", port):
            if time.monotonic() > deadline or sim.poll() is not None:
                raise SystemExit("alpaca-sim did not start")
            time.sleep(0.1)
        runs = [uvloop.run(one_run(port, args.posts)) for _ in range(args.runs)]
    finally:
        sim.terminate()
        sim.wait(10)
    print(f"POST /v2/orders to alpaca-sim, one at a time, {args.posts} per client per run; median ms per POST")
    print(f"{'client':<12}" + "".join(f"{'run ' + str(i + 1):>9}" for i in range(len(runs))) + f"{'median':>9}")
    for client in CLIENTS:
        per_run = [run[client] for run in runs]
        print(f"{client:<12}" + "".join(f"{v:>9.3f}" for v in per_run) + f"{statistics.median(per_run):>9.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=600)
    parser.add_argument("--runs", type=int, default=3)
    main(parser.parse_args())
