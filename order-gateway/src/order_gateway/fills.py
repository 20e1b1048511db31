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
  implied by the change of the average (poll: ``(cum * avg - recorded_notional) / delta``);
* an execution that leaves a gap (it covers ``(cum_qty - qty, cum_qty]`` and we had counted less than
  ``cum_qty - qty``: an earlier execution never reached us) is two fills (`new_fills`): the gap, priced from the
  order's cumulative average (``(cum * avg - recorded_notional - qty * price) / gap``, with the id polling would
  give it), then the execution itself at its own price. So the fills of an order add up to ``filled_qty ×
  filled_avg_price`` whichever reports were missed; without the average the gap is priced at the execution's price.

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


def new_fills(recorded: Recorded, report: ExecutionReport, seen_execution: bool, order_key: str,
              avg_price: Decimal | None = None) -> tuple[NewFill, ...]:
    """The fills this report adds: `reconcile`'s, preceded by the gap an execution report leaves when an earlier
    execution never reached us, priced from ``avg_price`` (the order's average at ``report.cum_qty``)."""
    if seen_execution:
        return ()
    gap = _missed_before(recorded, report, order_key, avg_price)
    if gap is not None:
        recorded = after(recorded, gap)
    fill = reconcile(recorded, report, False, order_key)
    return tuple(f for f in (gap, fill) if f is not None)


def _missed_before(recorded: Recorded, report: ExecutionReport, order_key: str,
                   avg_price: Decimal | None) -> NewFill | None:
    if report.qty is None or report.price is None or avg_price is None:
        return None
    missed_to = report.cum_qty - report.qty  # this execution covers (missed_to, cum_qty]
    gap = missed_to - recorded.cum_qty
    if gap <= 0:
        return None
    price = ((report.cum_qty * avg_price - report.qty * report.price - recorded.notional) / gap).quantize(PRICE_PLACES)
    if price <= 0:  # an average that does not fit the fills we counted: better the execution's price than nonsense
        return None
    return NewFill(execution_id=f"{order_key}:cum:{missed_to.normalize()}", qty=gap, price=price, cum_qty=missed_to)


def after(recorded: Recorded, fill: NewFill) -> Recorded:
    return Recorded(cum_qty=fill.cum_qty, notional=recorded.notional + fill.qty * fill.price)
