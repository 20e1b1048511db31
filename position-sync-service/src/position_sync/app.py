"""Wiring of position-sync-service: settings, the ledger keeper, consumers, responders and loops, in one place."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import Field

from tradebus_contracts.consumers import LEDGER_ACTIVITIES, LEDGER_FILLS
from tradebus_contracts.rpc import LedgerPositionsReply, LedgerPositionsRequest, SyncReply, SyncRequest
from tradebus_contracts.services import Service
from tradebus_contracts.subjects import LEDGER_POSITIONS, LEDGER_SYNC
from tradebus_runtime import ConsumerSpec, ServiceApp, ServiceSettings, Subscription, Wiring, get_logger
from tradebus_runtime.outbox import Outbox
from tradebus_runtime.refdata import RefDataMirror
from tradebus_runtime.service import Connections
from tradebus_runtime.settings import load_settings

from .history import HistoryUnavailable
from .keeper import Keeper
from .reconcile import Drifting, Policy, SyncRules
from .schedule import Schedule
from .sync import Syncer
from .views import positions_reply

SERVICE = Service.POSITION_SYNC
log = get_logger(__name__)


class PositionSyncSettings(ServiceSettings):
    sync_interval_s: float = Field(default=300.0, gt=0, validation_alias="POSITION_SYNC_INTERVAL_S",
                                   description="a sync this often while the market is open")
    policy: Literal["alert", "adopt", "reduce"] = Field(default="alert", validation_alias="POSITION_SYNC_POLICY")
    min_gap_s: float = Field(default=30.0, ge=0, validation_alias="POSITION_SYNC_MIN_GAP_S",
                             description="two mismatching reads at least this far apart make a drift")
    settle_s: float = Field(default=15.0, ge=0, validation_alias="POSITION_SYNC_SETTLE_S",
                            description="a symbol with a fill this recent counts as in flight")
    critical_notional: Decimal = Field(default=Decimal("10000"), gt=0,
                                       validation_alias="POSITION_DRIFT_CRITICAL_NOTIONAL")
    read_timeout_s: float = Field(default=10.0, gt=0, validation_alias="POSITION_SYNC_READ_TIMEOUT_S")
    history_timeout_s: float = Field(default=30.0, gt=0, validation_alias="POSITION_HISTORY_TIMEOUT_S")
    history_retry_s: float = Field(default=30.0, gt=0, validation_alias="POSITION_HISTORY_RETRY_S")
    tick_s: float = Field(default=1.0, gt=0, validation_alias="POSITION_SYNC_TICK_S")
    hold_wait_s: float = Field(default=5.0, ge=0, validation_alias="POSITION_FILL_HOLD_S",
                               description="give up on a gap in an order's executions after this long")
    leg_grace_s: float = Field(default=900.0, ge=0, validation_alias="POSITION_LEG_GRACE_S",
                               description="alert on a corporate action still missing a leg after this long")


FILLS = ConsumerSpec.of(LEDGER_FILLS)
ACTIVITY_FEED = ConsumerSpec.of(LEDGER_ACTIVITIES)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Scheduler:
    """The sync loop: the first rebuild from history, then syncs when `Schedule` says (start, every interval
    while open, after the close, after a reconnect); and the small periodic chores."""

    def __init__(self, syncer: Syncer, keeper: Keeper, mirror: RefDataMirror, io: Connections,
                 s: PositionSyncSettings) -> None:
        self.syncer, self.keeper, self.mirror, self.io, self.s = syncer, keeper, mirror, io, s
        self.schedule = Schedule(timedelta(seconds=s.sync_interval_s))
        self._history_tried_at: datetime | None = None

    async def run(self) -> None:
        while True:
            if await self._history_ready():
                now = utc_now()
                self.schedule, reason = self.schedule.due(now, self.mirror.clock, self.mirror.calendar,
                                                          self.io.bus.nc.stats["reconnects"])
                if reason is not None:
                    try:
                        await self.syncer.run(reason)
                    finally:
                        self.schedule = self.schedule.synced(now)
            await asyncio.sleep(self.s.tick_s)

    async def _history_ready(self) -> bool:
        """On first start the ledger is rebuilt from the broker's FILL history before any scheduled sync."""
        if self.keeper.state.history_rebuilt:
            return True
        now = utc_now()
        if self._history_tried_at and (now - self._history_tried_at).total_seconds() < self.s.history_retry_s:
            return False
        self._history_tried_at = now
        try:
            await self.syncer.rebuild()
        except HistoryUnavailable as exc:
            log.warning("positions.history_unavailable", error=str(exc), retry_in_s=self.s.history_retry_s,
                        meaning="the first rebuild from the broker's fills waits; scheduled syncs wait for it")
            return False
        return True

    async def chores(self) -> None:
        while True:
            await self.keeper.release_overdue()
            await self.keeper.alert_overdue_legs()
            await asyncio.sleep(self.s.tick_s)


def responders(keeper: Keeper, syncer: Syncer, mirror: RefDataMirror):
    async def positions(data: bytes) -> LedgerPositionsReply:
        request = LedgerPositionsRequest.model_validate_json(data or b"{}")
        async with keeper.lock:
            if keeper.stale:
                await keeper.load()
            state = keeper.state
            now = utc_now()
            drifting = {s for s, w in state.watch.watches.items() if isinstance(w, Drifting)}
            last = state.last_sync
            return positions_reply(state.folded.ledger, now, mirror.quotes, keeper.prior_closes(now), drifting,
                                   request.lots, last[0] if last else None, last[1] if last else None)

    async def sync(data: bytes) -> SyncReply:
        request = SyncRequest.model_validate_json(data or b"{}")
        return await syncer.run("on_demand", rebuild=request.rebuild)

    return {LEDGER_POSITIONS: positions, LEDGER_SYNC: sync}


async def bootstrap(io: Connections, s: PositionSyncSettings) -> Wiring:
    rules = SyncRules(policy=Policy(s.policy), min_gap=timedelta(seconds=s.min_gap_s),
                      critical_notional=s.critical_notional)
    outbox = Outbox(io.pool, io.bus)
    keeper = Keeper(io.pool, outbox, rules, utc_now, settle=timedelta(seconds=s.settle_s),
                    hold_wait=timedelta(seconds=s.hold_wait_s), leg_grace=timedelta(seconds=s.leg_grace_s))
    await keeper.load()
    mirror = RefDataMirror()
    await mirror.start(io.bus.js)
    syncer = Syncer(keeper, io.bus, mirror, read_timeout=s.read_timeout_s, history_timeout=s.history_timeout_s)
    scheduler = Scheduler(syncer, keeper, mirror, io, s)
    await outbox.flush()  # whatever a crash left unpublished
    log.info("positions.settings", policy=s.policy, interval_s=s.sync_interval_s, min_gap_s=s.min_gap_s)

    async def refdata_alive() -> bool:
        return mirror.alive

    return Wiring(
        consumers=[Subscription(FILLS, keeper.on_fill), Subscription(ACTIVITY_FEED, keeper.on_activity)],
        responders=responders(keeper, syncer, mirror),
        background={"sync_schedule": scheduler.run, "chores": scheduler.chores, "outbox_relay": outbox.relay_forever},
        checks={"refdata": refdata_alive},
        on_stop=[mirror.stop],
    )


def build_app(settings: PositionSyncSettings | None = None) -> ServiceApp:
    settings = settings or load_settings(PositionSyncSettings, SERVICE)

    async def wire(io: Connections) -> Wiring:
        return await bootstrap(io, settings)

    return ServiceApp(SERVICE, settings, wire, migrations_package="position_sync")
