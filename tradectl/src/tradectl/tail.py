"""``tradectl tail``: live events from the bus, one line each (or JSON lines with --json).

With ``--order ID`` the order's history comes first, from the audit trail (`replay.history`), then the AUDIT stream
is followed from the sequence after the table's head as of that same read: every event after the history arrives
exactly once across the seam, whether the recorder had written it yet or not. Without a reachable audit trail,
``--order`` falls back to live events only and says so.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import TextIO

import asyncpg
import nats
from nats.aio.msg import Msg

from tradebus_contracts.streams import ALL_STREAMS, AUDIT
from tradebus_contracts.subjects import subject_matches

from . import access
from .lines import TailFilter, render
from .replay import ReplayQuery, history
from .stream_digests import read_range

# every subject a stream keeps (``orders.>`` … ``audit.checkpoints``): what the operator's NATS identity may follow
DEFAULT_SUBJECTS = tuple(subject for stream in ALL_STREAMS for subject in stream.subjects)

__all__ = ["DEFAULT_SUBJECTS", "TailFilter", "tail"]


class _Printer:
    def __init__(self, subjects: Sequence[str], flt: TailFilter, as_json: bool, count: int | None,
                 out: TextIO) -> None:
        self.subjects, self.flt, self.as_json, self.count, self.out = subjects, flt, as_json, count, out
        self.shown = 0
        self.done = asyncio.Event()

    def show(self, subject: str, data: bytes, seq: int | None = None) -> None:
        if not any(subject_matches(pattern, subject) for pattern in self.subjects):
            return
        line = render(subject, data, self.as_json, self.flt, seq=seq)
        if line is None or self.done.is_set():
            return
        print(line, file=self.out, flush=True)
        self.shown += 1
        if self.count is not None and self.shown >= self.count:
            self.done.set()


async def tail(
    url: str,
    subjects: Sequence[str],
    flt: TailFilter,
    as_json: bool,
    count: int | None = None,
    out: TextIO = sys.stdout,
    database_url: str | None = None,
) -> int:
    printer = _Printer(subjects, flt, as_json, count, out)

    async def refused(exc: Exception) -> None:  # e.g. a filter the operator's NATS user may not follow: say so
        if "permissions violation" in str(exc):
            print(f"tradectl tail: NATS refused: {exc}", file=sys.stderr, flush=True)

    nc = await access.nats_connect(url, name="tradectl-tail", connect_timeout=5, error_cb=refused)
    try:
        if flt.order_id and database_url:
            head = await _order_history(database_url, flt.order_id, printer)
            if head is not None:
                await _follow_audit(nc, head + 1, printer, url)
                return 0
        await _follow_live(nc, subjects, printer, url)
        if flt.order_id:
            print("tradectl tail: no audit trail reachable: live events only, no history", file=sys.stderr, flush=True)
        await printer.done.wait()
    finally:
        await nc.drain()
    return 0


async def _order_history(database_url: str, order_id: str, printer: _Printer) -> int | None:
    """Print the order's recorded history; the table's head as of that read, or None without an audit trail."""
    try:
        conn = await access.pg_connect(database_url, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return None
    try:
        return await history(conn, ReplayQuery(order_id=order_id),
                             lambda seq, subject, data: printer.show(subject, data, seq))
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await conn.close()


async def _follow_audit(nc: nats.NATS, start_seq: int, printer: _Printer, url: str) -> None:
    if printer.done.is_set():
        return
    follower = asyncio.create_task(read_range(nc.jetstream(), AUDIT.name, start_seq, None,
                                              lambda seq, msg: printer.show(msg.subject, msg.data, seq),
                                              until=printer.done))
    print(f"tailing {', '.join(printer.subjects)} on {url} after the history (Ctrl-C to stop)", file=sys.stderr,
          flush=True)
    await follower


async def _follow_live(nc: nats.NATS, subjects: Sequence[str], printer: _Printer, url: str) -> None:
    async def on_msg(msg: Msg) -> None:
        printer.show(msg.subject, msg.data)

    for subject in subjects:
        await nc.subscribe(subject, cb=on_msg)
    await nc.flush()
    print(f"tailing {', '.join(subjects)} on {url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
