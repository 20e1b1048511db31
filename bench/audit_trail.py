"""Benchmark: the audit trail — recorder throughput, one order's replay in a long history, and a full verify.

    .venv/bin/python bench/audit_trail.py --events 1000000 --runs 3     # the documented numbers (~15 minutes)
    .venv/bin/python bench/audit_trail.py --events 20000 --runs 1       # the small version (seconds)

Starts a private NATS (JetStream, file storage) and PostgreSQL (fsync on) from the same wheels as `tradectl up`,
publishes a synthetic history of ``--events`` events (10 per order, ~200 orders interleaved, ~400 bytes each) on
ORDERS while the recorder is down (AUDIT sources it), then:

* **recorder**: the real ``audit-recorder`` process started on that backlog; events/s between its first and its last
  batch (``recorded_at``). Floor, same run: plain nats-py (ephemeral pull consumer, no acks) + one ``COPY`` of
  ``(seq, payload)`` per fetched batch into a bare table: no parsing, no chain, no index.
  ``--runs`` times, the table dropped in between.
* **replay**: `tradectl.replay.history` (the query ``tradectl replay --order`` runs) with each line rendered by
  `tradectl.replay.replay_line`, the function the CLI prints with, for 200 random orders on a warm connection:
  p50/p99 ms, ``--runs`` times (other orders each time), medians. Floor, same run: ``SELECT 1`` on that connection.
* **verify**: ``tradectl audit verify`` as an operator runs it (a new process, the recorder's public key trusted),
  ``--runs`` times. Floor, same run: the same reads with nothing checked — every row (``seq, payload, hash``) in
  50,000-row chunks and every AUDIT message's digest through the bare reader, concurrently. Also shown: the stream
  alone through nats-py's fastest path (ordered push consumer, callback), what the bare reader replaces.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import asyncpg
import nats
from nats.js import api

from audit_recorder.testing import RecorderProcess, wait_recorded
from tradebus_contracts import OrderRequested, OrderStatusChanged, encode_event, subject_for
from tradebus_runtime.bus import ensure_streams
from tradectl.bulk_read import bulk_digests
from tradectl.embedded import EmbeddedNats, EmbeddedPostgres
from tradectl.replay import ReplayQuery, history, replay_line
from tradectl.stream_digests import read_range

BIN = Path(sys.executable).parent
PER_ORDER = 10
INTERLEAVED = 200
STATUSES = ("pending_new", "new", "partially_filled", "partially_filled", "partially_filled", "partially_filled",
            "partially_filled", "partially_filled", "filled")


def order_events(order_id: uuid.UUID) -> list[tuple[str, bytes]]:
    ids = {"producer": "bench", "order_id": order_id, "correlation_id": str(order_id)}
    request = OrderRequested(**ids, symbol="AAPL", side="buy", type="limit", time_in_force="day", qty=Decimal("9"),
                             limit_price=Decimal("187.25"))
    out = [(subject_for(request), encode_event(request))]
    previous = None
    for filled, status in enumerate(STATUSES):
        change = OrderStatusChanged(
            **ids, client_order_id="tb-" + order_id.hex, broker_order_id=str(uuid.uuid5(order_id, "b")),
            symbol="AAPL", previous_status=previous, status=status, filled_qty=Decimal(filled),
            filled_avg_price=Decimal("187.25") if filled else None, source="stream")
        out.append((subject_for(change), encode_event(change)))
        previous = status
    return out


async def publish_history(nats_url: str, events: int) -> list[uuid.UUID]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_streams(js)
    orders: list[uuid.UUID] = []
    for _ in range(0, events // PER_ORDER, INTERLEAVED):
        window = [uuid.uuid4() for _ in range(INTERLEAVED)][: events // PER_ORDER - len(orders)]
        orders += window
        stories = [order_events(o) for o in window]
        batch = [stories[i][k] for k in range(PER_ORDER) for i in range(len(window))]
        acks = [await js.publish_async(subject, data) for subject, data in batch]
        await asyncio.gather(*acks)
    while (await js.stream_info("AUDIT")).state.last_seq < len(orders) * PER_ORDER:
        await asyncio.sleep(0.2)
    await nc.drain()
    return orders


async def recorder_rate(database_url: str) -> float:
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow("SELECT count(*) AS n, min(recorded_at) AS t0, max(recorded_at) AS t1, "
                                  "(SELECT count(*) FROM audit_recorder.events WHERE recorded_at = "
                                  "(SELECT min(recorded_at) FROM audit_recorder.events)) AS first "
                                  "FROM audit_recorder.events")
    finally:
        await conn.close()
    return (row["n"] - row["first"]) / (row["t1"] - row["t0"]).total_seconds()


async def drop_trail(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS audit_recorder CASCADE; DROP TABLE IF EXISTS floor_events")
    finally:
        await conn.close()


async def floor_recorder(nats_url: str, database_url: str, events: int) -> float:
    nc = await nats.connect(nats_url)
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("CREATE TABLE floor_events (seq bigint, payload bytea)")
        sub = await nc.jetstream().pull_subscribe("", stream="AUDIT", config=api.ConsumerConfig(
            ack_policy=api.AckPolicy.NONE, inactive_threshold=30))
        done = 0
        started = 0.0
        while done < events:
            msgs = await sub.fetch(1000, timeout=2)
            records = [(m.metadata.sequence.stream, m.data) for m in msgs]
            async with conn.transaction():
                await conn.copy_records_to_table("floor_events", records=records)
            if not started:
                started, first = time.monotonic(), len(records)
            done += len(records)
        return (done - first) / (time.monotonic() - started)
    finally:
        await conn.close()
        await nc.close()


async def replay_times(database_url: str, orders: list[uuid.UUID], count: int = 200) -> tuple[list[float], float]:
    conn = await asyncpg.connect(database_url)
    lines: list[str | None] = []
    try:
        samples = []
        for order_id in random.sample(orders, min(count, len(orders))):
            started = time.perf_counter()
            await history(conn, ReplayQuery(order_id=str(order_id)),
                          lambda seq, subject, data: lines.append(replay_line(seq, subject, data, False)))
            samples.append((time.perf_counter() - started) * 1000)
        floor = []
        for _ in range(count):
            started = time.perf_counter()
            await conn.fetchval("SELECT 1")
            floor.append((time.perf_counter() - started) * 1000)
    finally:
        await conn.close()
    assert len(lines) == len(samples) * PER_ORDER and all(lines), "every replay renders the whole story"
    return sorted(samples), statistics.median(floor)


def verify_once(env: dict[str, str]) -> float:
    started = time.monotonic()
    result = subprocess.run([str(BIN / "tradectl"), "audit", "verify"], env=env, capture_output=True, text=True)
    took = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"verify failed: {result.stdout}{result.stderr}")
    print(f"    {result.stdout.strip()}  [{took:.2f} s]", flush=True)
    return took


async def verify_floor(nats_url: str, database_url: str, last: int) -> tuple[float, float]:
    """The same reads as verify, nothing checked: every row and every AUDIT digest (the bare reader), concurrently.
    Also, for the record, the whole stream through nats-py's fastest path (what the bare reader replaces)."""
    conn = await asyncpg.connect(database_url)
    try:
        async def rows() -> None:
            for lo in range(1, last + 1, 50_000):
                await conn.fetch("SELECT seq, payload, hash FROM audit_recorder.events WHERE seq BETWEEN $1 AND $2",
                                 lo, lo + 49_999)

        started = time.monotonic()
        await asyncio.gather(rows(), bulk_digests(nats_url, "AUDIT", 1, last))
        floor = time.monotonic() - started
    finally:
        await conn.close()
    nc = await nats.connect(nats_url)
    try:
        started = time.monotonic()
        await read_range(nc.jetstream(), "AUDIT", 1, last, lambda seq, msg: None)
        return floor, time.monotonic() - started
    finally:
        await nc.close()


def median(values: list[float]) -> float:
    return statistics.median(values)


def run(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="tradebus-bench-audit-"))
    server = EmbeddedNats(root / "nats", fsync_always=False)
    pg = EmbeddedPostgres(root / "pg", durable=True)
    try:
        nats_url, database_url = server.start(), pg.start()
        started = time.monotonic()
        orders = asyncio.run(publish_history(nats_url, args.events))
        events = len(orders) * PER_ORDER
        print(f"history: {events:,} events, {len(orders):,} orders, published in {time.monotonic() - started:.0f} s",
              flush=True)
        rates, floors = [], []
        for run_no in range(args.runs):
            asyncio.run(drop_trail(database_url))
            floors.append(asyncio.run(floor_recorder(nats_url, database_url, events)))
            recorder = RecorderProcess(nats_url, database_url, root / "home")
            recorder.start()
            try:
                asyncio.run(recorder.healthy(timeout=60))
                asyncio.run(wait_recorded(nats_url, database_url, timeout=events / 500 + 60))
            finally:
                recorder.stop()
            rates.append(asyncio.run(recorder_rate(database_url)))
            print(f"  run {run_no + 1}: recorder {rates[-1]:,.0f} events/s, floor {floors[-1]:,.0f} events/s",
                  flush=True)
        replays = [asyncio.run(replay_times(database_url, orders)) for _ in range(args.runs)]
        env = {**os.environ, "NATS_URL": nats_url, "DATABASE_URL": database_url, "TRADEBUS_HOME": str(root / "home")}
        verifies, verify_floors, nats_py = [], [], []
        for _ in range(args.runs):
            verifies.append(verify_once(env))
            floor, through_nats_py = asyncio.run(verify_floor(nats_url, database_url, events))
            verify_floors.append(floor)
            nats_py.append(through_nats_py)
    finally:
        pg.stop()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{platform.machine()} {os.cpu_count()} CPU, Python {platform.python_version()}; {events:,} events, "
          f"{args.runs} run(s), medians")
    print(f"recorder: {median(rates):,.0f} events/s (floor {median(floors):,.0f}/s; "
          f"ratio {median(rates) / median(floors):.2f}x); per run {', '.join(f'{r:,.0f}' for r in rates)}")
    p50s = [samples[len(samples) // 2] for samples, _ in replays]
    p99s = [samples[max(0, int(len(samples) * 0.99) - 1)] for samples, _ in replays]
    print(f"replay --order (query + rendered lines, 200 orders per run): p50 {median(p50s):.2f} ms, "
          f"p99 {median(p99s):.2f} ms, max {median([samples[-1] for samples, _ in replays]):.2f} ms "
          f"(floor SELECT 1: {median([select1 for _, select1 in replays]):.2f} ms); "
          f"p50 per run {', '.join(f'{p:.2f}' for p in p50s)}")
    print(f"audit verify: {median(verifies):.2f} s (floor: the same reads, nothing checked "
          f"{median(verify_floors):.2f} s; the stream alone through nats-py {median(nats_py):.2f} s); "
          f"per run {', '.join(f'{v:.2f}' for v in verifies)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=1)
    run(parser.parse_args())
