"""The inbox: which events this service has already taken in, so a redelivery is recognised.

JetStream delivers at least once (a crash between the handler's commit and the ack redelivers the message).
A handler that must act once per event records the event_id in its own schema's ``inbox`` table *in the same
transaction* as its effect; `record` returns False for an event seen before, and the handler skips it.
The service shell creates the table in every service schema at start (`ensure_inbox`).
"""

from __future__ import annotations

import asyncpg

from tradebus_contracts import Envelope as Event

from .db import schema_ddl

INBOX_DDL = """
CREATE TABLE IF NOT EXISTS inbox (
    event_id       uuid PRIMARY KEY,
    event_type     text NOT NULL,
    correlation_id text NOT NULL,
    subject        text NOT NULL,
    payload        jsonb NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now()
)
"""


async def ensure_inbox(conn: asyncpg.Connection) -> None:
    """Create the inbox table in the current schema unless it is there (asked first: see `db.migrate`), under the
    schema's DDL lock (replicas starting together: `db.schema_ddl`)."""
    if await conn.fetchval("SELECT to_regclass('inbox')") is None:
        async with schema_ddl(conn):
            await conn.execute(INBOX_DDL)


async def record(conn: asyncpg.Connection | asyncpg.Pool, event: Event, subject: str, payload: bytes) -> bool:
    """Insert the event into the inbox; False when it was already there (a redelivery or a re-publish)."""
    inserted = await conn.fetchval(
        """INSERT INTO inbox (event_id, event_type, correlation_id, subject, payload)
           VALUES ($1, $2, $3, $4, $5::jsonb)
           ON CONFLICT (event_id) DO NOTHING
           RETURNING true""",
        event.event_id,
        event.event_type,
        event.correlation_id,
        subject,
        payload.decode(),
    )
    return bool(inserted)
