"""``tradectl replay (--order ID | --since T [--until T]) [--type T] [--json]``: history from the audit trail.

Reads the audit recorder's table (``audit_recorder.events``) through its indexes — ``(correlation_id, seq)`` for one
order, ``occurred_at`` for a time window — and prints the events in trail order (AUDIT stream sequence), one line
each in ``tail``'s format, or JSON lines ``{"seq", "subject", "event"}``. ``tail --order`` prints the same history
first (`history`), then follows the AUDIT stream from the next sequence on.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

import asyncpg

from . import access
from .lines import TailFilter, render

EVENTS = "audit_recorder.events"
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True)
class ReplayQuery:
    order_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    event_type: str | None = None

    def sql(self) -> tuple[str, list[Any]]:
        """The query and its arguments: one order by its index, or a time window; always in trail order."""
        if self.order_id is None and self.since is None:
            raise ValueError("replay needs --order or --since")
        conditions = [("correlation_id =", self.order_id), ("occurred_at >=", self.since),
                      ("occurred_at <", self.until), ("event_type =", self.event_type)]
        given = [(test, value) for test, value in conditions if value is not None]
        where = [f"{test} ${number}" for number, (test, _) in enumerate(given, start=1)]
        args = [value for _, value in given]
        return f"SELECT seq, subject, payload FROM {EVENTS} WHERE {' AND '.join(where)} ORDER BY seq", args


def parse_when(text: str, now: datetime) -> datetime:
    """``30m`` / ``2h`` / ``1d`` / ``45s`` ago, or an ISO-8601 time with its zone (``2026-11-24T14:30:00Z``)."""
    relative = _RELATIVE.fullmatch(text.strip())
    if relative:
        return now - timedelta(**{_UNITS[relative.group(2)]: float(relative.group(1))})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not a time: {text!r} (use e.g. 2026-11-24T14:30:00Z, or 30m / 2h / 1d ago)") from None
    if when.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone: add Z (UTC) or an offset such as +01:00")
    return when.astimezone(UTC)


def replay_line(seq: int, subject: str, payload: bytes, as_json: bool) -> str | None:
    """The line ``tradectl replay`` prints for one recorded event (``tail``'s format, or a JSON line with its seq);
    None for one it leaves out. The benchmark renders with it too, so its timing is the CLI's."""
    return render(subject, payload, as_json, TailFilter(), seq=seq)


async def history(conn: asyncpg.Connection, query: ReplayQuery, emit: Callable[[int, str, bytes], None]) -> int:
    """Call ``emit(seq, subject, payload)`` for each event of ``query`` in trail order; return the table's head
    sequence as of the same snapshot (so a follower can go on from ``head + 1`` without a gap or a repeat)."""
    sql, args = query.sql()
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        head = int(await conn.fetchval(f"SELECT coalesce(max(seq), 0) FROM {EVENTS}"))
        async for row in conn.cursor(sql, *args, prefetch=2000):
            emit(row["seq"], row["subject"], bytes(row["payload"]))
    return head


async def replay(database_url: str, query: ReplayQuery, as_json: bool, out: TextIO = sys.stdout) -> int:
    try:
        conn = await access.pg_connect(database_url, timeout=10)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        print(f"tradectl replay: cannot reach the database ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 2
    shown = 0

    def emit(seq: int, subject: str, payload: bytes) -> None:
        nonlocal shown
        line = replay_line(seq, subject, payload, as_json)
        if line is not None:
            print(line, file=out)
            shown += 1

    try:
        await history(conn, query, emit)
    except asyncpg.UndefinedTableError:
        print("tradectl replay: no audit trail in this database (audit-recorder has never run against it)",
              file=sys.stderr)
        return 2
    finally:
        await conn.close()
    if shown == 0:
        print("tradectl replay: no events match", file=sys.stderr)
    return 0


def run_replay(database_url: str, query: ReplayQuery, as_json: bool) -> int:
    return asyncio.run(replay(database_url, query, as_json))
