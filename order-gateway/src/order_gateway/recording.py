"""Writing down what the broker said: each change to an order is one transaction with its events (outbox).

* `write_report`: the thin writer around `broker_reports.apply_report`, inside the caller's transaction: it reads
  which of the report's execution ids are already recorded (`decide_report`, which also writes the new fills), then
  writes the order row and the events the pure core decided on;
* `record_report`: the same for a submitted order, in a transaction of its own, then publishes;
* `confirm_submitted`: pending -> submitted, with ``OrderSubmitted`` and the first status (idempotent);
  `confirm_recorded` the same in one statement, for the row the submit wrote with its lease while nothing else
  touched it;
* `fail_pending`: pending -> failed, with ``SubmissionFailed``; `fail_unsent` the same inside the caller's
  transaction (an approval that could never be sent);
* `adopt_late`: failed -> submitted when the broker reports an order we had given up on (a POST that landed after
  all): applied, never dropped, and said loudly.

Every function here locks the order row first (`confirm_recorded` instead writes only a row still at the version it
wrote): submits, cancels, the stream and polling serialise on it. Events go into the outbox claimed by this process
(`Outbox.add`, `Outbox.insert_claimed`) and out with `Outbox.publish_now` after the commit: no claim or read-back
round trip on the way to the bus.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from uuid import UUID

import asyncpg

from tradebus_contracts import OrderSubmitted, SubmissionFailed
from tradebus_contracts.envelope import Envelope
from tradebus_contracts.events import StatusSource
from tradebus_runtime import get_logger

from . import store
from .broker import BrokerOrder
from .broker_reports import PRODUCER, ReportOutcome, apply_report
from .context import Context
from .fills import ExecutionReport
from .lifecycle import Change
from .model import BrokerCall, OrderRow, SubmitState

log = get_logger(__name__)


async def decide_report(ctx: Context, conn: asyncpg.Connection, row: OrderRow, order: BrokerOrder,
                        source: StatusSource, execution: ExecutionReport | None = None,
                        position_qty: Decimal | None = None) -> ReportOutcome:
    """What one broker report adds to a row the caller has locked (reading which execution ids are recorded)."""
    candidates = [execution.execution_id] if execution is not None and execution.execution_id else []
    outcome = apply_report(row, order, source, now=ctx.clock.now(), execution=execution, position_qty=position_qty,
                           recorded_execution_ids=await store.recorded_execution_ids(conn, candidates))
    if outcome.status.change is Change.ILLEGAL:  # our picture of the order is wrong: not applied, said loudly
        log.error("gateway.illegal_transition", order_id=str(row.order_id), current=row.broker_status,
                  reported=order.status.value, source=source)
    for f in outcome.fills:
        await store.insert_fill(conn, f.fill.execution_id, row.order_id, f.fill.qty, f.fill.price, f.fill.cum_qty,
                                f.source, f.executed_at)
    return outcome


async def write_report(ctx: Context, conn: asyncpg.Connection, row: OrderRow, order: BrokerOrder,
                       source: StatusSource, execution: ExecutionReport | None = None,
                       position_qty: Decimal | None = None) -> tuple[Envelope, ...]:
    """Apply one broker report to a row the caller has locked; returns the events written to the outbox (claimed
    by this process: the caller publishes them with ``publish_now`` after the commit)."""
    outcome = await decide_report(ctx, conn, row, order, source, execution, position_qty)
    await store.record_broker_report(conn, row.order_id, _status(outcome), outcome.recorded.cum_qty,
                                     outcome.recorded.notional)
    await ctx.outbox.add(conn, *outcome.events)
    return outcome.events


def _status(outcome: ReportOutcome) -> str | None:
    return outcome.status.status.value if outcome.status.status is not None else None


async def record_report(ctx: Context, order_id: UUID, order: BrokerOrder, source: StatusSource,
                        execution: ExecutionReport | None = None, position_qty: Decimal | None = None) -> None:
    """Apply one broker report to a submitted order in a transaction of its own, then publish."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        row = await store.lock_order(conn, order_id)
        if row is None or row.state != SubmitState.SUBMITTED:
            log.warning("gateway.report_not_applied", order_id=str(order_id), state=row and row.state.value,
                        status=order.status.value, source=source)
            return
        events = await write_report(ctx, conn, row, order, source, execution, position_qty)
    await ctx.outbox.publish_now(events)


async def confirm_submitted(ctx: Context, order_id: UUID, order: BrokerOrder, source: StatusSource,
                            call: str | None = None, *, grouped: bool = False) -> bool:
    """Record that the broker has the order (from a submit answer, a lookup or the stream), with OrderSubmitted and
    the first status, in one transaction (plus the audit row of the broker ``call`` that told us), then publish.
    ``grouped``: the transaction is shared with other orders' (`GroupCommit`: the approval path). Idempotent:
    False when the row is no longer pending."""
    async def confirm(conn: asyncpg.Connection) -> tuple[tuple[Envelope, ...], OrderRow] | None:
        return await _confirm(ctx, conn, order_id, order, source, call)

    if grouped:
        confirmed = await ctx.group.run(confirm)
    else:
        async with ctx.pool.acquire() as conn, conn.transaction():
            confirmed = await confirm(conn)
    if confirmed is None:
        return False
    await _announce(ctx, *confirmed, order)
    return True


async def confirm_recorded(ctx: Context, lease: store.Lease, pending: store.Pending, order: BrokerOrder,
                           call: str) -> None:
    """`confirm_submitted` for the row this submit wrote with its lease (``pending``, `store.submit_lease`): when the
    row is as it was written and the answer brings no fill, row, audit, events and the end of the lease go in one
    statement; otherwise — anything touched the row since — the locked, grouped transaction decides."""
    submitted, row = _submitted(ctx, pending.row, order)
    outcome = apply_report(row, order, "lookup", now=ctx.clock.now())
    if not outcome.fills and outcome.status.change is not Change.ILLEGAL:
        events = (submitted, *outcome.events)
        written = await store.confirm_pending(
            lease, pending, order.broker_order_id, _status(outcome), outcome.recorded.cum_qty,
            outcome.recorded.notional, BrokerCall(call, 200),
            ctx.outbox.insert_claimed(events, first=10, only_if="EXISTS (SELECT 1 FROM upd)"))
        if written:
            ctx.outbox.claimed(events)
            await _announce(ctx, events, _reported(row, outcome), order)
            return
    await confirm_submitted(ctx, row.order_id, order, source="lookup", call=call, grouped=True)


async def _announce(ctx: Context, events: tuple[Envelope, ...], row: OrderRow, order: BrokerOrder) -> None:
    ctx.remember(row)
    log.info("gateway.submitted", order_id=str(row.order_id), broker_order_id=order.broker_order_id,
             status=order.status.value)
    await ctx.outbox.publish_now(events)


def _submitted(ctx: Context, row: OrderRow, order: BrokerOrder) -> tuple[OrderSubmitted, OrderRow]:
    """``OrderSubmitted`` for a pending row the broker has, and the row as submitted (before its first report)."""
    submitted = OrderSubmitted(
        producer=PRODUCER, order_id=row.order_id, correlation_id=str(row.order_id),
        client_order_id=row.client_order_id, broker_order_id=order.broker_order_id, approval_id=row.approval_id,
        status=order.status, submitted_at=order.submitted_at or ctx.clock.now(), **dict(row.order_fields or {}),
    )
    return submitted, dataclasses.replace(row, state=SubmitState.SUBMITTED, broker_order_id=order.broker_order_id)


def _reported(row: OrderRow, outcome: ReportOutcome) -> OrderRow:
    """The row after the report ``outcome`` was written to it."""
    return dataclasses.replace(row, broker_status=_status(outcome) or row.broker_status,
                               filled_qty=outcome.recorded.cum_qty, filled_notional=outcome.recorded.notional)


async def _confirm(ctx: Context, conn: asyncpg.Connection, order_id: UUID, order: BrokerOrder, source: StatusSource,
                   call: str | None) -> tuple[tuple[Envelope, ...], OrderRow] | None:
    """pending -> submitted inside the caller's transaction; the events written and the row as it now stands (None:
    the row was not pending)."""
    row = await store.lock_order(conn, order_id)
    if row is None or row.state != SubmitState.PENDING:
        if call is not None:
            await store.record_broker_call(conn, order_id, BrokerCall(call, 200))
        return None
    # the row as it now stands (still locked by this transaction): no need to read it back
    submitted, row = _submitted(ctx, row, order)
    outcome = await decide_report(ctx, conn, row, order, source)
    await store.record_submitted(conn, order_id, order.broker_order_id, _status(outcome), outcome.recorded.cum_qty,
                                 outcome.recorded.notional, BrokerCall(call, 200) if call is not None else None)
    events = (submitted, *outcome.events)
    await ctx.outbox.add(conn, *events)
    return events, _reported(row, outcome)


async def fail_pending(ctx: Context, order_id: UUID, http_status: int | None, code: int | None, message: str,
                       causation_id: UUID | None = None) -> None:
    """pending -> failed with SubmissionFailed: the broker refused it, or it can no longer be submitted."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        failed = await _fail(ctx, conn, order_id, http_status, code, message, causation_id)
    if failed:
        log.warning("gateway.submission_failed", order_id=str(order_id), http_status=http_status, code=code,
                    message=message)
        await ctx.outbox.publish_now(failed)


async def fail_unsent(ctx: Context, conn: asyncpg.Connection, order_id: UUID, message: str,
                      causation_id: UUID | None) -> tuple[Envelope, ...]:
    """pending -> failed inside the caller's transaction, for an order that was never sent; the caller publishes
    the events returned (``publish_now``) after its commit."""
    return await _fail(ctx, conn, order_id, None, None, message, causation_id)


async def _fail(ctx: Context, conn: asyncpg.Connection, order_id: UUID, http_status: int | None, code: int | None,
                message: str, causation_id: UUID | None) -> tuple[Envelope, ...]:
    row = await store.lock_order(conn, order_id)
    if row is None or row.state != SubmitState.PENDING:
        return ()
    await store.set_state(conn, order_id, SubmitState.FAILED)
    failed = SubmissionFailed(
        producer=PRODUCER, order_id=order_id, correlation_id=str(order_id), causation_id=causation_id,
        client_order_id=row.client_order_id, symbol=row.symbol, http_status=http_status, code=code,
        message=message or "refused by the broker",
    )
    await ctx.outbox.add(conn, failed)
    return (failed,)


async def adopt_late(ctx: Context, order_id: UUID, order: BrokerOrder, source: StatusSource) -> bool:
    """The broker reports an order we recorded as failed: it exists after all (a POST that landed late). Adopt it
    — failed -> submitted with ``OrderSubmitted`` and its status, so its fills count and risk books it again (risk
    reopens an approval that a ``SubmissionFailed`` closed when its ``OrderSubmitted`` follows) — and say so with the
    ``gateway.late_order_adopted`` log line at error level, the alert: an operator should know the record was wrong
    (no contract event means "late order adopted"; the ``OrderSubmitted`` after a ``SubmissionFailed`` is what the
    bus sees). False when the row is not failed."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        row = await store.lock_order(conn, order_id)
        if row is None or row.state != SubmitState.FAILED or row.approval_id is None:
            return False
        await store.set_state(conn, order_id, SubmitState.PENDING)
    log.error("gateway.late_order_adopted", order_id=str(order_id), broker_order_id=order.broker_order_id,
              status=order.status.value, source=source,
              message="the broker holds an order recorded as failed: adopted, its fills will be counted")
    return await confirm_submitted(ctx, order_id, order, source)
