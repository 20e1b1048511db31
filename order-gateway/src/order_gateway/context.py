"""What the gateway's handlers share, built complete once in app.py's bootstrap: the database, the broker adapter,
the outbox, the clock (a fake one in unit tests), the group commit of the submit path, and the orders this process
is submitting right now."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

import asyncpg

from tradebus_runtime.outbox import Outbox

from .broker import Broker
from .group_commit import GroupCommit


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
    group: GroupCommit  # the approval path's transactions, committed together with their neighbours'
    # order_id -> set when this process's submit of it is over (approvals.py); a broker report about the order waits
    # for it (followers.follow) instead of racing the submitter to record the same answer
    submitting: dict[UUID, asyncio.Event] = field(default_factory=dict)
