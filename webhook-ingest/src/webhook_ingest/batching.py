"""Coalescing concurrent calls into one round trip (opportunistic batching).

Each caller hands one item and awaits its own result. The first item starts a flush at once (no timer, so a lone
webhook waits for nothing); items that arrive while a flush is in flight form the next batch, flushed as soon as the
previous one returns. Under load the batches grow by themselves: one database round trip (and one commit, one fsync)
for many webhooks instead of one each. A failed flush fails every caller of that batch with its exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_BATCH = 256


class Batcher(Generic[T, R]):
    def __init__(self, flush: Callable[[Sequence[T]], Awaitable[Sequence[R]]], max_batch: int = MAX_BATCH) -> None:
        self._flush = flush
        self._max_batch = max_batch
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._in_flight: list[tuple[T, asyncio.Future[R]]] = []
        self._running: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._running is None:
            self._running = asyncio.create_task(self._drain())
            self._running.add_done_callback(self._stopped)
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            self._in_flight = self._waiting[:self._max_batch]
            self._waiting = self._waiting[self._max_batch:]
            try:
                results = list(await self._flush([item for item, _ in self._in_flight]))
                if len(results) != len(self._in_flight):
                    raise RuntimeError(f"a flush answered {len(results)} results for {len(self._in_flight)} items")
            except Exception as exc:  # every caller of this batch gets the failure; the next batch still runs
                _settle(self._in_flight, exc)
                continue
            for (_, future), result in zip(self._in_flight, results, strict=True):
                if not future.done():
                    future.set_result(result)
        self._in_flight = []
        self._running = None  # no await since the loop's last check: an item added now starts a new drain

    def _stopped(self, task: asyncio.Task[None]) -> None:
        """A drain that did not finish normally (cancelled at shutdown, maybe before it ever ran, or broken): nobody
        may wait forever, and the next item must start a new drain."""
        if task.cancelled():
            error: BaseException = ConnectionAbortedError("shutting down")
        elif task.exception() is not None:
            error = task.exception()  # type: ignore[assignment]
        else:
            return
        _settle(self._in_flight + self._waiting, error)
        self._in_flight, self._waiting = [], []
        if self._running is task:
            self._running = None


def _settle(waiting: list, exc: BaseException) -> None:
    for _, future in waiting:
        if not future.done():
            future.set_exception(exc)
