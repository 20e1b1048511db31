"""What the gateway's handlers share, built complete once in app.py's bootstrap: the database, the broker adapter,
the outbox, the clock (a fake one in unit tests), the group commit of the submit path, and the orders this process
is submitting right now."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

import asyncpg

from tradebus_runtime.outbox import Outbox

from .broker import Broker
from .group_commit import GroupCommit
from .model import OrderRow

CONFIRMED_KEPT = 10_000


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
    # rows as this process's submits recorded them (the newest CONFIRMED_KEPT): a report that adds nothing to such an
    # older picture of a row adds nothing to it now (broker_reports.adds_nothing), so it needs no read at all
    confirmed: OrderedDict[UUID, OrderRow] = field(default_factory=OrderedDict)

    def remember(self, row: OrderRow) -> None:
        self.confirmed[row.order_id] = row
        self.confirmed.move_to_end(row.order_id)
        while len(self.confirmed) > CONFIRMED_KEPT:
            self.confirmed.popitem(last=False)
