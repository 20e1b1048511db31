"""Which fills to book, and in which order: each execution once, an order's executions by cumulative quantity.

A ``Fill`` is one execution (``FillReported``): ``qty`` is this execution's delta and ``cum_qty`` the order's
filled quantity after it, so the execution covers the range ``(cum_qty − qty, cum_qty]`` of its order. Within an
order the ranges are booked in order because FIFO relief depends on it: a sell of 15 against a long of 10 that
fills 10 @ 5 then 5 @ 6 must close the 10 at 5 and open the short at 6, whichever execution arrives first
(same-millisecond partial fills do come out of order: Alpaca-API#170).

Rules, per order:

* an execution id seen before is a repeat (``Admission.DUPLICATE``): nothing changes;
* a range that starts where the booked ranges end is booked now, followed by any held ranges it uncovers;
* a range that starts beyond that is held (``HELD``) until the gap is filled, or until ``release_overdue`` gives
  up on the gap (a fill lost upstream, or an order whose first fills happened before this ledger began): held
  fills are then booked in cumulative order, and the drift check catches any quantity still missing;
* a range that starts before the booked end (the gap-filler after such a release) is booked at once
  (``LATE``): quantity matters more than its place in the FIFO queue.

An order's bookkeeping is dropped when its final fill is booked with nothing held (not when a gap was given up
on: its missing execution may still come); the execution ids stay, so a late repeat is still a repeat. Everything here is plain state a shell can persist or rebuild by re-folding fills.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Callable

from tradebus_contracts.orders import OrderSide

from .lots import ZERO

if TYPE_CHECKING:
    from tradebus_contracts import FillReported

BUY = OrderSide.BUY  # enum members are looked up on the class at every access in 3.11 (~160 ns): hot-path constants


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution, as the ledger needs it. ``qty`` > 0; the side gives the sign."""

    execution_id: str
    order_id: str
    symbol: str
    side: OrderSide
    qty: Decimal
    price: Decimal
    cum_qty: Decimal
    executed_at: datetime
    order_final: bool = False  # the order reached a final status with this execution

    @property
    def signed_qty(self) -> Decimal:
        return self.qty if self.side is BUY else -self.qty

    @classmethod
    def from_event(cls, event: FillReported) -> Fill:
        """Keyed by the broker's order id: the one id that both ``FillReported`` and the broker's own FILL
        activities carry, so the live path and a rebuild from history see one order (``coverage``)."""
        return cls(event.execution_id, event.broker_order_id, event.symbol, event.side, event.qty, event.price,
                   event.cum_qty, event.executed_at, event.order_status.is_final)


class Admission(StrEnum):
    BOOKED = "booked"
    LATE = "late"
    HELD = "held"
    DUPLICATE = "duplicate"


_BOOKED = Admission.BOOKED


class FillSequencer:
    """Execution ids seen, and per open order the booked cumulative quantity and the fills held for a gap."""

    __slots__ = ("seen", "booked_cum", "held")

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.booked_cum: dict[str, Decimal] = {}
        self.held: dict[str, dict[Decimal, Fill]] = {}  # order_id -> range start -> fill

    def admit(self, fill: Fill) -> tuple[Admission, list[Fill]]:
        """What ``fill`` means now, and the fills to book in this order (empty unless booked)."""
        if fill.execution_id in self.seen:
            return Admission.DUPLICATE, []
        self.seen.add(fill.execution_id)
        order = fill.order_id
        booked = self.booked_cum.get(order, ZERO)
        start = fill.cum_qty - fill.qty
        if start == booked and order not in self.held:  # the common case, kept cheap for the fold
            if fill.order_final:
                self.booked_cum.pop(order, None)
            else:
                self.booked_cum[order] = fill.cum_qty
            return _BOOKED, [fill]
        if start > booked:
            self.held.setdefault(order, {})[start] = fill
            return Admission.HELD, []
        if start < booked:
            self._advance(fill, max(booked, fill.cum_qty))
            return Admission.LATE, [fill]
        return Admission.BOOKED, self._advance(fill, fill.cum_qty)

    def release_overdue(self, now: datetime, wait: timedelta) -> list[Fill]:
        """Give up on gaps older than ``wait`` (by the held fill's execution time): their held fills, in order."""
        return self._release(lambda pending: min(f.executed_at for f in pending) <= now - wait)

    def release_symbol(self, symbol: str) -> list[Fill]:
        """Every held fill of ``symbol``, in order: a corporate action is about to change what they refer to."""
        return self._release(lambda pending: pending[0].symbol == symbol)

    def held_symbols(self) -> frozenset[str]:
        return frozenset(next(iter(p.values())).symbol for p in self.held.values())

    def _release(self, due: Callable[[list[Fill]], bool]) -> list[Fill]:
        released: list[Fill] = []
        for order, pending in list(self.held.items()):
            fills = [pending[start] for start in sorted(pending)]
            if not due(fills):
                continue
            del self.held[order]
            released += fills
            # kept even when the last one is final: the gap's own execution may still come, and is then LATE
            self.booked_cum[order] = max(self.booked_cum.get(order, ZERO), fills[-1].cum_qty)
        return released

    def _advance(self, fill: Fill, cum: Decimal) -> list[Fill]:
        order = fill.order_id
        ready = [fill]
        pending = self.held.get(order)
        while pending and cum in pending:
            nxt = pending.pop(cum)
            ready.append(nxt)
            cum = nxt.cum_qty
        if pending is not None and not pending:
            del self.held[order]
        if ready[-1].order_final and order not in self.held:
            self.booked_cum.pop(order, None)
        else:
            self.booked_cum[order] = cum
        return ready
