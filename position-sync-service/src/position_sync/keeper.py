"""The ledger in memory and its journal in PostgreSQL, kept equal: every change is made under one lock, in memory and
in the journal in one transaction (with its inbox mark and its outbox events); if the transaction fails, the memory is
marked stale and rebuilt from the journal before anything else reads or changes it. So a crash or a failed write at
any point changes nothing: the journal says what the ledger is.

Inputs: ``FillReported`` (FILLS) → ``coverage`` → ``Ledger.apply_fill``; ``BrokerActivity`` (BROKER) →
``ActivityLeg`` → ``ActionCollector`` → ``Ledger.apply_action`` (or, when executions after its effective date were
booked first, a re-fold of the journal with the action in its place); a broker read (``sync``) →
``DriftWatch`` → drift events and, under ``adopt``, adjustments; the FILL history → a rebuilt journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import asyncpg
from nats.aio.msg import Msg

from tradebus_contracts import Envelope, FillReported
from tradebus_contracts.events import BrokerActivity
from tradebus_contracts.trading_day import trading_date
from tradebus_runtime import PoisonMessage, expect, get_logger
from tradebus_runtime.inbox import record
from tradebus_runtime.outbox import Outbox, add

from . import store
from .activities import ActivityLeg, InvalidActivity
from .corporate_actions import ActionAlert, ActionCollector, AlertCode, CorporateAction, Status
from .events import action_event, adopted_event, agreed_event, drift_event
from .journal import Folded, Input, Release, dropped_fills, fold, in_time_order, plan_rebuild
from .ledger import ActionApplied
from .reconcile import (
    FLAT,
    Adjustment,
    BrokerRead,
    Drift,
    DriftWatch,
    Figures,
    Outcome,
    ReadFailed,
    Reconciled,
    Reduce,
    Suspect,
    SyncRules,
    Unverified,
    agrees,
    observe,
)
from .sequencer import Fill
from .watches import decode_watch, encode_watch

log = get_logger(__name__)
HISTORY_REBUILT = "history_rebuilt_at"
IGNORED_ACTIVITIES = frozenset({"FILL", "TRD"})  # trades come from FillReported, the live authority for fills


@dataclass(frozen=True)
class Observed:
    """What one broker read came to."""

    read: BrokerRead | ReadFailed
    outcomes: tuple[Outcome, ...]
    checked: tuple[str, ...]  # symbols the read gave figures for
    mismatched: tuple[str, ...]
    ledger: dict[str, Figures]  # the ledger's FIFO figures after the read (adjustments applied)
    suspects: tuple[tuple[str, datetime], ...]  # symbols suspected (since when): a read after the gap decides


@dataclass
class KeeperState:
    folded: Folded
    collector: ActionCollector
    watch: DriftWatch
    closes: dict[str, dict[date, Decimal]] = field(default_factory=dict)
    last_fill_at: dict[str, datetime] = field(default_factory=dict)  # by our clock: a fill just in is in flight
    last_sync: tuple[datetime, bool] | None = None
    history_rebuilt: bool = False


class Keeper:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, rules: SyncRules, clock: Callable[[], datetime], *,
                 settle: timedelta, hold_wait: timedelta, leg_grace: timedelta) -> None:
        self.pool = pool
        self.outbox = outbox
        self.rules = rules
        self.clock = clock
        self.settle = settle
        self.hold_wait = hold_wait
        self.leg_grace = leg_grace
        self.lock = asyncio.Lock()
        self.state = self._empty()
        self.stale = True

    def _empty(self) -> KeeperState:
        return KeeperState(Folded(), ActionCollector(self.leg_grace), DriftWatch(self.rules))

    # --- loading, and the one way a change is made -----------------------------------------------------------

    async def load(self) -> None:
        """Everything from PostgreSQL: the journal folded, the legs waiting, the watch, the closes."""
        state = self._empty()
        async with self.pool.acquire() as conn:
            async for chunk in store.journal_inputs(conn):
                state.folded.fold(chunk)
            applied = state.folded.ledger.applied_actions
            for raw, first_seen in await store.pending_legs(conn):
                result = state.collector.add(ActivityLeg.from_dict(raw), first_seen, applied)
                if result.status is Status.READY:  # applying it failed before: it waits for a person
                    log.warning("positions.pending_group_whole", action_id=result.action_id)
            state.watch.watches = {s: decode_watch(w) for s, w in (await store.watches(conn)).items()}
            for symbol, day, price in await store.closes(conn):
                state.closes.setdefault(symbol, {})[day] = price
            state.last_sync = await store.last_sync(conn)
            state.history_rebuilt = await store.get_state(conn, HISTORY_REBUILT) is not None
            size = await store.journal_size(conn)
        state.last_fill_at = self.state.last_fill_at
        self.state, self.stale = state, False
        ledger = state.folded.ledger
        log.info("positions.ledger_loaded", journal=size, symbols=sum(1 for p in ledger.positions.values()
                                                                       if p.lots.qty),
                 pending_legs=sum(len(g) for g in state.collector.groups.values()), watched=len(state.watch.watches))

    @contextlib.asynccontextmanager
    async def change(self) -> AsyncIterator[asyncpg.Connection]:
        """The lock, a memory that matches the journal, and one transaction; a failure inside marks the memory
        stale (it is re-folded from the journal before the next use)."""
        async with self.lock:
            if self.stale:
                await self.load()
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    yield conn
            except BaseException:
                self.stale = True
                raise

    async def publish(self, events: list[Envelope]) -> None:
        if events:
            await self.outbox.publish_now(events)

    # --- fills ---------------------------------------------------------------------------------------------

    async def on_fill(self, envelope: Envelope, msg: Msg) -> None:
        event = expect(FillReported, envelope, msg)
        fill = Fill.from_event(event)
        async with self.change() as conn:
            if not await record(conn, event, msg.subject, msg.data):
                return
            parts, outcomes = self.state.folded.take(fill)
            if parts is None:
                log.info("positions.fill_repeated", symbol=fill.symbol, execution_id=fill.execution_id,
                         broker_order_id=fill.order_id, correlation_id=event.correlation_id)
                return
            await store.append(conn, parts, "live")  # type: ignore[arg-type]
        self.state.last_fill_at[fill.symbol] = self.clock()
        log.info("positions.fill_taken", symbol=fill.symbol, execution_id=fill.execution_id,
                 admission=[o.admission.value for o in outcomes], qty=[str(p.qty) for p in parts],  # type: ignore
                 cut=parts != [fill], correlation_id=event.correlation_id,
                 realized=str(sum((b.realized for o in outcomes for b in o.booked), Decimal(0))))  # type: ignore

    async def release_overdue(self) -> None:
        """Book the fills held for a gap older than ``hold_wait`` (recorded, so a re-fold does the same)."""
        if not self.state.folded.ledger.sequencer.held and not self.stale:
            return
        async with self.change() as conn:
            release = Release(str(uuid.uuid4()), self.clock(), self.hold_wait.total_seconds())
            taken, released = self.state.folded.take(release)
            if taken is not None:
                await store.append(conn, [taken], "live")
        if taken is not None:
            log.warning("positions.held_fills_released",
                        fills=[b.fill.execution_id for b in released],  # type: ignore[attr-defined]
                        reason="a gap in an order's executions did not fill in time")

    # --- corporate actions ---------------------------------------------------------------------------------

    async def on_activity(self, envelope: Envelope, msg: Msg) -> None:
        event = expect(BrokerActivity, envelope, msg)
        if event.activity_type in IGNORED_ACTIVITIES:
            return
        try:
            leg = ActivityLeg.from_dict(event.activity)
        except InvalidActivity as exc:
            raise PoisonMessage(f"unreadable activity {event.activity_id}: {exc}") from None
        events: list[Envelope] = []
        async with self.change() as conn:
            if not await record(conn, event, msg.subject, msg.data):
                return
            now = self.clock()
            result = self.state.collector.add(leg, now, self.state.folded.ledger.applied_actions)
            applied_before = result.action_id in self.state.folded.ledger.applied_actions
            if result.status in (Status.WAITING, Status.ALERT) and not applied_before:  # kept over a restart
                await store.keep_leg(conn, leg.leg_id, result.action_id, event.activity, now)
            if result.action is not None:
                applied = await self._apply(conn, result.action)
                if isinstance(applied, ActionApplied):
                    events.append(action_event(applied))
                    await add(conn, *events)
                    await store.drop_legs(conn, result.action_id)
                    await self._scale_closes(conn, applied)
        for alert in result.alerts:
            _log_alert(alert)
        if result.status is Status.WAITING:
            log.info("positions.corporate_action_waiting", action_id=result.action_id, symbol=leg.symbol,
                     missing=sorted(result.missing), leg_id=leg.leg_id)
        await self.publish(events)

    async def _apply(self, conn: asyncpg.Connection, action: CorporateAction) -> ActionApplied | ActionAlert | None:
        applied = self.state.folded.take(action)[1]
        if isinstance(applied, ActionApplied):
            await store.append(conn, [action], "live")
            log.info("positions.corporate_action_applied", action_id=action.action_id, kind=action.kind,
                     symbol=action.symbol, qty_before=str(applied.qty_before), qty_after=str(applied.qty_after),
                     broker_qty_agrees=applied.broker_qty_agrees)
            return applied
        if isinstance(applied, ActionAlert) and applied.code is AlertCode.BOOKED_OUT_OF_ORDER:
            return await self._refold_with(conn, action)
        return applied  # type: ignore[return-value]

    async def _refold_with(self, conn: asyncpg.Connection, action: CorporateAction) -> ActionApplied | ActionAlert:
        """Executions after the action's effective day were booked first: fold the journal again with the action
        where it happened, and keep that journal."""
        journal: list[Input] = []
        async for chunk in store.journal_inputs(conn):
            journal += chunk
        folded, kept, actions = fold(in_time_order([*journal, action]))
        applied = actions.get(action.action_id)
        if not isinstance(applied, ActionApplied):
            self.stale = True  # the attempt released held fills into the ledger in memory
            return applied or ActionAlert(AlertCode.BOOKED_OUT_OF_ORDER, action.action_id, action.symbol,
                                          "could not be placed in the journal", action.leg_ids)
        await store.replace_journal(conn, kept, "refold")
        self.state.folded = folded
        log.warning("positions.ledger_refolded", action_id=action.action_id, symbol=action.symbol,
                    effective=str(action.effective), inputs=len(kept),
                    reason="executions after the action's effective date were booked before it")
        return applied

    async def _scale_closes(self, conn: asyncpg.Connection, applied: ActionApplied) -> None:
        action = applied.action
        ratio = action.ratio or Decimal(1)
        moves = action.new_symbol not in (None, action.symbol)
        if ratio == 1 and not moves:
            return
        await store.scale_closes(conn, action.symbol, action.effective, ratio, action.new_symbol)
        marks = self.state.closes.pop(action.symbol, {})
        scaled = {day: (price / ratio if day < action.effective else price) for day, price in marks.items()}
        self.state.closes[action.new_symbol if moves else action.symbol] = scaled  # type: ignore[index]

    async def alert_overdue_legs(self) -> None:
        for alert in self.state.collector.overdue(self.clock()):
            _log_alert(alert)

    # --- a broker read -------------------------------------------------------------------------------------

    def held(self) -> set[str]:
        """Symbols the ledger holds or watches: a read must say something about each."""
        positions = self.state.folded.ledger.positions
        return {s for s, p in positions.items() if p.lots.qty} | set(self.state.watch.watches)

    async def observe(self, read: BrokerRead | ReadFailed) -> Observed:
        """One read through the drift watch: drift and reconciliation events and adjustments in one transaction
        with the new watch."""
        events: list[Envelope] = []
        async with self.change() as conn:
            state = self.state
            ledger = state.folded.ledger
            now = self.clock()
            figures = ledger.sync_figures(read.as_of)
            recent = {s for s, at in state.last_fill_at.items() if now - at < self.settle}
            before = dict(state.watch.watches)
            try:
                outcomes = state.watch.read(figures, read, ledger.symbols_in_flight() | recent)
                adjustments = [o for o in outcomes if isinstance(o, Adjustment)]
                for adjustment in adjustments:
                    state.folded.take(adjustment)
                await store.append(conn, adjustments, "sync")
                events = [*_events(outcomes, self.rules)]
                await add(conn, *events)
                await store.save_watches(conn, {s: encode_watch(w) for s, w in state.watch.watches.items()})
            except BaseException:
                state.watch.watches = before
                raise
        suspects = tuple((s, w.at) for s, w in state.watch.watches.items() if isinstance(w, Suspect))
        checked, mismatched = _compared(figures, read, self.rules)
        _log_outcomes(outcomes, read)
        await self.publish(events)
        return Observed(read, tuple(outcomes), checked, mismatched, self.ledger_figures(), suspects)

    def ledger_figures(self) -> dict[str, Figures]:
        """Every position the ledger holds by its FIFO tax lots (what a ledger ``PositionSnapshot`` says)."""
        return {s: Figures(p.lots.qty, p.lots.cost / p.lots.qty, p.lots.cost)
                for s, p in self.state.folded.ledger.positions.items() if p.lots.qty}

    async def record_sync(self, reason: str, started_at: datetime, observed: Observed | None, ok: bool,
                          drifts: list[str], message: str) -> None:
        finished = self.clock()
        checked = len(observed.checked) if observed else 0
        mismatched = list(observed.mismatched) if observed else []
        async with self.pool.acquire() as conn:
            await store.record_sync(conn, reason, started_at, finished, ok, checked, mismatched, drifts, message)
        self.state.last_sync = (finished, ok)

    async def record_closes(self, prices: dict[str, Decimal]) -> None:
        day = trading_date(self.clock())
        async with self.pool.acquire() as conn:
            await store.record_closes(conn, day, prices)
        for symbol, price in prices.items():
            self.state.closes.setdefault(symbol, {})[day] = price

    def prior_closes(self, now: datetime) -> dict[str, Decimal]:
        today = trading_date(now)
        out = {}
        for symbol, marks in self.state.closes.items():
            earlier = [day for day in marks if day < today]
            if earlier:
                out[symbol] = marks[max(earlier)]
        return out

    # --- a rebuild from the broker's history -----------------------------------------------------------------

    async def rebuild(self, history: list[Fill], started_at: datetime) -> int:
        """The journal replaced by the broker's FILL history merged with what it does not cover (``plan_rebuild``);
        returns the number of inputs kept."""
        async with self.change() as conn:
            journal: list[Input] = []
            async for chunk in store.journal_inputs(conn):
                journal += chunk
            planned = plan_rebuild(history, journal, started_at)
            folded, kept, _ = fold(planned)
            await store.replace_journal(conn, kept, "rebuild")
            await store.set_state(conn, HISTORY_REBUILT, started_at.isoformat())
        dropped = dropped_fills(history, journal, planned)
        self.state.folded, self.state.history_rebuilt = folded, True
        log.info("positions.ledger_rebuilt", history_fills=len(history), inputs=len(kept),
                 symbols=sum(1 for p in folded.ledger.positions.values() if p.lots.qty))
        if dropped:
            log.warning("positions.rebuild_dropped_fills", execution_ids=[f.execution_id for f in dropped][:50],
                        count=len(dropped), reason="fills older than the rebuild that the broker's history lacks")
        return len(kept)


def _events(outcomes: tuple[Outcome, ...] | list[Outcome], rules: SyncRules) -> list[Envelope]:
    out: list[Envelope] = []
    for outcome in outcomes:
        if isinstance(outcome, Drift):
            out.append(drift_event(outcome, rules.policy))
        elif isinstance(outcome, Adjustment):
            out.append(adopted_event(outcome))
        elif isinstance(outcome, Reconciled) and outcome.resolution != "adopted_broker":
            out.append(agreed_event(outcome))  # an adoption was announced when it was made
    return out


def _compared(figures: dict[str, Figures], read: BrokerRead | ReadFailed,
              rules: SyncRules) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if isinstance(read, ReadFailed):
        return (), ()
    symbols = {s for s, f in figures.items() if f.qty} | set(read.positions)
    checked, mismatched = [], []
    for symbol in sorted(symbols):
        seen = observe(read, symbol)
        if isinstance(seen, Figures):
            checked.append(symbol)
            if not all(agrees(figures.get(symbol, FLAT), seen, rules)):
                mismatched.append(symbol)
    return tuple(checked), tuple(mismatched)


def _log_outcomes(outcomes: list[Outcome], read: BrokerRead | ReadFailed) -> None:
    unverified = [o.symbol for o in outcomes if isinstance(o, Unverified)]
    if unverified and isinstance(read, BrokerRead):  # a failed read is logged once, by the sync
        reason = next(o.reason for o in outcomes if isinstance(o, Unverified))
        log.warning("positions.broker_read_unverified", symbols=unverified[:50], count=len(unverified),
                    reason=reason, read_id=read.read_id)
    for o in outcomes:
        if isinstance(o, Drift):
            log.warning("positions.drift", symbol=o.symbol, severity=o.severity, ledger_qty=str(o.ledger.qty),
                        broker_qty=str(o.broker.qty), qty_diff=str(o.qty_diff),
                        ledger_avg=str(o.ledger.avg_entry_price), broker_avg=str(o.broker.avg_entry_price),
                        drift_id=str(o.drift_id), reads=[o.first_read_id, o.second_read_id])
        elif isinstance(o, Adjustment):
            log.warning("positions.adopted_broker", symbol=o.symbol, qty_before=str(o.before.qty),
                        qty_after=str(o.after.qty), reason=o.reason, adjustment_id=str(o.adjustment_id))
        elif isinstance(o, Reduce):
            log.warning("positions.reduce_advised", symbol=o.symbol, drift_id=str(o.drift_id), reason=o.reason,
                        advisory=True, recommendation="tradectl halt --reducing",
                        meaning="nothing was switched: trading state is account-wide and the operator's "
                                "(position-sync may not publish control.>), and risk and the gateway do not read "
                                "PositionDrift")
        elif isinstance(o, Reconciled):
            log.info("positions.reconciled", symbol=o.symbol, resolution=o.resolution, drift_id=str(o.drift_id))


def _log_alert(alert: ActionAlert) -> None:
    log.warning("positions.corporate_action_alert", code=alert.code, action_id=alert.action_id, symbol=alert.symbol,
                message=alert.message, leg_ids=list(alert.leg_ids))
