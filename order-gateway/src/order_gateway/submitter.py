"""Submitting an approved order exactly once (DESIGN §5.1, §5.2; STYLE §5).

Order of things, per RiskApproved:
1. the gate (signature, expiry, trading state) — a refusal is recorded, logged and dead-lettered, never retried;
2. the order row is written ``pending`` BEFORE the broker is called (a redelivered approval finds it);
3. the POST, with the SDK's own retries off and a timeout, through the client-side rate limiter;
4. on an ambiguous outcome (timeout, 5xx, crash, redelivery of a pending order) the broker is asked by
   client_order_id before anything is sent again; a duplicate-id 422 means "already there: fetch it".
   Resending is safe only because client_order_id is derived from order_id: the broker itself refuses a second
   order with the same id;
5. a definitive 403/422 becomes ``SubmissionFailed`` with Alpaca's code and message; 429 waits as the headers say.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Any

from nats.aio.msg import Msg

from tradebus_contracts import (
    OrderSubmitted,
    RiskApproved,
    SubmissionFailed,
    client_order_id_for,
    signed_order,
)
from tradebus_contracts.envelope import Envelope
from tradebus_runtime import PoisonMessage, get_logger, outbox

from . import gate, store
from .broker import BrokerError, BrokerRateLimited, BrokerRejected, BrokerUnavailable, parse_time
from .context import Context
from .tracking import PRODUCER, BrokerOrderView, apply_report

log = get_logger(__name__)
MAX_ATTEMPTS = 5


def plan(row: store.OrderRow | None, approval: RiskApproved, refusal: gate.Refusal | None) -> tuple[str, str | None]:
    """What to do with an approval given the order row we hold (locked) and the gate's verdict.

    ``submit`` (new order, gate passed) | ``resume`` (this approval's order is pending: look it up first) |
    ``repeat`` (already submitted/failed: nothing to do) | ``after_cancel`` (cancelled before submission) |
    ``refuse`` (gate refused, or another approval for an order already used: approvals are single-use).
    """
    if row is not None and row.approval_id == approval.approval_id:
        if row.state == "pending":
            return "resume", None if refusal is None else f"{refusal.code}: {refusal.message} (lookup only)"
        return "repeat", f"order already {row.state}"
    if refusal is not None:
        return "refuse", f"{refusal.code}: {refusal.message}"
    if row is None:
        return "submit", None
    if row.state == "canceled_before_submit":
        return "after_cancel", "order was cancelled before it was submitted"
    return "refuse", "DUPLICATE_ORDER: a different approval for this order was already used"


class SubmitNotConfirmed(Exception):
    """The broker could not be reached or asked; the order stays pending and the approval is redelivered."""


class Submitter:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def on_approval(self, event: Envelope, _: Msg) -> None:
        if not isinstance(event, RiskApproved):
            raise PoisonMessage(f"{event.event_type} on an approval subject")
        ctx = self.ctx
        refusal = gate.check(event, ctx.trusted, ctx.now(), ctx.trading.state, ctx.position_qty(event.symbol))
        async with ctx.pool.acquire() as conn, conn.transaction():  # one round trip decides and records
            row = await store.lock_order(conn, event.order_id)
            action, reason = plan(row, event, refusal)
            if action == "submit":
                await store.insert_pending(conn, event.order_id, client_order_id_for(event.order_id),
                                           event.approval_id, event.symbol, signed_order(event).model_dump(mode="json"))
            outcome = {"submit": "accepted", "resume": "resumed", "repeat": "repeat"}.get(action, "refused")
            await store.record_approval_seen(conn, event.event_id, event.approval_id, event.order_id, outcome, reason)
        if action == "refuse":
            log.warning("gateway.approval_refused", order_id=str(event.order_id),
                        approval_id=str(event.approval_id), reason=reason)
            raise PoisonMessage(f"approval refused: {reason}")
        if action in ("repeat", "after_cancel"):
            log.info("gateway.approval_not_submitted", order_id=str(event.order_id), reason=reason)
            return
        # resume: a crash or a lost answer left it pending: ask the broker before anything else
        await self.submit(event, lookup_first=action == "resume", may_post=refusal is None)

    async def submit(self, approval: RiskApproved, *, lookup_first: bool, may_post: bool) -> None:
        ctx = self.ctx
        client_order_id = client_order_id_for(approval.order_id)
        order = signed_order(approval)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if lookup_first:
                try:
                    found = await ctx.broker.order_by_client_id(client_order_id)
                except BrokerError as exc:
                    await store.record_broker_call(ctx.pool, approval.order_id, "lookup", exc.status, exc.code,
                                                   exc.message)
                    await asyncio.sleep(min(2.0 * attempt, 5.0))
                    continue
                if found is not None:
                    await confirm_submitted(ctx, approval.order_id, found, source="lookup", call="lookup")
                    return
                await store.record_broker_call(ctx.pool, approval.order_id, "lookup", 404, None, None)
                if not may_post or ctx.now() >= approval.expires_at:
                    await self.fail(approval, None, None, "the approval expired before the order reached the broker; "
                                    "nothing was submitted")
                    return
            await ctx.limiter.acquire()
            try:
                placed = await ctx.broker.submit(order, client_order_id)
            except BrokerRejected as exc:
                await store.record_broker_call(ctx.pool, approval.order_id, "submit", exc.status, exc.code, exc.message)
                if exc.status == 422 and "client_order_id" in exc.message.lower():
                    lookup_first = True  # already there (an earlier attempt landed): fetch it
                    continue
                await self.fail(approval, exc.status, exc.code, exc.message)
                return
            except BrokerRateLimited as exc:
                await store.record_broker_call(ctx.pool, approval.order_id, "submit", 429, exc.code, exc.message)
                log.warning("gateway.rate_limited", wait_s=exc.retry_after_s)
                await asyncio.sleep(exc.retry_after_s)
                lookup_first = True
                continue
            except BrokerUnavailable as exc:
                await store.record_broker_call(ctx.pool, approval.order_id, "submit", exc.status, exc.code, exc.message)
                log.warning("gateway.submit_ambiguous", order_id=str(approval.order_id), error=exc.message,
                            attempt=attempt)
                lookup_first = True
                await asyncio.sleep(min(0.5 * attempt, 3.0))
                continue
            await confirm_submitted(ctx, approval.order_id, placed, source="lookup", call="submit")
            return
        raise SubmitNotConfirmed(f"order {approval.order_id}: broker unreachable after {MAX_ATTEMPTS} attempts")

    async def fail(self, approval: RiskApproved, http_status: int | None, code: int | None, message: str) -> None:
        await fail_pending(self.ctx, approval.order_id, http_status, code, message, causation_id=approval.event_id)


async def fail_pending(ctx: Context, order_id: Any, http_status: int | None, code: int | None, message: str,
                       causation_id: Any = None) -> None:
    """pending -> failed with SubmissionFailed: the broker refused it, or it can no longer be submitted."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        row = await store.lock_order(conn, order_id)
        if row is None or row.state != "pending":
            return
        await store.set_state(conn, order_id, "failed")
        await outbox.add(conn, SubmissionFailed(
            producer=PRODUCER, order_id=order_id, correlation_id=str(order_id), causation_id=causation_id,
            client_order_id=row.client_order_id, symbol=row.symbol, http_status=http_status, code=code,
            message=message or "refused by the broker",
        ))
    log.warning("gateway.submission_failed", order_id=str(order_id), http_status=http_status, code=code,
                message=message)
    await ctx.outbox.flush()


async def confirm_submitted(ctx: Context, order_id: Any, broker_order: dict[str, Any], source: str,
                            call: str | None = None) -> bool:
    """Record that the broker has the order (from a submit answer, a lookup or the stream), with OrderSubmitted and
    the first status, in one transaction (plus the audit row of the broker call that told us). Idempotent."""
    view = BrokerOrderView.of(broker_order)
    async with ctx.pool.acquire() as conn, conn.transaction():
        if call is not None:
            await store.record_broker_call(conn, order_id, call, 200, None, None)
        row = await store.lock_order(conn, order_id)
        if row is None or row.state != "pending":
            return False
        await store.set_state(conn, order_id, "submitted", broker_order_id=view.broker_order_id)
        submitted = OrderSubmitted(
            producer=PRODUCER, order_id=order_id, correlation_id=str(order_id), client_order_id=row.client_order_id,
            broker_order_id=view.broker_order_id, approval_id=row.approval_id, status=view.status,
            submitted_at=_submitted_at(broker_order, ctx.now()), **dict(row.order_fields or {}),
        )
        await outbox.add(conn, submitted)
        # the row as it now stands (still locked by this transaction): no need to read it back
        row = dataclasses.replace(row, state="submitted", broker_order_id=view.broker_order_id)
        reported = await apply_report(conn, row, view, source)
    log.info("gateway.submitted", order_id=str(order_id), broker_order_id=view.broker_order_id,
             status=view.status.value)
    await ctx.outbox.publish_now([submitted, *reported])
    return True


def _submitted_at(order: dict[str, Any], default: datetime) -> datetime:
    return parse_time(order.get("submitted_at") or order.get("created_at")) or default

