"""What one broker report means for an order we track: the pure core behind every way a report arrives.

The trade_updates stream, polling, targeted lookups and the answer to a submit all end in `apply_report`: given
our row (as locked by the caller), what the broker says about the order, and which execution ids are already
recorded, it decides

* the new fills — the stream's execution first (by its execution id; an earlier execution it shows we missed is
  priced from the order's average), then whatever the order's cumulative ``filled_qty`` says beyond that (fills.py:
  each share counted once, whichever source saw it first);
* the status — through the (from, to) transition table (lifecycle.py): applied, same, stale or illegal;
* the events to publish — one ``FillReported`` per new fill, then ``OrderStatusChanged`` if the status moved;
* the cumulative quantity and notional to record.

Pure: no database, no bus. ``recording.write_report`` reads what it needs and writes what this decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tradebus_contracts import FillReported, OrderStatus, OrderStatusChanged
from tradebus_contracts.envelope import Envelope
from tradebus_contracts.events import StatusSource
from tradebus_contracts.services import Service

from .broker import BrokerOrder
from .fills import ExecutionReport, NewFill, Recorded, after, new_fills
from .lifecycle import Change, StatusUpdate, apply_status
from .model import OrderRow

PRODUCER = Service.GATEWAY.value
AVG_PLACES = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class FillToRecord:
    """A row of ``fills``: the new fill, which source told us, and when it executed."""

    fill: NewFill
    source: str
    executed_at: datetime


@dataclass(frozen=True, slots=True)
class ReportOutcome:
    """What ``apply_report`` decided; ``recording.write_report`` records it and adds ``events`` to the outbox."""

    status: StatusUpdate  # what the reported status means given ours, and the status to keep
    fills: tuple[FillToRecord, ...]
    recorded: Recorded  # the order's cumulative quantity and notional after this report
    events: tuple[Envelope, ...]  # the FillReported events, then OrderStatusChanged if the status moved


def apply_report(row: OrderRow, order: BrokerOrder, source: StatusSource, *, now: datetime,
                 execution: ExecutionReport | None = None, position_qty: Decimal | None = None,
                 recorded_execution_ids: frozenset[str] = frozenset()) -> ReportOutcome:
    """Decide what one broker report adds to our row (see the module docstring). ``now`` dates a fill the broker
    gave no time for; ``position_qty`` is the stream's position after its execution."""
    recorded = Recorded(row.filled_qty, row.filled_notional)
    reports = [] if execution is None else [execution]
    if order.filled_qty > recorded.cum_qty:  # the order says more is filled than any execution told us
        reports.append(ExecutionReport(source=source, cum_qty=order.filled_qty, avg_price=order.filled_avg_price,
                                       timestamp=order.updated_at))
    fills: list[FillToRecord] = []
    events: list[Envelope] = []
    for report in reports:
        seen = report.execution_id is not None and report.execution_id in recorded_execution_ids
        # the order's average belongs to its filled_qty: it prices an execution we missed before this one
        avg_price = order.filled_avg_price if report.cum_qty == order.filled_qty else None
        for fill in new_fills(recorded, report, seen, row.client_order_id, avg_price):
            recorded = after(recorded, fill)
            executed_at = report.timestamp or order.updated_at or now
            fills.append(FillToRecord(fill, report.source, executed_at))
            position_after = position_qty if report is execution and fill.cum_qty == report.cum_qty else None
            events.append(_fill_reported(row, order, fill, executed_at, source, position_after))
    current = OrderStatus(row.broker_status) if row.broker_status else None
    status = apply_status(current, order.status, more_filled=recorded.cum_qty > row.filled_qty)
    if status.change is Change.APPLIED:
        events.append(_status_changed(row, order, current, recorded, source))
    return ReportOutcome(status, tuple(fills), recorded, tuple(events))


def adds_nothing(row: OrderRow, order: BrokerOrder, now: datetime) -> bool:
    """Whether a report without an execution would leave ``row`` as it is — no fill, no status move, nothing illegal
    to say — so it need not be written at all (the stream, the poll and the submit answer tell the same status).

    Safe on a row read without its lock: a row only moves forward (status rank, cumulative quantity), so a report
    that adds nothing to an older picture of it adds nothing to the current one."""
    outcome = apply_report(row, order, "poll", now=now)
    return not outcome.fills and not outcome.events and outcome.status.change in (Change.SAME, Change.STALE)


def _fill_reported(row: OrderRow, order: BrokerOrder, fill: NewFill, executed_at: datetime, source: StatusSource,
                   position_qty: Decimal | None) -> FillReported:
    return FillReported(
        producer=PRODUCER, order_id=row.order_id, correlation_id=str(row.order_id),
        client_order_id=row.client_order_id, broker_order_id=order.broker_order_id, symbol=row.symbol,
        side=order.side, execution_id=fill.execution_id, qty=fill.qty, price=fill.price, cum_qty=fill.cum_qty,
        order_status=order.status, position_qty=position_qty, executed_at=executed_at,
        source=source if source != "lookup" else "poll",  # a lookup is a poll of one order
    )


def _status_changed(row: OrderRow, order: BrokerOrder, previous: OrderStatus | None, recorded: Recorded,
                    source: StatusSource) -> OrderStatusChanged:
    avg = (recorded.notional / recorded.cum_qty).quantize(AVG_PLACES) if recorded.cum_qty else None
    return OrderStatusChanged(
        producer=PRODUCER, order_id=row.order_id, correlation_id=str(row.order_id),
        client_order_id=row.client_order_id, broker_order_id=order.broker_order_id, symbol=row.symbol,
        previous_status=previous, status=order.status, filled_qty=recorded.cum_qty, filled_avg_price=avg,
        source=source, broker_timestamp=order.updated_at,
    )
