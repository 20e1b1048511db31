"""What the gateway's handlers share, built complete once in app.py's bootstrap: the database, the broker adapter,
the outbox and the clock (a fake one in unit tests)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import asyncpg

from tradebus_runtime.outbox import Outbox

from .broker import Broker


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True, slots=True)
class Context:
    pool: asyncpg.Pool
    broker: Broker
    outbox: Outbox
    clock: Clock
