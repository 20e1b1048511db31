"""Following submitted orders to their last fill: the trade_updates stream and webhooks, backed by polling (AC-21.1.3).

* `StreamFeed` runs alpaca-py's TradingStream on our event loop (one connection; it reconnects with backoff
  itself) and applies each trade update;
* `WebhookUpdates` consumes the trade updates webhook-ingest verified (``BrokerTradeUpdate`` on
  ``broker.trade_updates.<SYMBOL>``, stream BROKER) and applies each the same way, source ``webhook``. One it cannot
  apply — unreadable, or about an order that is not ours or that we do not know — is kept: logged and dead-lettered
  on ``dlq.order-gateway`` with the reason (`PoisonMessage`), never dropped;
* `Poller` asks for the open orders in one call — every ``interval`` seconds while an order is fresh, less often
  once all are resting — and looks up by id only a tracked order that is no longer open (it became final while we
  were not told). This is what catches everything a silent or dropped websocket misses. It also sweeps the ``pending`` rows a crash, or an
  ambiguous submit that could not be retried, left between the pending write and the broker's answer: the broker
  decides whether they exist, and "not found" counts only once the landing window has passed since the last moment
  a POST for the order could have been sent (``landing_window_s``: the broker timeout plus a margin).

A report about an order we recorded as failed is not dropped: the order is adopted (recording.adopt_late). Polling
looks for such orders itself: the rows the broker has not been seen to hold (pending, or failed within
``late_watch_s``) are matched against the broker's recent orders, open or closed, so a late order is adopted and its
fills counted even when the stream and webhooks never report it.

Whatever the source, `follow` applies the report through `recording.record_report`, which counts each execution
once (by execution id, and by cumulative quantity when a source has no id); trade updates are read by
`trade_updates.read_trade_update`, whichever door they came by.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from alpaca.trading.stream import TradingStream
from nats.aio.msg import Msg

from tradebus_contracts import order_id_from_client_order_id
from tradebus_contracts.envelope import Envelope
from tradebus_contracts.events import BrokerTradeUpdate, StatusSource
from tradebus_runtime import PoisonMessage, expect, get_logger

from . import store
from .broker import BrokerError, BrokerOrder
from .broker_reports import adds_nothing
from .context import Context
from .fills import ExecutionReport
from .model import OrderRow, SubmitState
from .recording import adopt_late, confirm_submitted, fail_pending, record_report
from .trade_updates import UnusableUpdate, read_trade_update, read_webhook_update

log = get_logger(__name__)
WAIT_FOR_SUBMIT_S = 1.0
CLOCK_SKEW = timedelta(minutes=1)  # between our clock and the broker's, at most
# alpaca-py's own websocket settings, without permessage-deflate: a trade update is a few hundred bytes, and inflating
# two of them per order cost the gateway ~0.25 ms of CPU per order in a burst (zlib)
STREAM_WEBSOCKET = {"ping_interval": 10, "ping_timeout": 180, "max_queue": 1024, "compression": None}


async def follow(ctx: Context, raw: dict[str, Any], source: StatusSource, execution: ExecutionReport | None = None,
                 position_qty: Decimal | None = None, row: OrderRow | None = None) -> str | None:
    """Apply a broker order object (and maybe one execution) to our row, if the order is ours; returns why it was
    not applied (not placed by tradebus, or not known here), None when it was. ``row``: the order's row as the
    caller just read it (else it is read here). A report that adds nothing to it is not written at all."""
    client_order_id = str(raw.get("client_order_id", ""))
    order_id = order_id_from_client_order_id(client_order_id)
    if order_id is None:
        return f"client_order_id {client_order_id[:64]!r} was not placed by tradebus"
    submitting = ctx.submitting.get(order_id)
    if submitting is not None:  # our own submit will record the answer: wait for it rather than race it (bounded:
        with contextlib.suppress(TimeoutError):  # a submit stuck on a slow broker must not hold the stream up)
            await asyncio.wait_for(submitting.wait(), WAIT_FOR_SUBMIT_S)
        row = None
    order = BrokerOrder.of(raw)
    known = row if row is not None and row.order_id == order_id else ctx.confirmed.get(order_id)
    if known is not None and known.state == SubmitState.SUBMITTED and execution is None \
            and adds_nothing(known, order, ctx.clock.now()):
        return None  # e.g. the stream's "new" after the submit answer said so: no read, no transaction, no commit
    row = row if row is not None and row.order_id == order_id else await store.get_order(ctx.pool, order_id)
    if row is None:
        log.warning("gateway.unknown_order_report", client_order_id=client_order_id, source=source)
        return f"order {order_id} (client_order_id {client_order_id}) is not known to the gateway"
    if row.state == SubmitState.PENDING:  # the broker told us before the POST answered: it has the order
        await confirm_submitted(ctx, order_id, order, source=source)
    elif row.state == SubmitState.FAILED:  # a POST we gave up on landed after all
        await adopt_late(ctx, order_id, order, source)
    await record_report(ctx, order_id, order, source, execution, position_qty)
    return None


class StreamFeed:
    def __init__(self, ctx: Context, key_id: str, secret: str, url: str | None, paper: bool) -> None:
        self.ctx = ctx
        self.stream = TradingStream(key_id, secret, paper=paper, raw_data=True, url_override=url,
                                    websocket_params=STREAM_WEBSOCKET)
        self.stream.subscribe_trade_updates(self.on_update)

    async def on_update(self, message: dict[str, Any]) -> None:
        data = message.get("data", message)
        try:
            update = read_trade_update(data, "stream")
            await follow(self.ctx, update.order, "stream", update.execution, update.position_qty)
        except Exception:
            log.exception("gateway.stream_update_failed", trade_event=data.get("event"))  # polling will catch up

    async def run(self) -> None:
        try:
            await self.stream._run_forever()  # alpaca-py's own loop (reconnects with backoff); on our event loop
        finally:
            await self.stream.stop_ws()

    async def stop(self) -> None:
        await self.stream.stop_ws()
        await self.stream.close()


class WebhookUpdates:
    """The BROKER stream's trade updates (received by webhook-ingest), applied like the stream's, source webhook."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def on_update(self, envelope: Envelope, msg: Msg) -> None:
        event = expect(BrokerTradeUpdate, envelope, msg)
        try:
            update = read_webhook_update(event)
            unapplied = await follow(self.ctx, update.order, "webhook", update.execution, update.position_qty)
        except UnusableUpdate as exc:
            unapplied = str(exc)
        if unapplied is not None:  # kept, not dropped: the runtime dead-letters it with the reason
            log.warning("gateway.webhook_update_not_applied", delivery_id=event.delivery_id, update=event.update,
                        client_order_id=event.client_order_id, execution_id=event.execution_id, reason=unapplied)
            raise PoisonMessage(unapplied)


class Poller:
    """Polling within a budget: one list call covers every open order; a lookup by id only for a tracked order the
    list no longer holds (it ended while we were not told). While an order is fresh (submitted within
    ``fresh_for_s``) the list is read every ``interval_s``; once every tracked order is resting, every
    ``resting_interval_s`` — the stream and webhooks report at once, polling is the net under them. With nothing to
    track, no call at all. So the cost at rest does not grow with the number of resting orders.

    Rows the broker has not been seen to hold — pending, or failed within ``late_watch_s`` — are matched, at the same
    cadence, against one more list: the broker's orders since the oldest of them, open or closed (a late order may
    have filled already). One found there is adopted (``follow`` → ``recording.adopt_late``): a POST we gave up on
    landed after all, and the stream may never say so."""

    def __init__(self, ctx: Context, interval_s: float, fresh_for_s: float, sweep_after_s: float,
                 landing_window_s: float, resting_interval_s: float, late_watch_s: float = 300.0) -> None:
        self.ctx = ctx
        self.interval_s = interval_s
        self.fresh_for = timedelta(seconds=fresh_for_s)
        self.resting_interval = timedelta(seconds=resting_interval_s)
        self.sweep_after_s = sweep_after_s
        self.landing_window = timedelta(seconds=landing_window_s)
        self.late_watch_s = late_watch_s
        self._listed_at: datetime | None = None

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.poll_once()
                await self.sweep_once()
            except BrokerError as exc:
                log.warning("gateway.poll_failed", error=exc.message)

    async def poll_once(self) -> None:
        ctx = self.ctx
        tracked = await store.orders_to_track(ctx.pool)
        unseen = [row for row in await store.not_submitted(ctx.pool, self.late_watch_s)
                  if row.order_id not in ctx.submitting]  # this process's submit records its own answer
        if not tracked and not unseen:
            return
        now = ctx.clock.now()
        fresh = any(row.created_at > now - self.fresh_for for row in tracked)
        if not fresh and self._listed_at is not None and now - self._listed_at < self.resting_interval:
            return
        self._listed_at = now
        if tracked:
            await self._follow_open(tracked)
        if unseen:
            await self._find_landed(unseen)

    async def _follow_open(self, tracked: list[OrderRow]) -> None:
        ctx = self.ctx
        open_orders = {str(o.get("client_order_id")): o for o in await ctx.broker.open_orders()}
        for row in tracked:
            order = open_orders.get(row.client_order_id)
            if order is None and row.broker_order_id:
                try:  # no longer open: we missed its end; ask for it by id
                    order = await ctx.broker.order(row.broker_order_id)
                except BrokerError as exc:
                    log.warning("gateway.lookup_failed", order_id=str(row.order_id), error=exc.message)
                    continue
            if order is not None:
                await follow(ctx, order, "poll", row=row)

    async def _find_landed(self, unseen: list[OrderRow]) -> None:
        """The broker's orders since the oldest unseen row (less a margin for the two clocks), matched to those rows
        by client_order_id: a pending one is confirmed, a failed one adopted."""
        ctx = self.ctx
        since = min(row.created_at for row in unseen) - CLOCK_SKEW
        landed = {str(o.get("client_order_id")): o for o in await ctx.broker.orders_since(since)}
        for row in unseen:
            order = landed.get(row.client_order_id)
            if order is not None:
                await follow(ctx, order, "poll", row=row)

    async def sweep_once(self) -> None:
        """Pending rows older than the sweep age: the broker decides whether they exist. One still to be sent is left
        to its approval's redelivery; one whose approval has expired is failed once the broker still says "not
        found" a landing window after the last moment a POST for it could have been sent."""
        ctx = self.ctx
        for row, last_post_at in await store.pending_older_than(ctx.pool, self.sweep_after_s):
            async with store.broker_lease(ctx.pool, row.order_id) as held:
                if held:  # else a submitter (here or in another replica) is talking to the broker about it
                    await self._settle_pending(row, last_post_at)

    async def _settle_pending(self, row: OrderRow, last_post_at: datetime) -> None:
        ctx = self.ctx
        asked_at = ctx.clock.now()
        found = await ctx.broker.order_by_client_id(row.client_order_id)
        if found is not None:
            await confirm_submitted(ctx, row.order_id, BrokerOrder.of(found), source="lookup")
        elif _expired(row, asked_at) and last_post_at + self.landing_window <= asked_at:
            await fail_pending(ctx, row.order_id, None, None,
                               f"not at the broker {(asked_at - last_post_at).total_seconds():.0f}s after the "
                               "last moment it could have been sent, and its approval has expired; nothing "
                               "was submitted")


def _expired(row: OrderRow, now: datetime) -> bool:
    """Whether the row's approval can no longer be sent."""
    if row.expires_at is None:  # a row from before expiries were stored: far beyond any approval's life
        return row.created_at < now - timedelta(minutes=5)
    return row.expires_at <= now
