"""Counting every execution exactly once, whichever way it arrives (STYLE §6).

Executions reach us by the trade_updates stream (with the broker's execution id, the execution's qty and price
and the order's new cumulative fill) and by polling (the order's cumulative ``filled_qty`` and
``filled_avg_price`` only, no execution id). The invariant that makes them agree: an order's fills cover the
quantity range (0, filled_qty] exactly once. A report is accepted only if it *advances* the order's recorded
cumulative quantity, and only by the part that is new:

* an execution id seen before is a repeat: dropped;
* a report whose cumulative quantity is not above what we recorded was already counted (e.g. polling saw it
  first): dropped, even with a new execution id;
* otherwise the fill is ``cum_qty - recorded_cum``, priced at the execution price (stream) or at the price
  implied by the change of the average (poll: ``(cum * avg - recorded_notional) / delta``).

State is per order and lives in PostgreSQL (the recorded cumulative quantity and notional), so a restart
forgets nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

PRICE_PLACES = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class Recorded:
    """What we have counted for one order so far."""

    cum_qty: Decimal
    notional: Decimal  # sum of qty * price of the fills counted


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    source: str  # "stream" | "poll" | "webhook"
    cum_qty: Decimal  # the order's cumulative filled quantity after this report
    execution_id: str | None = None
    qty: Decimal | None = None  # this execution's quantity (stream, webhook)
    price: Decimal | None = None  # this execution's price (stream, webhook)
    avg_price: Decimal | None = None  # the order's average fill price after this report (poll)
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewFill:
    execution_id: str
    qty: Decimal
    price: Decimal
    cum_qty: Decimal


def reconcile(recorded: Recorded, report: ExecutionReport, seen_execution: bool, order_key: str) -> NewFill | None:
    """The fill this report adds, or None when it adds nothing (see the module docstring)."""
    if seen_execution or report.cum_qty <= recorded.cum_qty:
        return None
    delta = report.cum_qty - recorded.cum_qty
    if report.price is not None:
        price = report.price
    elif report.avg_price is not None:
        price = ((report.cum_qty * report.avg_price - recorded.notional) / delta).quantize(PRICE_PLACES)
    else:
        return None  # a cumulative change without any price: wait for a report that has one
    execution_id = report.execution_id or f"{order_key}:cum:{report.cum_qty.normalize()}"
    return NewFill(execution_id=execution_id, qty=delta, price=price, cum_qty=report.cum_qty)


def after(recorded: Recorded, fill: NewFill) -> Recorded:
    return Recorded(cum_qty=fill.cum_qty, notional=recorded.notional + fill.qty * fill.price)
