"""Cancel with verification (AC-21.1.5): DELETE at the broker, then confirm the final state before answering.

What a request means for the order we hold is decided by `decisions.cancel_step` (pure), in the transaction that
locks the row (a submit takes the same lock):

* not submitted yet (no row): the order is recorded ``canceled_before_submit`` so that an approval arriving
  later is never submitted, and the answer is ``canceled_before_submit``;
* being submitted right now (``pending``): wait for the submit to resolve. The message is retried as a transient
  wait (`SubmitInFlight` is a ``DependencyUnavailable``: the submit waits on the broker), never counted toward
  dead-lettering, so the request still ends with a CancelResult once the submit resolves (submitted: the cancel
  goes to the broker; failed: ``not_cancelable``). The contract has no outcome for "not yet, will be cancelled once
  the broker has it", so no interim result is published;
* at the broker: DELETE, then follow the order (lookups, each applied like any broker report; the stream also
  updates it) until it is final. What that came to is `decisions.cancel_outcome`: ``canceled``,
  ``too_late_partially_filled``, ``too_late_filled``, ``not_cancelable`` or ``failed``.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from uuid import UUID

from nats.aio.msg import Msg

from tradebus_contracts import CancelOutcome, CancelRequested, CancelResult, client_order_id_for
from tradebus_contracts.envelope import Envelope
from tradebus_runtime import expect, get_logger, outbox
from tradebus_runtime.faults import DependencyUnavailable

from . import store
from .broker import BrokerError, BrokerOrder, BrokerRejected
from .broker_reports import PRODUCER
from .context import Context
from .decisions import (
    CONFIRM_WINDOW_S,
    AlreadyAnswered,
    AnswerNow,
    CancelAtBroker,
    WaitForSubmit,
    cancel_outcome,
    cancel_step,
)
from .model import BrokerCall
from .recording import record_report

log = get_logger(__name__)
LOOKUP_EVERY_S = 0.25


class SubmitInFlight(DependencyUnavailable):
    """The order is being submitted: answer the cancel once the submit has resolved. A wait, not a failure: the
    runtime retries it for as long as the submit takes and never dead-letters it (`faults.is_transient`)."""


class CancelHandler:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def on_cancel(self, envelope: Envelope, msg: Msg) -> None:
        event = expect(CancelRequested, envelope, msg)
        ctx = self.ctx
        async with ctx.pool.acquire() as conn, conn.transaction():
            step = cancel_step(await store.lock_order(conn, event.order_id))
            match step:
                case WaitForSubmit():
                    raise SubmitInFlight(f"order {event.order_id} is being submitted")
                case AnswerNow():
                    if step.record_before_submit:  # so that an approval arriving later is never submitted
                        await store.insert_canceled_before_submit(conn, event.order_id,
                                                                  client_order_id_for(event.order_id),
                                                                  event.symbol, ctx.clock.now())
                    await outbox.add(conn, _result(event, step.outcome, Decimal(0), None, step.message))
                case CancelAtBroker():
                    await store.mark_cancel_requested(conn, event.order_id, ctx.clock.now())
                case AlreadyAnswered():
                    pass  # a repeat: the first request was answered when it wrote this row
        if isinstance(step, AnswerNow):
            await ctx.outbox.flush()
        elif isinstance(step, CancelAtBroker):
            await self._cancel_at_broker(event, step)

    async def _cancel_at_broker(self, event: CancelRequested, step: CancelAtBroker) -> None:
        ctx = self.ctx
        refused = None if step.already_final else await self._delete(event.order_id, step.broker_order_id)
        final = await self._confirm(event.order_id, step.broker_order_id, stop_early=refused is not None)
        outcome, message = cancel_outcome(final, refused)
        async with ctx.pool.acquire() as conn, conn.transaction():
            await outbox.add(conn, _result(event, outcome, final.filled_qty if final else step.filled_qty,
                                           step.broker_order_id, message))
        log.info("gateway.cancel_result", order_id=str(event.order_id), outcome=outcome.value)
        await ctx.outbox.flush()

    async def _delete(self, order_id: UUID, broker_order_id: str) -> str | None:
        """DELETE the order at the broker; returns why the broker refused, or None when it took the request."""
        try:
            await self.ctx.broker.cancel(broker_order_id)
        except BrokerError as exc:
            await store.record_broker_call(self.ctx.pool, order_id, BrokerCall.failed("cancel", exc))
            # 422: not cancelable (e.g. already filled); either way the confirmation below says what happened
            return exc.message if isinstance(exc, BrokerRejected) else f"broker error: {exc.message}"
        await store.record_broker_call(self.ctx.pool, order_id, BrokerCall("cancel", 204))
        return None

    async def _confirm(self, order_id: UUID, broker_order_id: str, *, stop_early: bool) -> BrokerOrder | None:
        """Follow the order until the broker reports a final status (or the window closes)."""
        ctx = self.ctx
        deadline = asyncio.get_running_loop().time() + CONFIRM_WINDOW_S
        order: BrokerOrder | None = None
        while True:
            try:
                order = BrokerOrder.of(await ctx.broker.order(broker_order_id))
            except BrokerError:
                pass  # asked again below, until the window closes
            else:
                await record_report(ctx, order_id, order, "lookup")
                if order.status.is_final or stop_early:
                    return order
            if asyncio.get_running_loop().time() > deadline:
                return order
            await asyncio.sleep(LOOKUP_EVERY_S)


def _result(event: CancelRequested, outcome: CancelOutcome, filled: Decimal, broker_order_id: str | None,
            message: str) -> CancelResult:
    return CancelResult(
        producer=PRODUCER, order_id=event.order_id, correlation_id=str(event.order_id),
        causation_id=event.event_id, symbol=event.symbol, outcome=outcome, filled_qty=filled,
        broker_order_id=broker_order_id, message=message,
    )
