"""The transactional outbox: an event is written in the same transaction as the state it describes.

Publishing straight after a commit can be lost to a crash between the two. So a service writes the event into
its schema's ``outbox`` table inside the transaction, and after the commit `Outbox.flush` publishes whatever
is unpublished, in order, marking each row. A background relay (`Outbox.relay_forever`) does the same every
``interval`` seconds, which is what publishes the rows a crash left behind.

Each row is published once, for every reader. JetStream would keep one copy of a row published twice
(``Nats-Msg-Id`` = ``event_id``, the streams' duplicate window), but core-NATS subscribers (``tradectl tail``, the
ticket's live updates) would see both. So a publisher first *claims* the rows it is about to publish — one
``UPDATE … SET claimed_until = now() + lease, claimed_by = me WHERE … published_at IS NULL AND (claimed_until IS
NULL OR claimed_until < now())``, the rows picked ``FOR UPDATE SKIP LOCKED`` — and publishes only what that
statement returned. Two publishers (`publish_now` and a `flush`, a relay, another replica) can never hold the same
row. A publisher that dies holding claims leaves them to expire: after ``lease_s`` anyone publishes those rows. A
publish that fails releases its remaining claims at once; the ones already published are marked. One way a row
still goes out twice: its publish succeeded and marking it failed (PostgreSQL gone at that instant).

The hot path (`Outbox.add` + `publish_now`) needs no round trip of its own: `Outbox.add` writes the rows already
claimed by this publisher, in the transaction that makes them true (`Outbox.insert_claimed`: in the very statement),
so after the commit `publish_now` sends them from memory — no claim, no read-back. The publishes of one call, and of
concurrent calls, go out without waiting for each other's PubAcks (sent in order, acknowledged together), and the
rows are marked published by a background writer that puts the marks of many calls into one statement (`marked`
waits for it). Within the process, order on the bus is order of commits: everything is sent under one lock, and a
`flush` also takes this process's own claimed rows (never one already in flight), oldest first. A crash between
commit and publish leaves the rows claimed for ``lease_s``; the relay of any replica then publishes them. A row
whose publish went out but whose mark was not written (a crash in between, PostgreSQL gone) goes out again once its
claim expires: JetStream keeps one copy (the duplicate window), core subscribers see two — the one way a row is sent
twice.

A handler never waits long behind another publisher: `publish_now` and `flush` wait at most ``handoff_s`` (0.25 s)
for the publishing lock, then leave their rows to the table — the publisher at work or the relay takes them, in
order. A publish in flight when NATS restarts is never answered and holds the lock until its timeout (5 s); the
handlers (the gateway's submit path) must not stall behind it. The relay itself always waits its turn.

`ensure_outbox` creates the table, or adds the claim columns to an outbox made by an older version (additive: old
rows keep working, a NULL claim is no claim).
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Sequence
from typing import Any

import asyncpg

from tradebus_contracts import Envelope, encode_event, subject_for

from .bus import Bus
from .db import schema_ddl
from .logging import get_logger

log = get_logger(__name__)

OUTBOX_DDL = """
CREATE TABLE IF NOT EXISTS outbox (
    id            bigserial PRIMARY KEY,
    event_id      uuid        NOT NULL UNIQUE,
    subject       text        NOT NULL,
    payload       bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,
    claimed_until timestamptz,
    claimed_by    text
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
"""

# Columns added after the first version of the table, with their types (ALTER only when missing: an ALTER TABLE
# takes an exclusive lock even when it has nothing to do, and a replica starting must not stall the running ones).
_ADDED_COLUMNS = {"claimed_until": "timestamptz", "claimed_by": "text"}

# the next rows no one else holds: unclaimed, claims expired, or claimed by this process and not in flight ($4)
_CLAIM_NEXT = """
UPDATE outbox o SET claimed_until = now() + make_interval(secs => $2), claimed_by = $3
FROM (SELECT id, claimed_by FROM outbox
      WHERE published_at IS NULL
        AND (claimed_until IS NULL OR claimed_until < now() OR (claimed_by = $3 AND NOT event_id = ANY($4::uuid[])))
      ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) picked
WHERE o.id = picked.id
RETURNING o.id, o.event_id, o.subject, o.payload
"""

_ADD_CLAIMED = ("INSERT INTO outbox (event_id, subject, payload, claimed_until, claimed_by) "
                "VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5) ON CONFLICT (event_id) DO NOTHING")

_CLAIM_EVENTS = """
UPDATE outbox SET claimed_until = now() + make_interval(secs => $2), claimed_by = $3
WHERE id IN (SELECT id FROM outbox
             WHERE event_id = ANY($1::uuid[]) AND published_at IS NULL
               AND (claimed_until IS NULL OR claimed_until < now())
             FOR UPDATE SKIP LOCKED)
RETURNING event_id
"""

_MARK_PUBLISHED = "UPDATE outbox SET published_at = now(), claimed_until = NULL WHERE id = ANY($1::bigint[])"
_MARK_EVENTS_PUBLISHED = ("UPDATE outbox SET published_at = now(), claimed_until = NULL "
                          "WHERE event_id = ANY($1::uuid[]) AND published_at IS NULL")
_RELEASE = ("UPDATE outbox SET claimed_until = NULL, claimed_by = NULL "
            "WHERE id = ANY($1::bigint[]) AND claimed_by = $2 AND published_at IS NULL")
_RELEASE_EVENTS = ("UPDATE outbox SET claimed_until = NULL, claimed_by = NULL "
                   "WHERE event_id = ANY($1::uuid[]) AND claimed_by = $2 AND published_at IS NULL")
_ANY_UNPUBLISHED = ("SELECT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL "
                    "AND NOT event_id = ANY($1::uuid[]))")  # rows in flight here are not waiting
MARK_RETRY_S = 1.0


async def ensure_outbox(conn: asyncpg.Connection) -> None:
    """Create the outbox table in the current schema, or bring an older one up to date (additively); nothing when it
    is complete (asked first: a role that may not create gets through, see `db.migrate`)."""
    if await conn.fetchval("SELECT to_regclass('outbox')") is not None and not set(_ADDED_COLUMNS) - await _columns(conn):
        return
    async with schema_ddl(conn):  # replicas starting together: each creates or adds once
        await conn.execute(OUTBOX_DDL)
        present = await _columns(conn)
        for column, sql_type in _ADDED_COLUMNS.items():
            if column not in present:
                await conn.execute(f"ALTER TABLE outbox ADD COLUMN IF NOT EXISTS {column} {sql_type}")


async def _columns(conn: asyncpg.Connection) -> set[str]:
    return {r["column_name"] for r in await conn.fetch(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = 'outbox'")}


async def add(conn: asyncpg.Connection, *events: Envelope) -> None:
    """Queue events for publishing; call inside the transaction that makes them true."""
    await conn.executemany(
        "INSERT INTO outbox (event_id, subject, payload) VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING",
        [(e.event_id, subject_for(e), encode_event(e)) for e in events],
    )


def _publisher_id(service: str) -> str:
    return f"{service}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Outbox:
    def __init__(self, pool: asyncpg.Pool, bus: Bus, *, batch: int = 200, lease_s: float = 30.0,
                 handoff_s: float = 0.25) -> None:
        self._pool = pool
        self._bus = bus
        self._batch = batch
        self._lease_s = lease_s
        self._handoff_s = handoff_s
        self._me = _publisher_id(bus.service)
        self._lock = asyncio.Lock()
        self._clean = False  # True once a flush found nothing left: then new events need not be read back
        self._claimed_at_add: set[uuid.UUID] = set()  # added claimed by `add`, not yet published by this process
        self._in_flight: set[uuid.UUID] = set()  # sent, not yet marked published
        self._to_mark: list[uuid.UUID] = []
        self._marking: asyncio.Task[None] | None = None
        self._marks_done = asyncio.Event()
        self._marks_done.set()

    async def add(self, conn: asyncpg.Connection, *events: Envelope) -> None:
        """Queue events for `publish_now` inside the transaction that makes them true, already claimed by this
        publisher: after the commit they go out from memory, with no claim round trip."""
        await conn.executemany(_ADD_CLAIMED, [(e.event_id, subject_for(e), encode_event(e), self._lease_s, self._me)
                                              for e in events])
        self.claimed(events)

    def insert_claimed(self, events: Sequence[Envelope], first: int, only_if: str) -> tuple[str, list[object]]:
        """`add` as part of one statement that also writes the change the events describe (a data-modifying
        ``WITH``): the ``INSERT`` of ``events``, already claimed by this publisher, taking effect only where
        ``only_if`` holds (the change happened), and its parameters, numbered from ``$first``. Once that statement
        has committed the events, `claimed` hands them to `publish_now`."""
        sql = ("INSERT INTO outbox (event_id, subject, payload, claimed_until, claimed_by) "
               f"SELECT e.event_id, e.subject, e.payload, now() + make_interval(secs => ${first + 3}), ${first + 4} "
               f"FROM unnest(${first}::uuid[], ${first + 1}::text[], ${first + 2}::bytea[]) "
               "AS e(event_id, subject, payload) "
               f"WHERE {only_if} ON CONFLICT (event_id) DO NOTHING")
        return sql, [[e.event_id for e in events], [subject_for(e) for e in events], [encode_event(e) for e in events],
                     self._lease_s, self._me]

    def claimed(self, events: Sequence[Envelope]) -> None:
        """Events that a statement from `insert_claimed` committed: `publish_now` sends them from memory."""
        self._claimed_at_add.update(e.event_id for e in events)

    async def publish_now(self, events: Sequence[Envelope]) -> None:
        """Publish events the caller has just committed, in order, without reading them back from the table.

        Only when nothing older is known to be waiting (order on the bus = order of commits in this process);
        otherwise, or if a publish fails, the table decides: `flush` now, or the relay later. Events written by
        `Outbox.add` are this publisher's already; others are claimed first, and only the ones this call could claim
        are published: one another publisher holds, or has published, is left to it. Returns once the events are
        sent and acknowledged; their rows are marked published in the background (`marked`).
        """
        if not await self._take_lock(self._handoff_s):
            await self._give_back([e.event_id for e in events if e.event_id in self._claimed_at_add])
            return
        try:
            if not self._clean:
                await self._flush_locked()  # takes this process's claimed rows too, oldest first
                self._claimed_at_add.difference_update(e.event_id for e in events)
                return
            sending = await self._claim(events)
        finally:
            self._lock.release()
        acked = await self._acknowledged(sending)
        self._mark(acked)
        went_out = set(acked)
        lost = [e.event_id for e, _ in sending if e.event_id not in went_out]
        if lost:
            self._clean = False
            self._in_flight.difference_update(lost)
            await self._give_back(lost)

    async def _claim(self, events: Sequence[Envelope]) -> list[tuple[Envelope, asyncio.Future[Any]]]:
        """Under the lock: the events that are ours to send (claimed at `add`, or claimed now), sent in order."""
        others = [e.event_id for e in events if e.event_id not in self._claimed_at_add]
        claimed = {r["event_id"] for r in await self._pool.fetch(_CLAIM_EVENTS, others, self._lease_s, self._me)} \
            if others else set()
        ours = [e for e in events if e.event_id in self._claimed_at_add or e.event_id in claimed]
        self._claimed_at_add.difference_update(e.event_id for e in events)
        return list(zip(ours, await self._send(
            [(subject_for(e), encode_event(e), e.event_id) for e in ours]), strict=True))

    async def _send(self, rows: list[tuple[str, bytes, uuid.UUID]]) -> list[asyncio.Future[Any]]:
        """Start the publishes in order and return once they are on the connection (not acknowledged).

        Each publish is a task, started in order; nats-py puts a publish on the connection's buffer before its first
        real suspension, so one turn of the loop sends them in the order they were started, under the lock."""
        futures: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(self._publish(subject, payload, event_id)) for subject, payload, event_id in rows]
        self._in_flight.update(event_id for _, _, event_id in rows)
        await asyncio.sleep(0)
        return futures

    def _publish(self, subject: str, payload: bytes, event_id: uuid.UUID) -> Awaitable[Any]:
        return self._bus.publish_encoded(subject, payload, event_id)

    @staticmethod
    async def _acknowledged(sending: list[tuple[Envelope, asyncio.Future[Any]]]) -> list[uuid.UUID]:
        outcomes = await asyncio.gather(*(f for _, f in sending), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                log.warning("outbox.publish_failed", error=f"{type(outcome).__name__}: {outcome}")
        return [e.event_id for (e, _), outcome in zip(sending, outcomes, strict=True)
                if not isinstance(outcome, BaseException)]

    async def _give_back(self, event_ids: list[uuid.UUID]) -> None:
        """Release this process's claims on rows it will not publish now: the next flush or relay takes them."""
        self._claimed_at_add.difference_update(event_ids)
        if not event_ids:
            return
        self._clean = False
        try:
            await self._pool.execute(_RELEASE_EVENTS, event_ids, self._me)
        except Exception as exc:  # the claims expire by themselves
            log.warning("outbox.release_failed", error=f"{type(exc).__name__}: {exc}")

    def _mark(self, event_ids: list[uuid.UUID]) -> None:
        """Mark published in the background: one statement for the marks of every call since the last one."""
        if not event_ids:
            return
        self._to_mark.extend(event_ids)
        self._marks_done.clear()
        if self._marking is None or self._marking.done():
            self._marking = asyncio.create_task(self._write_marks(), name="outbox:marks")

    async def _write_marks(self) -> None:
        while self._to_mark:
            batch, self._to_mark = self._to_mark, []
            try:
                await self._pool.execute(_MARK_EVENTS_PUBLISHED, batch)
            except Exception as exc:  # PostgreSQL away: try again; past the lease the rows would go out twice
                log.warning("outbox.mark_failed", error=f"{type(exc).__name__}: {exc}")
                self._to_mark = batch + self._to_mark
                await asyncio.sleep(MARK_RETRY_S)
                continue
            self._in_flight.difference_update(batch)
        self._marks_done.set()

    async def marked(self) -> None:
        """Wait until every row published so far is marked published (tests; shutdown)."""
        await self._marks_done.wait()

    async def _take_lock(self, wait_s: float | None) -> bool:
        """The publishing lock within ``wait_s`` (None: however long). Not taken: the rows just committed stay
        for the publisher at work or the relay, and until a flush finds the table empty nothing newer may jump
        them (``_clean`` off)."""
        try:
            await asyncio.wait_for(self._lock.acquire(), wait_s)
        except TimeoutError:
            self._clean = False
            log.info("outbox.handed_off", waited_s=wait_s)
            return False
        return True

    async def flush(self, *, patient: bool = False) -> int:
        """Publish every unpublished event no one else holds, in order; returns how many were published. Waits for
        the lock at most ``handoff_s`` (then 0: the rows are left to the publisher at work or the relay), or as long
        as it takes when ``patient``."""
        if not await self._take_lock(None if patient else self._handoff_s):
            return 0
        try:
            return await self._flush_locked()
        finally:
            self._lock.release()

    async def _flush_locked(self) -> int:
        published = 0
        self._clean = False
        while True:
            rows = sorted(await self._pool.fetch(_CLAIM_NEXT, self._batch, self._lease_s, self._me,
                                                 list(self._in_flight)), key=lambda r: r["id"])
            if not rows:
                # another publisher's claims (a replica, a crashed one's until they expire) are not "clean"
                self._clean = not await self._pool.fetchval(_ANY_UNPUBLISHED, list(self._in_flight))
                return published
            self._claimed_at_add.difference_update(r["event_id"] for r in rows)
            published += await self._publish_rows(rows)

    async def _publish_rows(self, rows: list[asyncpg.Record]) -> int:
        """Send the rows in order, all at once, then mark what went out and give back the claims on the rest (and
        raise the first failure)."""
        futures = await self._send([(r["subject"], bytes(r["payload"]), r["event_id"]) for r in rows])
        outcomes = await asyncio.gather(*futures, return_exceptions=True)  # each publish has its own timeout
        done = [r["id"] for r, o in zip(rows, outcomes, strict=True) if not isinstance(o, BaseException)]
        self._in_flight.difference_update(r["event_id"] for r in rows)
        await self._settle(_MARK_PUBLISHED, done, _RELEASE, {r["id"] for r in rows} - set(done))
        failure = next((o for o in outcomes if isinstance(o, BaseException)), None)
        if failure is not None:
            raise failure
        return len(done)

    async def _settle(self, mark_sql: str, published: list[object], release_sql: str, unpublished: set[object]) -> None:
        """Mark what went out; give back the claims on what did not, so that the next flush needs no lease to end."""
        if published:
            await self._pool.execute(mark_sql, published)
        if unpublished:
            try:
                await self._pool.execute(release_sql, list(unpublished), self._me)
            except Exception as exc:  # the claims expire by themselves
                log.warning("outbox.release_failed", error=f"{type(exc).__name__}: {exc}")

    async def relay_forever(self, interval: float = 1.0) -> None:
        while True:
            try:
                await self.flush(patient=True)
            except Exception as exc:  # NATS or PostgreSQL away: try again later, the rows wait
                log.warning("outbox.flush_failed", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(interval)
