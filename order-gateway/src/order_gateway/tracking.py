"""Turning what the broker says about an order into our state and events, whichever way it arrived.

One function, `apply_report`, is used for the trade_updates stream, polling, targeted lookups and the answer to
a submit: it applies the status through the transition table (lifecycle.py), counts new fills exactly once
(fills.py), updates the order row and writes the events to the outbox, all in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from tradebus_contracts import FillReported, OrderSide, OrderStatus, OrderStatusChanged
from tradebus_contracts.envelope import Envelope
from tradebus_runtime import get_logger, outbox

from . import store
from .broker import dec, parse_time
from .fills import ExecutionReport, Recorded, after, reconcile
from .lifecycle import Change, apply_status

PRODUCER = "order-gateway"
log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class BrokerOrderView:
    """The parts of Alpaca's order object we track, with Decimals."""

    broker_order_id: str
    client_order_id: str
    status: OrderStatus
    filled_qty: Decimal
    filled_avg_price: Decimal | None
    side: OrderSide
    updated_at: datetime | None

    @classmethod
    def of(cls, order: dict[str, Any]) -> BrokerOrderView:
        return cls(
            broker_order_id=str(order["id"]),
            client_order_id=str(order["client_order_id"]),
            status=OrderStatus(str(order["status"])),
            filled_qty=dec(order.get("filled_qty")) or Decimal(0),
            filled_avg_price=dec(order.get("filled_avg_price")),
            side=OrderSide(str(order["side"])),
            updated_at=parse_time(order.get("updated_at")),
        )


async def apply_report(
    conn: asyncpg.Connection,
    row: store.OrderRow,
    view: BrokerOrderView,
    source: str,
    execution: ExecutionReport | None = None,
    position_qty: Decimal | None = None,
) -> list[Envelope]:
    """Apply one broker report to a locked order row; returns the events written to the outbox."""
    events: list[Envelope] = []
    recorded = Recorded(row.filled_qty, row.filled_notional)
    reports = []
    if execution is not None:
        reports.append(execution)
    if view.filled_qty > recorded.cum_qty:  # the order says more is filled than any execution told us
        reports.append(ExecutionReport(source=source, cum_qty=view.filled_qty, avg_price=view.filled_avg_price,
                                       timestamp=view.updated_at))
    fill_source = source if source in ("stream", "poll", "webhook") else "poll"
    for report in reports:
        seen = report.execution_id is not None and await store.execution_seen(conn, report.execution_id)
        fill = reconcile(recorded, report, seen, row.client_order_id)
        if fill is None:
            continue
        executed_at = report.timestamp or view.updated_at or datetime.now(UTC)
        await store.insert_fill(conn, fill.execution_id, row.order_id, fill.qty, fill.price, fill.cum_qty,
                                report.source, executed_at)
        recorded = after(recorded, fill)
        events.append(FillReported(
            producer=PRODUCER, order_id=row.order_id, correlation_id=str(row.order_id),
            client_order_id=row.client_order_id, broker_order_id=view.broker_order_id, symbol=row.symbol,
            side=view.side, execution_id=fill.execution_id, qty=fill.qty, price=fill.price, cum_qty=fill.cum_qty,
            order_status=view.status, position_qty=position_qty if report is execution else None,
            executed_at=executed_at, source=fill_source,
        ))
    current = OrderStatus(row.broker_status) if row.broker_status else None
    update = apply_status(current, view.status, more_filled=recorded.cum_qty > row.filled_qty)
    if update.change is Change.ILLEGAL:
        log.error("gateway.illegal_transition", order_id=str(row.order_id), current=row.broker_status,
                  reported=view.status.value, source=source)
    elif update.change is Change.APPLIED:
        avg = (recorded.notional / recorded.cum_qty).quantize(Decimal("0.000001")) if recorded.cum_qty else None
        events.append(OrderStatusChanged(
            producer=PRODUCER, order_id=row.order_id, correlation_id=str(row.order_id),
            client_order_id=row.client_order_id, broker_order_id=view.broker_order_id, symbol=row.symbol,
            previous_status=current, status=view.status, filled_qty=recorded.cum_qty, filled_avg_price=avg,
            source=source, broker_timestamp=view.updated_at,
        ))
    status = update.status.value if update.status is not None else None
    await store.record_broker_report(conn, row.order_id, status, recorded.cum_qty, recorded.notional)
    if events:
        await outbox.add(conn, *events)
    return events
