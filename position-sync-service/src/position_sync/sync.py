"""One sync (AC-21.2.1, AC-21.2.2): read the broker's positions through the gateway, pass the read through the drift
watch, and when the read starts a suspicion, read again once the minimum gap has passed, so that a difference that
persists becomes one ``PositionDrift`` within one sync. Then a ``PositionSnapshot`` per symbol, from the ledger and
from the broker, and the sync's record (``tradectl positions`` shows when the last one ran and whether it could
read the broker).

Syncs run one at a time. Snapshots are published directly, not through the outbox: each is a view that the next
sync publishes again, so one lost to a crash costs nothing; drift, reconciliation and corporate-action events are
facts and go through the outbox with the change they describe (``keeper``). A snapshot is published when its figures
(quantity, average, cost basis) differ from the last one published for that side and symbol since the service
started: a sync every 5 minutes of a thousand positions that did not move adds nothing to the POSITIONS and AUDIT
streams (it wrote 2,000 events, each fsynced, ~2 s), and the stream's last snapshot per symbol stays the current one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from nats.aio.client import Client as NatsClient

from tradebus_contracts.rpc import SyncReply
from tradebus_runtime import get_logger
from tradebus_runtime.bus import Bus
from tradebus_runtime.refdata import RefDataMirror

from .activities import InvalidActivity
from .events import snapshot_event
from .history import HistoryUnavailable, read_history
from .keeper import Keeper, Observed
from .reads import read_positions
from .reconcile import BrokerRead, Drift, Figures, ReadFailed, Unverified
from .views import last_price

log = get_logger(__name__)
PUBLISH_CONCURRENCY = 64
GAP_SLACK = timedelta(milliseconds=50)


class Syncer:
    def __init__(self, keeper: Keeper, bus: Bus, mirror: RefDataMirror, *, read_timeout: float,
                 history_timeout: float, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.keeper = keeper
        self.bus = bus
        self.mirror = mirror
        self.read_timeout = read_timeout
        self.history_timeout = history_timeout
        self.sleep = sleep
        self._one_at_a_time = asyncio.Lock()
        self._published: dict[tuple[str, str], Figures] = {}  # (source, symbol) -> the figures last published

    @property
    def nc(self) -> NatsClient:
        return self.bus.nc

    def now(self) -> datetime:
        return self.keeper.clock()

    async def run(self, reason: str, *, rebuild: bool = False) -> SyncReply:
        async with self._one_at_a_time:
            started = self.now()
            if rebuild:
                try:
                    await self.rebuild()
                except HistoryUnavailable as exc:
                    return await self._finish(reason, started, None, [], f"rebuild failed: {exc}", ok=False,
                                              rebuilt=False)
            observed = await self._observe()
            if observed.suspects and isinstance(observed.read, BrokerRead):
                # a difference on one read proves nothing (positions lead orders): read again once the gap passed
                wait = max(at for _, at in observed.suspects) + self.keeper.rules.min_gap + GAP_SLACK - self.now()
                log.info("positions.sync_confirming", symbols=[s for s, _ in observed.suspects][:50],
                         wait_s=round(max(wait.total_seconds(), 0), 3))
                await self.sleep(max(wait.total_seconds(), 0))
                observed = _merged(observed, await self._observe())
            drifts = sorted({o.symbol for o in observed.outcomes if isinstance(o, Drift)})
            await self._snapshots(observed)
            if reason == "after_close":
                await self._record_closes(observed)
            ok, message = _verdict(observed)
            return await self._finish(reason, started, observed, drifts, message, ok=ok, rebuilt=rebuild)

    async def rebuild(self) -> int:
        """The ledger rebuilt from the broker's FILL history (AC-21.2.3). A history with an activity we cannot read
        is not used at all (``HistoryUnavailable``): a ledger rebuilt without one fill would be wrong everywhere."""
        started = self.now()
        try:
            history = await read_history(self.nc, self.history_timeout)
        except InvalidActivity as exc:
            raise HistoryUnavailable(f"an unreadable FILL activity: {exc}") from exc
        return await self.keeper.rebuild(history, started)

    async def _observe(self) -> Observed:
        read = await read_positions(self.nc, self.keeper.held(), self.now(), self.read_timeout)
        if isinstance(read, ReadFailed):
            log.warning("positions.broker_read_failed", reason=read.reason,
                        meaning="nothing concluded: a failed read is never flat")
        return await self.keeper.observe(read)

    async def _snapshots(self, observed: Observed) -> None:
        """A snapshot per side and symbol whose figures changed since the last one published (module docstring)."""
        read = observed.read
        sides = [("ledger", observed.ledger)] + ([("broker", read.positions)] if isinstance(read, BrokerRead) else [])
        changed = [(source, symbol, figures) for source, positions in sides
                   for symbol, figures in sorted(positions.items())
                   if self._published.get((source, symbol)) != figures]
        for start in range(0, len(changed), PUBLISH_CONCURRENCY):
            chunk = changed[start:start + PUBLISH_CONCURRENCY]
            try:
                await asyncio.gather(*(self.bus.publish(snapshot_event(symbol, figures, source, read.read_id,
                                                                       read.as_of))
                                       for source, symbol, figures in chunk))
            except Exception as exc:  # a view the next sync publishes again: not worth failing the sync for
                log.warning("positions.snapshots_not_published", error=f"{type(exc).__name__}: {exc}")
                return
            self._published.update(((source, symbol), figures) for source, symbol, figures in chunk)

    async def _record_closes(self, observed: Observed) -> None:
        prices = {s: p for s in observed.ledger if (p := last_price(self.mirror.quotes.get(s))) is not None}
        await self.keeper.record_closes(prices)
        log.info("positions.closes_recorded", symbols=len(prices), missing=sorted(set(observed.ledger) - set(prices)))

    async def _finish(self, reason: str, started: datetime, observed: Observed | None, drifts: list[str],
                      message: str, *, ok: bool, rebuilt: bool) -> SyncReply:
        await self.keeper.record_sync(reason, started, observed, ok, drifts, message)
        reply = SyncReply(ok=ok, rebuilt=rebuilt and observed is not None, started_at=started,
                          finished_at=self.now(), symbols_checked=len(observed.checked) if observed else 0,
                          mismatched=list(observed.mismatched) if observed else [], drifts=drifts, message=message)
        log.info("positions.synced", reason=reason, ok=ok, checked=reply.symbols_checked,
                 mismatched=reply.mismatched[:50], drifts=drifts, message=message or None)
        return reply


def _verdict(observed: Observed) -> tuple[bool, str]:
    """Could this sync conclude anything? Not when the read failed, nor for a symbol the read did not vouch for."""
    if isinstance(observed.read, ReadFailed):
        return False, f"broker read failed: {observed.read.reason}"
    unverified = sorted({o.symbol for o in observed.outcomes if isinstance(o, Unverified)})
    if unverified:
        return False, (f"the broker's answer says nothing about {', '.join(unverified[:20])} (an empty list is never "
                       f"taken as flat)")
    return True, ""


def _merged(first: Observed, second: Observed) -> Observed:
    """The second read's view, with the first read's outcomes kept (its drifts, if any, belong to this sync too)."""
    return Observed(second.read, (*first.outcomes, *second.outcomes), second.checked, second.mismatched,
                    second.ledger, second.suspects)
