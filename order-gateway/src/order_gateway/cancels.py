"""Cancel with verification (AC-21.1.5): DELETE at the broker, then confirm the final state before answering.

* not submitted yet (no row): the order is recorded ``canceled_before_submit`` so that an approval arriving
  later is never submitted, and the answer is ``canceled_before_submit``;
* being submitted right now (``pending``): wait for the submit to resolve (the message is retried shortly);
* at the broker: DELETE, then follow the order (lookups; the stream also updates it) until it is final:
  ``canceled`` (nothing filled), ``too_late_partially_filled`` (the rest cancelled, the filled part stands),
  ``too_late_filled``; a broker that refuses the cancel and leaves the order live -> ``not_cancelable``;
  no final state within the confirmation window -> ``failed``.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from nats.aio.msg import Msg

from tradebus_contracts import CancelOutcome, CancelRequested, CancelResult, OrderStatus, client_order_id_for
from tradebus_contracts.envelope import Envelope
from tradebus_runtime import PoisonMessage, get_logger, outbox

from . import store
from .broker import BrokerError, BrokerRejected
from .context import Context
from .tracking import PRODUCER, BrokerOrderView, apply_report

log = get_logger(__name__)
CONFIRM_WINDOW_S = 10.0


class SubmitInFlight(Exception):
    """The order is being submitted: answer the cancel once the broker has it (the message is retried)."""


class Canceller:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def on_cancel(self, event: Envelope, _: Msg) -> None:
        if not isinstance(event, CancelRequested):
            raise PoisonMessage(f"{event.event_type} on a cancel subject")
        ctx = self.ctx
        async with ctx.pool.acquire() as conn, conn.transaction():
            row = await store.lock_order(conn, event.order_id)
            if row is None:
                await store.insert_canceled_before_submit(conn, event.order_id, client_order_id_for(event.order_id),
                                                          event.symbol, ctx.now())
                await outbox.add(conn, self._result(event, CancelOutcome.CANCELED_BEFORE_SUBMIT, Decimal(0), None,
                                                    "cancelled before it was submitted: it never will be"))
                row = None
            elif row.state == "canceled_before_submit":
                return
            elif row.state == "failed":
                await outbox.add(conn, self._result(event, CancelOutcome.NOT_CANCELABLE, Decimal(0), None,
                                                    "the order never reached the broker (submission failed)"))
                row = None
            elif row.state == "pending":
                raise SubmitInFlight(f"order {event.order_id} is being submitted")
            else:
                await store.mark_cancel_requested(conn, event.order_id, ctx.now())
        if row is None:
            await ctx.outbox.flush()
            return
        await self._cancel_at_broker(event, row)

    async def _cancel_at_broker(self, event: CancelRequested, row: store.OrderRow) -> None:
        ctx = self.ctx
        assert row.broker_order_id is not None
        refused: str | None = None
        if row.broker_status is None or not OrderStatus(row.broker_status).is_final:
            await ctx.limiter.acquire()
            try:
                await ctx.broker.cancel(row.broker_order_id)
                await store.record_broker_call(ctx.pool, row.order_id, "cancel", 204, None, None)
            except BrokerRejected as exc:  # 422: not cancelable (e.g. already filled); confirm below
                refused = exc.message
                await store.record_broker_call(ctx.pool, row.order_id, "cancel", exc.status, exc.code, exc.message)
            except BrokerError as exc:
                await store.record_broker_call(ctx.pool, row.order_id, "cancel", exc.status, exc.code, exc.message)
                refused = f"broker error: {exc.message}"
        final = await self._confirm(row, stop_early=refused is not None)
        outcome, message = _outcome(final, refused)
        async with ctx.pool.acquire() as conn, conn.transaction():
            await outbox.add(conn, self._result(event, outcome, final.filled_qty if final else row.filled_qty,
                                                row.broker_order_id, message))
        log.info("gateway.cancel_result", order_id=str(row.order_id), outcome=outcome.value)
        await ctx.outbox.flush()

    async def _confirm(self, row: store.OrderRow, *, stop_early: bool) -> BrokerOrderView | None:
        """Follow the order until the broker reports a final status (or the window closes)."""
        ctx = self.ctx
        deadline = asyncio.get_running_loop().time() + CONFIRM_WINDOW_S
        view: BrokerOrderView | None = None
        while True:
            try:
                raw = await ctx.broker.order(row.broker_order_id)  # type: ignore[arg-type]
            except BrokerError:
                raw = None
            if raw is not None:
                view = BrokerOrderView.of(raw)
                async with ctx.pool.acquire() as conn, conn.transaction():
                    locked = await store.lock_order(conn, row.order_id)
                    if locked is not None:
                        await apply_report(conn, locked, view, "lookup")
                await ctx.outbox.flush()
                if view.status.is_final or stop_early:
                    return view
            if asyncio.get_running_loop().time() > deadline:
                return view
            await asyncio.sleep(0.25)

    def _result(self, event: CancelRequested, outcome: CancelOutcome, filled: Decimal, broker_order_id: str | None,
                message: str) -> CancelResult:
        return CancelResult(
            producer=PRODUCER, order_id=event.order_id, correlation_id=str(event.order_id),
            causation_id=event.event_id, symbol=event.symbol, outcome=outcome, filled_qty=filled,
            broker_order_id=broker_order_id, message=message,
        )


def _outcome(view: BrokerOrderView | None, refused: str | None) -> tuple[CancelOutcome, str]:
    if view is None:
        return CancelOutcome.FAILED, "the broker could not be asked for the order's state"
    if view.status == OrderStatus.FILLED:
        return CancelOutcome.TOO_LATE_FILLED, f"too late: the order filled ({view.filled_qty})"
    if view.status in (OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED, OrderStatus.REPLACED):
        if view.filled_qty > 0:
            return CancelOutcome.TOO_LATE_PARTIALLY_FILLED, (
                f"partially filled ({view.filled_qty}) before the cancel; the rest is {view.status.value}")
        return CancelOutcome.CANCELED, f"the order is {view.status.value}"
    if refused is not None:
        return CancelOutcome.NOT_CANCELABLE, f"the broker refused the cancel: {refused}"
    return CancelOutcome.FAILED, f"no final state within {CONFIRM_WINDOW_S:.0f}s (still {view.status.value})"
