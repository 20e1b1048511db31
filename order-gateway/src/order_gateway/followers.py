"""Following submitted orders to their last fill: the trade_updates stream, backed by polling (AC-21.1.3).

* `StreamFeed` runs alpaca-py's TradingStream on our event loop (one connection; it reconnects with backoff
  itself) and applies each trade update;
* `Poller` asks for the open orders every ``interval`` seconds (one call), and looks up by id every tracked order
  that is no longer open (it became final while we were not told) and every order silent for too long. This is
  what catches everything a silent or dropped websocket misses. It also sweeps the ``pending`` rows a crash left
  between the pending write and the broker's answer: the broker decides whether they exist.

Whatever the source, `follow` applies the report through `recording.record_report`, which counts each execution
once (by execution id, and by cumulative quantity when a source has no id).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

from alpaca.trading.stream import TradingStream

from tradebus_contracts import order_id_from_client_order_id
from tradebus_contracts.events import StatusSource
from tradebus_runtime import get_logger

from . import store
from .broker import BrokerError, BrokerOrder, dec, parse_time
from .context import Context
from .fills import ExecutionReport
from .model import SubmitState
from .recording import confirm_submitted, fail_pending, record_report

log = get_logger(__name__)
EXECUTION_EVENTS = frozenset({"fill", "partial_fill"})
ABANDON_PENDING_AFTER = timedelta(minutes=5)  # far beyond any approval's life: it can never be submitted now


async def follow(ctx: Context, raw: dict[str, Any], source: StatusSource, execution: ExecutionReport | None = None,
                 position_qty: Decimal | None = None) -> None:
    """Apply a broker order object (and maybe one execution) to our row, if the order is ours."""
    order_id = order_id_from_client_order_id(str(raw.get("client_order_id", "")))
    if order_id is None:
        return  # not placed by tradebus: not ours to track
    row = await store.get_order(ctx.pool, order_id)
    if row is None:
        log.warning("gateway.unknown_order_report", client_order_id=raw.get("client_order_id"), source=source)
        return
    order = BrokerOrder.of(raw)
    if row.state == SubmitState.PENDING:  # the broker told us before the POST answered: it has the order
        await confirm_submitted(ctx, order_id, order, source=source)
    await record_report(ctx, order_id, order, source, execution, position_qty)


class StreamFeed:
    def __init__(self, ctx: Context, key_id: str, secret: str, url: str | None, paper: bool) -> None:
        self.ctx = ctx
        self.stream = TradingStream(key_id, secret, paper=paper, raw_data=True, url_override=url)
        self.stream.subscribe_trade_updates(self.on_update)

    async def on_update(self, message: dict[str, Any]) -> None:
        data = message.get("data", message)
        order = data.get("order") or {}
        event = str(data.get("event", ""))
        execution = None
        if event in EXECUTION_EVENTS:
            execution = ExecutionReport(
                source="stream", cum_qty=dec(order.get("filled_qty")) or Decimal(0),
                execution_id=str(data["execution_id"]) if data.get("execution_id") else None,
                qty=dec(data.get("qty")), price=dec(data.get("price")), timestamp=parse_time(data.get("timestamp")),
            )
        try:
            await follow(self.ctx, order, "stream", execution, dec(data.get("position_qty")))
        except Exception:
            log.exception("gateway.stream_update_failed", trade_event=event)  # polling will catch up

    async def run(self) -> None:
        try:
            await self.stream._run_forever()  # alpaca-py's own loop (reconnects with backoff); on our event loop
        finally:
            await self.stream.stop_ws()

    async def stop(self) -> None:
        await self.stream.stop_ws()
        await self.stream.close()


class Poller:
    def __init__(self, ctx: Context, interval_s: float, silent_after_s: float, sweep_after_s: float) -> None:
        self.ctx = ctx
        self.interval_s = interval_s
        self.silent_after = timedelta(seconds=silent_after_s)
        self.sweep_after_s = sweep_after_s

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
        if not tracked:
            return
        open_orders = {str(o.get("client_order_id")): o for o in await ctx.broker.open_orders()}
        silent_since = ctx.clock.now() - self.silent_after
        for row in tracked:
            order = open_orders.get(row.client_order_id)
            if row.broker_order_id and (order is None or row.created_at < silent_since):
                try:  # no longer open (we missed its end) or silent too long: ask for it by id
                    order = await ctx.broker.order(row.broker_order_id)
                except BrokerError as exc:
                    log.warning("gateway.lookup_failed", order_id=str(row.order_id), error=exc.message)
                    continue
            if order is not None:
                await follow(ctx, order, "poll")

    async def sweep_once(self) -> None:
        """Pending rows older than the sweep age: the broker decides whether they exist."""
        ctx = self.ctx
        for row in await store.pending_older_than(ctx.pool, self.sweep_after_s):
            found = await ctx.broker.order_by_client_id(row.client_order_id)
            if found is not None:
                await confirm_submitted(ctx, row.order_id, BrokerOrder.of(found), source="lookup")
            elif row.created_at < ctx.clock.now() - ABANDON_PENDING_AFTER:
                await fail_pending(ctx, row.order_id, None, None,
                                   "not at the broker and its approval has long expired; nothing was submitted")
