"""Benchmark: signed fill webhooks into webhook-ingest, against a floor, side by side in one run.

    .venv/bin/python bench/webhooks.py [--webhooks 10000] [--connections 16] [--latency-webhooks 500]

Starts a private NATS (JetStream) and PostgreSQL from the same wheels as `tradectl up`, then for each receiver in turn
(the real `webhook-ingest` process, as deployed: LOG_LEVEL=info; the floor below), each its own process:
  * latency: one webhook in flight, request sent -> answer read, p50/p99 over --latency-webhooks (after 100 warm-up);
  * sustained: --webhooks webhooks over --connections keep-alive connections, all in flight at once; the rate between
    the first request and the last answer, p50/p99 of each webhook's accept latency under that load, and the
    receiver's CPU (user+system) per webhook.
Every webhook is a distinct delivery (its own webhook-id) of an alpaca-sim fill, signed beforehand with the official
`standardwebhooks` library, so the timing covers the receiver's whole path: verify, remember, publish, PubAck.

The floor (``python bench/webhooks.py floor PORT NATS_URL SECRET``) does the least a receiver can: uvicorn + a bare
ASGI function, read the body, one HMAC-SHA256 check, a JetStream publish with Nats-Msg-Id, wait for the PubAck,
answer 200. No header checks, no JSON, no model, no database, no logging.

The load generator is the plain asyncio HTTP/1.1 client of ``webhook_ingest.testing`` in this process (an HTTP
library would cost more CPU than the receiver on a 2-core box); it shares the machine with the receiver, NATS and
PostgreSQL, as on one host in production.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import nats
import psutil
import uvloop

from tradebus_runtime.bus import ensure_streams
from tradectl.embedded import EmbeddedNats, EmbeddedPostgres, free_port, port_open
from webhook_ingest.testing import WebhookIngestProcess, new_secret, raw_post, send_all, signed_headers

HERE = Path(__file__).resolve()
WARM_UP = 100


def fill_body() -> bytes:
    """An alpaca-sim fill, as the simulator POSTs it (about 900 bytes)."""
    order_id, execution_id, now = uuid.uuid4(), str(uuid.uuid4()), datetime.now(UTC).isoformat()
    order = {"id": str(uuid.uuid4()), "client_order_id": "tb-" + order_id.hex, "created_at": now, "updated_at": now,
             "submitted_at": now, "filled_at": now, "asset_class": "us_equity", "symbol": "AAPL", "qty": "1",
             "notional": None, "filled_qty": "1", "filled_avg_price": "187.30", "order_class": "simple",
             "order_type": "market", "type": "market", "side": "buy", "time_in_force": "day", "limit_price": None,
             "stop_price": None, "status": "filled", "extended_hours": False, "legs": None}
    return json.dumps({"event": "fill", "timestamp": now, "order": order, "execution_id": execution_id, "qty": "1",
                       "price": "187.30", "position_qty": "1"}).encode()


def request_bytes(url: str, secret: str) -> bytes:
    body = fill_body()
    return raw_post(url, body, signed_headers(body, secret))


async def drive(url: str, requests: list[bytes], connections: int) -> tuple[list[float], float, dict[int, int]]:
    """Send ``requests`` over ``connections`` keep-alive connections; (latencies ms, elapsed s, count by status)."""
    started = time.perf_counter()
    answers = await send_all(url, requests, connections)
    elapsed = time.perf_counter() - started
    statuses: dict[int, int] = {}
    for answer in answers:
        statuses[answer.status] = statuses.get(answer.status, 0) + 1
    return [a.seconds * 1000 for a in answers], elapsed, statuses


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, int(len(ordered) * q) - 1)]


def measure(name: str, port: int, pid: int, secret: str, args: argparse.Namespace) -> dict[str, float]:
    url = f"http://127.0.0.1:{port}/webhooks/fills"
    warm = [request_bytes(url, secret) for _ in range(WARM_UP)]
    single = [request_bytes(url, secret) for _ in range(args.latency_webhooks)]
    load = [request_bytes(url, secret) for _ in range(args.webhooks)]
    uvloop.run(drive(url, warm, 4))
    lat, _, statuses = uvloop.run(drive(url, single, 1))
    process = psutil.Process(pid)
    cpu_before = sum(process.cpu_times()[:2])
    loaded, elapsed, load_statuses = uvloop.run(drive(url, load, args.connections))
    cpu = (sum(process.cpu_times()[:2]) - cpu_before) * 1000 / len(load)
    if set(statuses) | set(load_statuses) != {200}:
        raise SystemExit(f"{name}: not every webhook was accepted: {statuses} {load_statuses}")
    return {"p50_1": statistics.median(lat), "p99_1": pct(lat, 0.99), "rate": len(load) / elapsed,
            "p50_n": statistics.median(loaded), "p99_n": pct(loaded, 0.99), "cpu": cpu}


def run(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="tradebus-bench-"))
    server = EmbeddedNats(root / "nats", fsync_always=args.fsync_always)
    pg = EmbeddedPostgres(root / "pg", durable=not args.pg_no_fsync)
    secret = new_secret()
    results: dict[str, dict[str, float]] = {}
    try:
        nats_url, database_url = server.start(), pg.start()
        uvloop.run(declare_streams(nats_url))
        port = free_port()
        ingest = WebhookIngestProcess(nats_url, database_url, port, root / "webhook-ingest.log", [secret],
                                      {"LOG_LEVEL": args.log_level}).start()
        try:
            uvloop.run(ingest.healthy(30))
            results["webhook-ingest"] = measure("webhook-ingest", port, ingest.proc.pid, secret, args)
        finally:
            ingest.stop()
        port = free_port()
        floor = subprocess.Popen([sys.executable, str(HERE), "floor", str(port), nats_url, secret],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            while not port_open("127.0.0.1", port):
                time.sleep(0.05)
            results["floor"] = measure("floor", port, floor.pid, secret, args)
        finally:
            floor.terminate()
            floor.wait(10)
    finally:
        pg.stop()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    report(results, args)


async def declare_streams(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    await ensure_streams(nc.jetstream())
    await nc.drain()


def report(results: dict[str, dict[str, float]], args: argparse.Namespace) -> None:
    print(f"\nNATS fsync always: {args.fsync_always}; PostgreSQL fsync: {not args.pg_no_fsync}; "
          f"webhook-ingest LOG_LEVEL={args.log_level}; {args.latency_webhooks} timed singly, {args.webhooks} over "
          f"{args.connections} connections")
    print(f"{'receiver':<16}{'1: p50 ms':>11}{'p99 ms':>9}{'webhooks/s':>12}{'N: p50 ms':>11}{'p99 ms':>9}"
          f"{'CPU ms/webhook':>16}")
    for name, r in results.items():
        print(f"{name:<16}{r['p50_1']:>11.2f}{r['p99_1']:>9.2f}{r['rate']:>12.0f}{r['p50_n']:>11.2f}{r['p99_n']:>9.2f}"
              f"{r['cpu']:>16.3f}")
    real, floor = results["webhook-ingest"], results["floor"]
    print(f"ratio webhook-ingest/floor: p50 {real['p50_1'] / floor['p50_1']:.2f}x, throughput "
          f"{real['rate'] / floor['rate']:.2f}x, CPU/webhook {real['cpu'] / floor['cpu']:.2f}x")


def floor_server(port: int, nats_url: str, secret: str) -> None:
    """The floor receiver (see the module docstring), as its own process."""
    import uvicorn

    key = base64.b64decode(secret.removeprefix("whsec_"))

    async def serve() -> None:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()

        async def app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
            if scope["type"] != "http":
                return
            body, more = b"", True
            while more:
                message = await receive()
                body, more = body + message.get("body", b""), message.get("more_body", False)
            headers = dict(scope["headers"])
            webhook_id, timestamp = headers[b"webhook-id"], headers[b"webhook-timestamp"]
            expected = base64.b64encode(hmac.new(key, webhook_id + b"." + timestamp + b"." + body,
                                                 hashlib.sha256).digest())
            ok = any(hmac.compare_digest(expected, s.split(b",", 1)[-1]) for s in headers[b"webhook-signature"].split())
            if ok:
                await js.publish("broker.trade_updates.AAPL", body, headers={"Nats-Msg-Id": webhook_id.decode()})
            await send({"type": "http.response.start", "status": 200 if ok else 401,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")]})
            await send({"type": "http.response.body", "body": b"{}"})

        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                                lifespan="off")
        await uvicorn.Server(config).serve()

    uvloop.run(serve())


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "floor":
        floor_server(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--webhooks", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--latency-webhooks", type=int, default=500)
    parser.add_argument("--log-level", default="info", help="webhook-ingest LOG_LEVEL (info = as deployed)")
    parser.add_argument("--fsync-always", action="store_true", help="NATS sync_interval: always, as `tradectl up`")
    parser.add_argument("--pg-no-fsync", action="store_true", help="PostgreSQL with fsync off (to see its share)")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    run(parser.parse_args())
