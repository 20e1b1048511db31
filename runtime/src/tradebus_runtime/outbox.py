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
from collections.abc import Sequence

import asyncpg

from tradebus_contracts import Envelope, encode_event, subject_for

from .bus import Bus
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

_CLAIM_NEXT = """
UPDATE outbox SET claimed_until = now() + make_interval(secs => $2), claimed_by = $3
WHERE id IN (SELECT id FROM outbox
             WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until < now())
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING id, event_id, subject, payload
"""

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
_ANY_UNPUBLISHED = "SELECT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL)"


async def ensure_outbox(conn: asyncpg.Connection) -> None:
    """Create the outbox table in the current schema, or bring an older one up to date (additively); nothing when it
    is complete (asked first: a role that may not create gets through, see `db.migrate`)."""
    if await conn.fetchval("SELECT to_regclass('outbox')") is not None and not set(_ADDED_COLUMNS) - await _columns(conn):
        return
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('tradebus-outbox:' || current_schema()))")
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

    async def publish_now(self, events: Sequence[Envelope]) -> None:
        """Publish events the caller has just committed, in order, without reading them back from the table.

        Only when nothing older is known to be waiting (order on the bus = order of commits in this process);
        otherwise, or if a publish fails, the table decides: `flush` now, or the relay later. Only the events this
        call could claim are published: one another publisher holds, or has published, is left to it.
        """
        if not await self._take_lock(self._handoff_s):
            return
        try:
            if self._clean:
                try:
                    await self._publish_claimed(events)
                except Exception as exc:
                    self._clean = False
                    log.warning("outbox.publish_failed", error=f"{type(exc).__name__}: {exc}")
                return
        finally:
            self._lock.release()
        await self.flush()

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

    async def _publish_claimed(self, events: Sequence[Envelope]) -> None:
        ids = [e.event_id for e in events]
        claimed = {r["event_id"] for r in await self._pool.fetch(_CLAIM_EVENTS, ids, self._lease_s, self._me)}
        published = []
        try:
            for event in events:
                if event.event_id in claimed:
                    await self._bus.publish(event)
                    published.append(event.event_id)
        finally:
            await self._settle(_MARK_EVENTS_PUBLISHED, published, _RELEASE_EVENTS, claimed - set(published))

    async def flush(self, *, patient: bool = False) -> int:
        """Publish every unpublished event no one else holds, in order; returns how many were published. Waits for
        the lock at most ``handoff_s`` (then 0: the rows are left to the publisher at work or the relay), or as long
        as it takes when ``patient``."""
        published = 0
        if not await self._take_lock(None if patient else self._handoff_s):
            return 0
        try:
            self._clean = False
            while True:
                rows = sorted(await self._pool.fetch(_CLAIM_NEXT, self._batch, self._lease_s, self._me),
                              key=lambda r: r["id"])
                if not rows:
                    # another publisher's claims (a replica, a crashed one's until they expire) are not "clean"
                    self._clean = not await self._pool.fetchval(_ANY_UNPUBLISHED)
                    return published
                published += await self._publish_rows(rows)
        finally:
            self._lock.release()

    async def _publish_rows(self, rows: list[asyncpg.Record]) -> int:
        deadline = asyncio.get_running_loop().time() + self._lease_s / 2  # stop well before the claim expires
        done: list[int] = []
        try:
            for row in rows:
                if asyncio.get_running_loop().time() > deadline:
                    break
                await self._bus.publish_encoded(row["subject"], bytes(row["payload"]), row["event_id"])
                done.append(row["id"])
        finally:
            await self._settle(_MARK_PUBLISHED, done, _RELEASE, {r["id"] for r in rows} - set(done))
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
