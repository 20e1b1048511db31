"""The average entry price and cost basis the way Alpaca computes them, beside our FIFO tax lots, so the ledger
can be compared with the broker honestly (the two differ by design).

Alpaca (docs.alpaca.markets/docs/position-average-entry-price-calculation): intraday positions use a *weighted
average* (a buy blends into the average, a sell leaves it unchanged); positions from earlier days use
*compressed FIFO*: a beginning-of-day job rebuilds every position from the ledger, each trading day's buys merged
into one lot at their weighted price, sells consuming those day lots first-in first-out. So both fields can change
overnight with no new activity.

The doc's example: day 1 buy 100 @ 10 and 50 @ 12, day 2 buy 30 @ 15, day 3 sell 120; 60 shares are left.
Strict FIFO (our tax lots): 30 @ 12 + 30 @ 15 → 13.50. Weighted average (what Alpaca shows on day 3, after the
sell): 2,050 / 180 → 11.39. Compressed FIFO (what Alpaca shows from day 4's job on): 30 @ 10.666… + 30 @ 15 →
770 / 60 → 12.83.

Decisions where Alpaca's documentation is not explicit:

* The trading day is the New York calendar date of the execution, extended hours included. The roll to
  compressed FIFO happens at New York midnight; Alpaca's job runs some time before the open, so a read in between
  may still show the weighted figure (the sync runs in market hours; the two-read drift rule absorbs the rest).
* A day's buys form one lot at their weighted price and its sells one lot at theirs; the day's lot of the other
  side relieves FIFO (and may go through zero: the new side opens at that lot's price). The lots left over do not
  depend on whether buys or sells are taken first, so the intraday order of executions does not matter.
* Intraday the day starts from the compressed lots (their total cost / quantity); a sell of a long (or a cover of
  a short) keeps the average; an execution through zero opens the new side at its own price.
* A fill dated before the current trading day (a late report) counts in the current day: a compression already
  made is not rewritten. Any basis difference stays within the sync tolerance or shows as basis drift.
* Corporate actions apply at the start of their effective day (the job that applies them is the same one):
  splits scale quantities and keep total cost; a return of capital lowers cost (never below zero).
* Adopting the broker's figures (reconciliation ``adopt``) replaces everything with one lot; the day's flows
  restart there, so today's P&L counts from the adoption.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from tradebus_contracts.trading_day import day_start

from .lots import ZERO, FifoLots, Lot, scaled, scaled_qty


class Method(StrEnum):
    WEIGHTED_INTRADAY = "weighted_intraday"
    COMPRESSED_FIFO = "compressed_fifo"


@dataclass(frozen=True, slots=True)
class AverageView:
    """What Alpaca would report on a given day: signed quantity, signed cost basis, and which method made it."""

    qty: Decimal
    cost_basis: Decimal
    method: Method

    @property
    def avg_entry_price(self) -> Decimal:
        return self.cost_basis / self.qty if self.qty else ZERO


class AlpacaAverage:
    """One symbol's position the Alpaca way: compressed day lots as of the start of ``day``, the weighted
    intraday figure, and the day's buy and sell totals (for the next compression and for today's P&L)."""

    __slots__ = ("day", "last_execution_day", "closed", "qty", "cost", "sod_qty", "bought", "bought_value", "sold",
                 "sold_value")

    def __init__(self) -> None:
        self.day: date | None = None
        self.last_execution_day: date | None = None
        self.closed = FifoLots()
        self.qty = self.cost = self.sod_qty = ZERO
        self.bought = self.bought_value = self.sold = self.sold_value = ZERO  # sold and sold_value are < 0

    def book(self, qty: Decimal, value: Decimal, day: date) -> None:
        """One execution: ``qty`` signed (buy > 0), ``value`` = qty × price, on New York ``day``."""
        if day != self.day and (self.day is None or day > self.day):
            self.roll(day)
        self.last_execution_day = self.day
        held = self.qty
        after = held + qty
        if not held or (held > ZERO) is (qty > ZERO):  # ZERO, not 0: a Decimal-int compare costs ~2.5x
            self.cost += value
        elif not after or (after > ZERO) is (held > ZERO):  # a reduction keeps the average
            self.cost = self.cost * after / held
        else:  # through zero: the new side opens at this execution's price
            self.cost = value * after / qty
        self.qty = after
        if qty > ZERO:
            self.bought += qty
            self.bought_value += value
        else:
            self.sold += qty
            self.sold_value += value

    def roll(self, day: date) -> None:
        """Alpaca's beginning-of-day job for ``day``: fold the current day into the compressed lots."""
        if self.day is not None and day > self.day:
            self._compress(self.closed, self.day)
            self.qty, self.cost = self.closed.qty, self.closed.cost
            self.bought = self.bought_value = self.sold = self.sold_value = ZERO
        if self.day is None or day > self.day:
            self.sod_qty = self.qty
            self.day = day

    def view(self, on: date) -> AverageView:
        """The figures Alpaca shows on New York date ``on`` (after its beginning-of-day job)."""
        if self.day is None:
            return AverageView(ZERO, ZERO, Method.COMPRESSED_FIFO)
        if on <= self.day:
            return AverageView(self.qty, self.cost, Method.WEIGHTED_INTRADAY)
        rolled = FifoLots(self.closed.lots)
        self._compress(rolled, self.day)
        return AverageView(rolled.qty, rolled.cost, Method.COMPRESSED_FIFO)

    def day_flows(self, on: date) -> tuple[Decimal, Decimal]:
        """Quantity at the start of ``on`` and the net cash paid for that day's executions (sells negative)."""
        if self.day is not None and on == self.day:
            return self.sod_qty, self.bought_value + self.sold_value
        return self.qty, ZERO

    def scale(self, ratio: Decimal) -> None:
        """A split: every quantity × ``ratio``, every cost unchanged."""
        self.closed.replace(scaled(self.closed.lots, ratio))
        self.qty, self.sod_qty = scaled_qty(self.qty, ratio), scaled_qty(self.sod_qty, ratio)
        self.bought, self.sold = scaled_qty(self.bought, ratio), scaled_qty(self.sold, ratio)

    def lower_cost(self, per_share: Decimal, opened_before: datetime | None = None) -> None:
        """A return of capital: each long day lot (before ``opened_before`` when given) costs ``per_share`` × its
        shares less, never below zero; the intraday figure loses the same amount."""
        lowered, lots = ZERO, []
        for lot in self.closed.lots:
            if lot.qty > 0 and (opened_before is None or lot.opened_at < opened_before):
                cut = min(lot.cost, per_share * lot.qty)
                lowered += cut
                lot = lot._replace(cost=lot.cost - cut)
            lots.append(lot)
        self.closed.replace(lots)
        self.cost = max(ZERO, self.cost - lowered) if self.qty > 0 else self.cost

    def reset(self, qty: Decimal, cost: Decimal, day: date, lot_id: str) -> None:
        """Take the broker's figures as they are (an adopted reconciliation, or a position that arrives whole)."""
        self.closed = FifoLots([Lot(lot_id, day_start(day), qty, cost)] if qty else [])
        self.qty, self.cost, self.sod_qty, self.day = qty, cost, qty, day
        self.bought = self.bought_value = self.sold = self.sold_value = ZERO

    def _compress(self, lots: FifoLots, day: date) -> None:
        opened = day_start(day)
        if self.bought:
            lots.book(f"{day}:buys", opened, self.bought, self.bought_value)
        if self.sold:
            lots.book(f"{day}:sells", opened, self.sold, self.sold_value)
