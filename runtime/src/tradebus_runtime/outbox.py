"""The transactional outbox: an event is written in the same transaction as the state it describes.

Publishing straight after a commit can be lost to a crash between the two. So a service writes the event into
its schema's ``outbox`` table inside the transaction, and after the commit `Outbox.flush` publishes whatever
is unpublished, in order, marking each row. A background relay (`Outbox.relay_forever`) does the same every
``interval`` seconds, which is what publishes the rows a crash left behind. Publishing twice is harmless:
``Nats-Msg-Id`` = ``event_id`` and the streams' duplicate window drop the second copy.
"""

from __future__ import annotations

import asyncio
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
    published_at  timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
"""


async def ensure_outbox(conn: asyncpg.Connection) -> None:
    await conn.execute(OUTBOX_DDL)


async def add(conn: asyncpg.Connection, *events: Envelope) -> None:
    """Queue events for publishing; call inside the transaction that makes them true."""
    await conn.executemany(
        "INSERT INTO outbox (event_id, subject, payload) VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING",
        [(e.event_id, subject_for(e), encode_event(e)) for e in events],
    )


class Outbox:
    def __init__(self, pool: asyncpg.Pool, bus: Bus, *, batch: int = 200) -> None:
        self._pool = pool
        self._bus = bus
        self._batch = batch
        self._lock = asyncio.Lock()
        self._clean = False  # True once a flush found nothing left: then new events need not be read back

    async def publish_now(self, events: Sequence[Envelope]) -> None:
        """Publish events the caller has just committed, in order, without reading them back from the table.

        Only when nothing older is known to be waiting (order on the bus = order of commits in this process);
        otherwise, or if a publish fails, the table decides: `flush` now, or the relay later.
        """
        async with self._lock:
            if self._clean:
                try:
                    for event in events:
                        await self._bus.publish(event)
                except Exception as exc:
                    self._clean = False
                    log.warning("outbox.publish_failed", error=f"{type(exc).__name__}: {exc}")
                    return
                await self._pool.execute(
                    "UPDATE outbox SET published_at = now() WHERE event_id = ANY($1::uuid[]) AND published_at IS NULL",
                    [e.event_id for e in events],
                )
                return
        await self.flush()

    async def flush(self) -> int:
        """Publish every unpublished event in order; returns how many were published."""
        published = 0
        async with self._lock:
            self._clean = False
            while True:
                rows = await self._pool.fetch(
                    "SELECT id, event_id, subject, payload FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1",
                    self._batch,
                )
                if not rows:
                    self._clean = True
                    return published
                done = []
                for row in rows:
                    await self._bus.publish_encoded(row["subject"], bytes(row["payload"]), row["event_id"])
                    done.append(row["id"])
                await self._pool.execute("UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", done)
                published += len(done)

    async def relay_forever(self, interval: float = 1.0) -> None:
        while True:
            try:
                await self.flush()
            except Exception as exc:  # NATS or PostgreSQL away: try again later, the rows wait
                log.warning("outbox.flush_failed", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(interval)
