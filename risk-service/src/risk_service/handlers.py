"""The consumers of risk-service (the I/O edge around ``batch`` and ``book``): persist and publish each batch of
decisions, keep the book's working orders and fills true, refresh the book from PostgreSQL.

Per fetched batch of ``OrderRequested`` (up to 64): the checks in memory (``batch.plan_batch``), one INSERT of all
new decisions, a look-up of stored decisions only for the order_ids that insert found already decided, then the
publishes (concurrently), then the acks. No thread hop, no per-message database round trip. A decision is stored
before it is published, so a redelivery is answered with the stored event, byte for byte.

Fills arrive on their own consumer, so a request can overtake a fill published before it: a trader sells the shares
a buy has just filled, and the book does not hold that fill yet. A batch with a refusal that a fill may lift
(``checks.LIFTED_BY_FILLS``) is therefore taken back and decided again once the fill consumer has nothing pending
(bounded by ``FILLS_CATCH_UP_S``); the common batch pays nothing for it.

Every change to the book is made under one lock together with the database write that records it (the batch's
insert, an order's end, a fill), and the refresh loads the book under the same lock: so a refresh sees a change
either both in PostgreSQL and in memory, or in neither, and never applies one twice. The one exception is an order
submitted: its row is written before the lock is taken (so the next decision does not wait for that commit) and
the book is changed under it; ``Book.record_submitted`` is idempotent, so a refresh in between is harmless. The
order outcomes come a fetched batch at a time: the ``OrderSubmitted`` of a burst are written in one statement.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from nats.aio.msg import Msg

from tradebus_contracts import FillReported, OrderSubmitted, RiskApproved
from tradebus_contracts.envelope import Envelope, utc_now
from tradebus_contracts.trading_day import trading_day_start
from tradebus_runtime import Bus, PoisonMessage, expect, get_logger
from tradebus_runtime.crashpoints import crash_point

from .batch import BatchPlan, Outcome, Poison, Publish, Retry, plan_batch, take_back
from .booking import ClosingEvent, FillSeen, closes_approval, filled_at_close, gave_up
from .checks import LIFTED_BY_FILLS
from .decider import Decider
from .model import DecisionEvent
from .store import DecisionStore

log = get_logger(__name__)
FILL_LOOKBACK = timedelta(days=1)  # fills loaded when no settled snapshot is known yet
FILLS_CATCH_UP_S = 2.0  # the longest a batch with a refusal a fill may lift waits for the fill consumer


class RiskHandlers:
    """What the consumers share: the decider's book, read and changed by one coroutine at a time, and its store."""

    def __init__(self, bus: Bus, store: DecisionStore, decider: Decider, refresh_every_s: float,
                 settled_floor: Callable[[], datetime | None], clock: Callable[[], datetime] = utc_now,
                 confirm_state: Callable[[], Awaitable[object]] | None = None,
                 fills_pending: Callable[[], Awaitable[int]] | None = None) -> None:
        self._bus = bus
        self._fills_pending = fills_pending  # fills published and not yet handled by ``on_fill`` (consumer info)
        self._confirm_state = confirm_state  # reads the kill switch again after a reconnect (TradingStateFollower)
        self._settled_floor = settled_floor
        self._store = store
        self._decider = decider
        self._book = decider.book
        self._refresh_every_s = refresh_every_s
        self._clock = clock
        self._lock = asyncio.Lock()

    async def refresh_book(self) -> None:
        async with self._lock:
            now = self._clock()
            day_start = trading_day_start(now)
            fills_since = (self._settled_floor() or now - FILL_LOOKBACK) - self._book.settle_margin
            self._book.load(await self._store.book_state(now, day_start, fills_since), day_start, now)

    async def refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_every_s)
            await self.refresh_book()

    async def on_requests(self, items: Sequence[tuple[Envelope, Msg]]) -> list[Exception | None]:
        if self._confirm_state is not None:  # never decide on a trading state older than the last reconnect
            await self._confirm_state()
        requests = [event for event, _ in items]
        async with self._lock:
            plan, fills_pending = self._plan(requests), self._fills_pending
            if fills_pending is None or not plan.refuses_for(LIFTED_BY_FILLS):
                return await self._store_and_publish(plan)
            take_back(self._book, plan.new)  # nothing stored or sent: decided again below, with every fill in
        await _catch_up(fills_pending)
        async with self._lock:
            return await self._store_and_publish(self._plan(requests))

    async def on_order_events(self, items: Sequence[tuple[Envelope, Msg]]) -> list[Exception | None]:
        """Keep the book's open orders true, a fetched batch at a time and in its order: submitted, final, failed,
        cancelled before submit; an order submitted after the gateway gave up on it (a late order, adopted) is open
        again. The OrderSubmitted between two closing events are written in one statement (a burst's orders reach
        the broker faster than one commit each); every other event changes nothing here."""
        outcomes: list[Exception | None] = [None] * len(items)
        submitted: list[tuple[int, OrderSubmitted]] = []
        for i, (event, _) in enumerate(items):
            if isinstance(event, OrderSubmitted):
                submitted.append((i, event))
            elif closes_approval(event):
                await self._record_submitted(submitted, outcomes)  # what came before it, first
                submitted = []
                try:
                    await self._record_closed(event)
                except Exception as exc:
                    outcomes[i] = exc
        await self._record_submitted(submitted, outcomes)
        return outcomes

    async def _record_submitted(self, submitted: list[tuple[int, OrderSubmitted]],
                                outcomes: list[Exception | None]) -> None:
        if not submitted:
            return
        try:
            # written before the lock is taken: the next decision does not wait for this commit. Safe because
            # record_submitted is idempotent — a refresh between the two loads the rows and this applies them again.
            await self._store.mark_submitted([(event.order_id, event.occurred_at) for _, event in submitted])
        except Exception as exc:
            for i, _ in submitted:
                outcomes[i] = exc
            return
        async with self._lock:
            for _, event in submitted:
                self._book.record_submitted(event.order_id, event.occurred_at)

    async def _record_closed(self, event: ClosingEvent) -> None:
        failed = gave_up(event)
        async with self._lock:
            await self._store.mark_closed(event.order_id, event.occurred_at, filled_at_close(event), failed=failed)
            self._book.record_closed(event.order_id, filled_at_close(event), failed=failed)

    async def on_fill(self, envelope: Envelope, msg: Msg) -> None:
        """A fill moves its shares from the order's remainder into flight, until the settled position has them."""
        event = expect(FillReported, envelope, msg)
        fill = FillSeen(event.execution_id, event.order_id, event.symbol, event.side, event.qty, event.price,
                        event.occurred_at)
        async with self._lock:
            if await self._store.insert_fill(fill):
                self._book.record_fill(fill)

    def _plan(self, requests: list[Envelope]) -> BatchPlan:
        return plan_batch(requests, self._decider.decide, self._book, self._clock())

    async def _store_and_publish(self, plan: BatchPlan) -> list[Exception | None]:
        # An INSERT that raises leaves the batch's approvals booked: over-counting until the next refresh is the
        # safe side, and every message of the batch is delivered again.
        inserted = await self._store.insert(plan.new)
        lost = plan.lost(inserted)
        take_back(self._book, lost)
        stored = await self._store.find([d.order_id for d in lost]) if lost else {}
        outcomes = plan.outcomes(inserted, stored)
        crash_point("risk.before_publish")  # decided and stored, nothing published: the redelivery sends the same
        return await self._publish(outcomes)

    async def _publish(self, outcomes: list[Outcome]) -> list[Exception | None]:
        sends = [(i, o) for i, o in enumerate(outcomes) if isinstance(o, Publish)]
        results = await asyncio.gather(*(self._bus.publish(o.event) for _, o in sends), return_exceptions=True)
        published = {i: result for (i, _), result in zip(sends, results, strict=True)}
        return [_settle(outcome, published.get(i)) for i, outcome in enumerate(outcomes)]


async def _catch_up(fills_pending: Callable[[], Awaitable[int]]) -> None:
    """Wait (at most ``FILLS_CATCH_UP_S``) until the fill consumer has handled every fill published so far: a fill
    on the FILLS stream before this call is then in the book. Past the bound, or with NATS unreachable, the batch
    is decided with the book as it is (a refusal then stands, and says what it counted)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FILLS_CATCH_UP_S
    while True:
        try:
            if await fills_pending() == 0:
                return
        except Exception as exc:
            log.warning("risk.fills_catch_up_failed", error=str(exc))
            return
        if loop.time() >= deadline:
            log.warning("risk.fills_catch_up_timeout", waited_s=FILLS_CATCH_UP_S)
            return
        await asyncio.sleep(0.01)


def _settle(outcome: Outcome, published: object) -> Exception | None:
    """The consumer's settlement of one message: None acks, a PoisonMessage dead-letters, others retry."""
    if isinstance(outcome, Poison):
        if outcome.reused_order_id is not None:
            log.warning("risk.order_id_reused", order_id=str(outcome.reused_order_id))
        return PoisonMessage(outcome.reason)
    if isinstance(outcome, Retry):
        return RuntimeError(outcome.reason)
    if isinstance(published, Exception):
        return published  # stored already: the retry publishes the same decision
    _log_decision(outcome.event, repeated=outcome.repeated)
    return None


def _log_decision(event: DecisionEvent, *, repeated: bool) -> None:
    if isinstance(event, RiskApproved):
        log.info("risk.approved", order_id=str(event.order_id), symbol=event.symbol,
                 approval_id=str(event.approval_id), repeated=repeated)
    else:
        log.info("risk.rejected", order_id=str(event.order_id), symbol=event.symbol,
                 reasons=[r.code for r in event.reasons], repeated=repeated)
