"""``tradectl audit verify [--from SEQ]``: prove the persisted audit trail complete and untampered.

The I/O around `audit_check`: the recorder's table (``audit_recorder.events``, read in chunks by sequence), the
AUDIT stream (digests of each message, read in worker processes for long histories so both sides run at once), the
signed checkpoints (the ``AUDIT_CHECKPOINTS`` stream and the recorder's ``checkpoints.jsonl`` files), verified
against public keys the operator trusts — never against a key that came with the checkpoints.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import asyncpg
import nats
import uvloop
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from tradebus_contracts import InvalidEvent, decode
from tradebus_contracts.audit import CheckpointRejected, verify_checkpoint
from tradebus_contracts.events import AuditCheckpoint
from tradebus_contracts.services import Service
from tradebus_contracts.streams import AUDIT, AUDIT_CHECKPOINTS
from tradebus_runtime.health import ask

from . import access
from .audit_check import (
    STREAM_MISSING,
    CheckpointSeen,
    Finding,
    StreamView,
    Walk,
    checkpoint_findings,
    newest_valid,
)
from .bulk_read import Interrupted
from .stream_digests import digests, digests_in_process, read_range

EVENTS = "audit_recorder.events"
PARALLEL_FROM = 500_000  # shorter ranges are read in this process: starting workers costs more than it saves


class VerifyError(RuntimeError):
    """Verification could not run (nothing reachable, a bad argument): exit code 2, not a verdict."""


@dataclass(frozen=True)
class VerifyOptions:
    database_url: str
    nats_url: str
    trusted: Mapping[str, Ed25519PublicKey]
    checkpoint_files: tuple[Path, ...] = ()
    from_seq: int = 1
    chunk: int = 50_000
    workers: int | None = None  # stream reader processes; None: 2 from PARALLEL_FROM events, else 0 (this process)
    wait_s: float = 5.0  # how long a running recorder may take to catch up with the stream
    progress: TextIO | None = None  # a bar there when it is a terminal and the run is long (``progress_from`` rows)
    progress_from: int = 100_000


@dataclass(frozen=True)
class VerifyReport:
    first_seq: int
    table_head: int
    rows_checked: int
    findings: list[Finding]
    newest_checkpoint: AuditCheckpoint | None
    checkpoints: int

    @property
    def intact(self) -> bool:
        return not self.findings

    def lines(self) -> list[str]:
        if self.findings:
            first, *rest = self.findings
            lines = [f"audit trail FAILED at seq {first.seq}: {first.kind} — {first.detail}"]
            lines += [f"  also seq {f.seq}: {f.kind} — {f.detail}" for f in rest[:5]]
            if len(rest) > 5:
                lines.append(f"  … and {len(rest) - 5} more")
            return lines
        span = (f"seq {self.first_seq}..{self.table_head} ({self.rows_checked} events)" if self.rows_checked
                else "no events yet")
        cp = self.newest_checkpoint
        anchor = (f"head matches the newest signed checkpoint (seq {cp.seq}, {cp.signed_at:%Y-%m-%dT%H:%M:%SZ}, "
                  f"key {cp.key_id})" if cp else "no signed checkpoint yet")
        return [f"audit trail intact: {span}; chain and AUDIT stream match; {anchor}"]


async def verify(opts: VerifyOptions) -> VerifyReport:
    try:
        conn = await access.pg_connect(opts.database_url, timeout=10)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise VerifyError(f"cannot reach the database ({type(exc).__name__}: {exc})") from None
    try:
        nc = await access.nats_connect(opts.nats_url, connect_timeout=5, max_reconnect_attempts=1)
    except Exception as exc:
        await conn.close()
        raise VerifyError(f"cannot reach NATS ({type(exc).__name__}: {exc})") from None
    try:
        return await _verify(opts, conn, nc)
    except (Interrupted, TimeoutError) as exc:
        raise VerifyError(f"reading the AUDIT stream was interrupted ({exc}); run it again") from None
    finally:
        await conn.close()
        await nc.close()


async def _verify(opts: VerifyOptions, conn: asyncpg.Connection, nc: nats.NATS) -> VerifyReport:
    js = nc.jetstream()
    if await conn.fetchval("SELECT to_regclass($1)", EVENTS) is None:
        raise VerifyError("no audit trail in this database (audit-recorder has never run against it)")
    checkpoints = await _checkpoints(js, opts)  # before the head: a checkpoint never claims uncommitted rows
    stream, findings = await _stream_view(js, conn, opts.from_seq)
    table_head = await _table_head(conn, nc, stream, opts.wait_s)
    # the walk covers what the stream held when we started; it compares rows with what it holds now (a running
    # recorder writes on meanwhile, and those rows must not look inserted)
    end = max(table_head, stream.last_seq if stream.comparable else 0)
    if stream.comparable:
        stream = StreamView((await js.stream_info(AUDIT.name)).state.last_seq, True)
    previous = None
    if opts.from_seq > 1:
        previous = await conn.fetchval(f"SELECT hash FROM {EVENTS} WHERE seq = $1", opts.from_seq - 1)
        if previous is None:
            raise VerifyError(f"no row {opts.from_seq - 1} to start from: verify from an earlier sequence")
    walk = Walk.starting_at(opts.from_seq, previous and bytes(previous), table_head, stream,
                            (seen.checkpoint.seq for seen in checkpoints))
    await _walk(opts, conn, walk, end)
    findings += walk.findings + checkpoint_findings(checkpoints, opts.from_seq, table_head, walk.hashes)
    return VerifyReport(opts.from_seq, table_head, walk.rows_checked, sorted(set(findings)), newest_valid(checkpoints),
                        len(checkpoints))


async def _stream_view(js: JetStreamContext, conn: asyncpg.Connection,
                       from_seq: int) -> tuple[StreamView, list[Finding]]:
    recorded_from = await conn.fetchval("SELECT created FROM audit_recorder.stream_identity WHERE stream = $1",
                                        AUDIT.name)
    try:
        info = await js.stream_info(AUDIT.name)
    except NotFoundError:
        return StreamView(0, False), [Finding(from_seq, STREAM_MISSING, "the AUDIT stream does not exist")]
    if recorded_from is not None and info.created != recorded_from:
        return StreamView(info.state.last_seq, False), [Finding(from_seq, STREAM_MISSING, (
            f"the AUDIT stream was deleted and recreated (created {info.created:%Y-%m-%dT%H:%M:%SZ}; the trail was "
            f"recorded from the stream created {recorded_from:%Y-%m-%dT%H:%M:%SZ})"))]
    return StreamView(info.state.last_seq, True), []


async def _table_head(conn: asyncpg.Connection, nc: nats.NATS, stream: StreamView, wait_s: float) -> int:
    """The table's head; when a running recorder is behind the stream, give it ``wait_s`` to catch up first."""
    head = int(await conn.fetchval(f"SELECT coalesce(max(seq), 0) FROM {EVENTS}"))
    if not stream.comparable or head >= stream.last_seq or await ask(nc, Service.AUDIT_RECORDER, 0.5) is None:
        return head
    deadline = time.monotonic() + wait_s
    while head < stream.last_seq and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        head = int(await conn.fetchval(f"SELECT coalesce(max(seq), 0) FROM {EVENTS}"))
    return head


async def _checkpoints(js: JetStreamContext, opts: VerifyOptions) -> list[CheckpointSeen]:
    raw: list[bytes] = []
    try:
        state = (await js.stream_info(AUDIT_CHECKPOINTS.name)).state
    except NotFoundError:
        state = None
    if state is not None and state.messages:
        await read_range(js, AUDIT_CHECKPOINTS.name, state.first_seq, state.last_seq,
                         lambda _seq, msg: raw.append(msg.data))
    for path in opts.checkpoint_files:
        if path.exists():
            raw += [line for line in path.read_bytes().splitlines() if line.strip()]
    seen: dict[tuple[int, str, str], CheckpointSeen] = {}
    for data in raw:
        try:
            checkpoint = decode(data, AuditCheckpoint)
        except InvalidEvent as exc:
            raise VerifyError(f"a checkpoint that is not one: {exc}") from None
        try:
            verify_checkpoint(checkpoint, opts.trusted)
            problem = None
        except CheckpointRejected as exc:
            problem = exc
        seen[(checkpoint.seq, checkpoint.head_hash, checkpoint.signature)] = CheckpointSeen(checkpoint, problem)
    return list(seen.values())


async def _walk(opts: VerifyOptions, conn: asyncpg.Connection, walk: Walk, end: int) -> None:
    chunks = [(lo, min(lo + opts.chunk - 1, end)) for lo in range(opts.from_seq, end + 1, opts.chunk)]
    workers = opts.workers if opts.workers is not None else (2 if end - opts.from_seq >= PARALLEL_FROM else 0)
    last = walk.stream.last_seq
    progress = Progress(opts.progress, end - opts.from_seq + 1, long_run=opts.progress_from)
    with _stream_reader(opts.nats_url, workers) as start:
        pending = [start(lo, min(hi, last)) if walk.stream.comparable and lo <= last else None for lo, hi in chunks]
        for (lo, hi), digests in zip(chunks, pending, strict=True):
            # the table's rows and the stream's digests come in at once: PostgreSQL and NATS work while we parse
            rows, stream_digests = await asyncio.gather(
                conn.fetch(f"SELECT seq, payload, hash FROM {EVENTS} WHERE seq BETWEEN $1 AND $2 ORDER BY seq",
                           lo, hi),
                digests() if digests is not None else _nothing(b"" if walk.stream.comparable else None))
            walk.check_chunk(lo, hi, rows, stream_digests)
            progress.advance(hi - lo + 1)
    progress.done()


async def _nothing(value: bytes | None) -> bytes | None:
    return value


class _stream_reader:
    """``start(lo, hi)`` -> a function that gives the stream's digests: in worker processes the read starts at once
    (so it runs while this process reads the table); in this process it runs when its turn comes."""

    def __init__(self, nats_url: str, workers: int) -> None:
        self._url = nats_url
        self._pool = (ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
                      if workers > 0 else None)
        self._futures: list[asyncio.Future[bytes]] = []

    def __enter__(self) -> Callable[[int, int], Callable[[], Awaitable[bytes]]]:
        return self._start

    def _start(self, lo: int, hi: int) -> Callable[[], Awaitable[bytes]]:
        if self._pool is None:
            return lambda: digests(self._url, AUDIT.name, lo, hi)
        future = asyncio.get_running_loop().run_in_executor(self._pool, digests_in_process, self._url, AUDIT.name,
                                                            lo, hi, access.current())
        self._futures.append(future)
        return lambda: future

    def __exit__(self, *_: object) -> None:
        for future in self._futures:
            future.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


class Progress:
    """A progress bar on a terminal for long runs; silent otherwise."""

    def __init__(self, out: TextIO | None, total: int, *, long_run: int = 100_000) -> None:
        self._out = out if out is not None and total >= long_run and out.isatty() else None
        self._total = max(total, 1)
        self._done = 0
        self._started = time.monotonic()

    def advance(self, count: int) -> None:
        self._done += count
        if self._out is None:
            return
        share = min(self._done / self._total, 1.0)
        bar = "█" * int(share * 30) + "·" * (30 - int(share * 30))
        took = time.monotonic() - self._started
        print(f"\rverifying {bar} {self._done:,}/{self._total:,} ({share:.0%}) {took:.1f} s", end="", file=self._out,
              flush=True)

    def done(self) -> None:
        if self._out is not None:
            print(file=self._out, flush=True)


def run_verify(opts: VerifyOptions, out: TextIO = sys.stdout) -> int:
    try:
        report = uvloop.run(verify(opts))
    except VerifyError as exc:
        print(f"tradectl audit verify: {exc}", file=sys.stderr)
        return 2
    for line in report.lines():
        print(line, file=out)
    return 0 if report.intact else 1
