"""The recorder's SQL: one writer connection that holds the writer lock, the head, the identity, a batch.

All writes go through one connection that holds a session advisory lock: a second recorder (a restart racing the
old process, a replica) cannot take it and so cannot write, and when the connection dies the lock goes with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from tradebus_runtime.db import schema_for

from .rows import ROW_COLUMNS, START, AuditRow, Head

WRITER_LOCK = "tradebus-audit-recorder-writer"


class WriterLockHeld(RuntimeError):
    """Another audit-recorder is writing the trail."""


class SequenceTaken(RuntimeError):
    """A row the recorder did not write already sits where the next one goes."""


class Store:
    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self._conn = conn
        self._schema = schema

    @classmethod
    async def open(cls, dsn: str, service: str, *, lock_wait_s: float = 10.0) -> Store:
        """Connect and take the writer lock; waits ``lock_wait_s`` for a killed predecessor's session to end."""
        schema = schema_for(service)
        conn = await asyncpg.connect(dsn, server_settings={"search_path": f'"{schema}"',
                                                           "application_name": f"{service}-writer"})
        deadline = asyncio.get_running_loop().time() + lock_wait_s
        while not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", WRITER_LOCK):
            if asyncio.get_running_loop().time() >= deadline:
                await conn.close()
                raise WriterLockHeld("another audit-recorder holds the writer lock (only one may write the trail)")
            await asyncio.sleep(0.25)
        return cls(conn, schema)

    async def close(self) -> None:
        await self._conn.close()

    @property
    def alive(self) -> bool:
        return not self._conn.is_closed()

    async def head(self) -> tuple[Head, bytes | None]:
        row = await self._conn.fetchrow("SELECT seq, hash, payload FROM events ORDER BY seq DESC LIMIT 1")
        if row is None:
            return START, None
        return Head(row["seq"], bytes(row["hash"])), bytes(row["payload"])

    async def recorded_from(self, stream: str) -> datetime | None:
        return await self._conn.fetchval("SELECT created FROM stream_identity WHERE stream = $1", stream)

    async def remember_stream(self, stream: str, created: datetime) -> None:
        await self._conn.execute("INSERT INTO stream_identity (stream, created) VALUES ($1, $2) "
                                 "ON CONFLICT (stream) DO NOTHING", stream, created)

    async def append(self, rows: Sequence[AuditRow]) -> None:
        """One batch in one transaction: all rows or none (a crash mid-batch leaves the table at its old head)."""
        try:
            async with self._conn.transaction():
                await self._conn.copy_records_to_table("events", schema_name=self._schema, columns=ROW_COLUMNS,
                                                       records=[row.record() for row in rows])
        except asyncpg.UniqueViolationError:
            raise SequenceTaken(f"a row between sequences {rows[0].seq} and {rows[-1].seq} is already in the table: "
                                "someone else wrote the trail") from None
