"""Transactions of concurrent handlers committed together (group commit): one BEGIN, one COMMIT — one WAL flush —
for the orders whose approvals are being worked on at the same moment.

Each handler hands its transaction's work (``work(conn)``) to `GroupCommit.run` and gets its result back once the
transaction that held it committed. One writer runs the queued work back to back in one transaction, so what queues
while a transaction commits goes into the next one: one order alone costs what it did (plus a task hop); many at
once share the round trips of BEGIN and COMMIT and the fsync. Each piece of work still locks its own order's row
first, as it would alone, so per-order serialisation with cancels, the stream and polling is unchanged.

One piece of work failing must not fail the others: the batch is rolled back and each piece runs again alone, in a
transaction of its own. So work must have no effect outside its transaction that a second run would repeat wrongly
(the events it writes are only published after the commit, by the caller).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from tradebus_runtime import get_logger

log = get_logger(__name__)
T = TypeVar("T")
Work = Callable[[asyncpg.Connection], Awaitable[Any]]


class GroupCommit:
    def __init__(self, pool: asyncpg.Pool, max_batch: int = 32) -> None:
        self._pool = pool
        self._max_batch = max_batch
        self._queue: list[tuple[Work, asyncio.Future[Any]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def run(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """``work(conn)`` inside a transaction shared with the work queued beside it; its result once committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((work, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="gateway:group-commit")
        return await future

    async def _write(self) -> None:
        while self._queue:
            batch = [(w, f) for w, f in self._queue[:self._max_batch] if not f.done()]
            del self._queue[:self._max_batch]
            if len(batch) > 1 and await self._together(batch):
                continue
            for work, future in batch:
                await self._alone(work, future)

    async def _together(self, batch: list[tuple[Work, asyncio.Future[Any]]]) -> bool:
        results = []
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                for work, _ in batch:
                    results.append(await work(conn))
        except Exception as exc:  # whose it was is not known: each again, alone
            log.info("gateway.group_commit_split", orders=len(batch), error=f"{type(exc).__name__}: {exc}"[:300])
            return False
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
        return True

    async def _alone(self, work: Work, future: asyncio.Future[Any]) -> None:
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                result = await work(conn)
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
        else:
            if not future.done():
                future.set_result(result)
