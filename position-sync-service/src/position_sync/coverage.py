"""Which part of each broker order's filled quantity the ledger has taken in, whichever door a fill came by.

A fill covers the range ``(cum_qty − qty, cum_qty]`` of its order. The live path (``FillReported``) and the
broker's history (its FILL activities, for a rebuild) describe the same executions, but not always under the same
id: the gateway's polling makes a synthetic id (``<order>:cum:<qty>``) and may merge two executions into one fill,
and whether Alpaca's activity id ends in the trade's execution id is not documented. Both partition the same
range ``(0, filled_qty]`` of the same broker order, though (the gateway counts a range once, ``order_gateway.fills``).
So a fill is taken by the part of its range not covered yet:

* nothing new (a repeat, the same execution under another id, or executions a merged fill already holds): None;
* all of it new: the fill as it is;
* part of it new (a merged polling fill that reaches past the broker history's end): the fill cut to each new
  part of its range, at its own price. A cut part books at once or waits in the sequencer like any other fill; the
  drift check reports any price difference.

The state is the taken ranges per order, a plain dict rebuilt by re-folding the journal (one number per order in the
common case: its range taken from zero).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from .lots import ZERO
from .sequencer import Fill

Range = tuple[Decimal, Decimal]


class Coverage:
    __slots__ = ("taken",)

    def __init__(self) -> None:
        # broker order id -> what is taken: ``end`` (a Decimal) for the range (0, end], the common case, kept as one
        # number because a restart holds one per order (no list per order for the garbage collector to walk);
        # otherwise the disjoint ranges, sorted
        self.taken: dict[str, Decimal | list[Range]] = {}

    def claim(self, fill: Fill) -> list[Fill]:
        """The parts of ``fill`` not taken in yet (see the module docstring), now taken: ``[fill]`` when all of it
        is new, ``[]`` when none is."""
        order, end = fill.order_id, fill.cum_qty
        start = end - fill.qty
        taken = self.taken.get(order)
        if taken is None:
            self.taken[order] = end if not start else [(start, end)]
            return [fill]
        if type(taken) is Decimal:
            if start == taken:  # the order's next execution
                self.taken[order] = end
                return [fill]
            if end <= taken:
                return []
            ranges: list[Range] = [(ZERO, taken)]
        else:
            ranges = taken  # type: ignore[assignment]
        new = uncovered((start, end), ranges)
        if new:
            ranges = merged([*ranges, *new])
            self.taken[order] = ranges[0][1] if len(ranges) == 1 and not ranges[0][0] else ranges
        if new == [(start, end)]:
            return [fill]
        return [cut(fill, lo, hi, n) for n, (lo, hi) in enumerate(new)]

    def ranges(self, order_id: str) -> list[Range]:
        taken = self.taken.get(order_id)
        if taken is None:
            return []
        return [(ZERO, taken)] if type(taken) is Decimal else list(taken)  # type: ignore[arg-type]


def cut(fill: Fill, lo: Decimal, hi: Decimal, n: int) -> Fill:
    """The part ``(lo, hi]`` of ``fill``'s range, at its price; a second part's execution id gets a suffix (an id
    is booked once)."""
    return replace(fill, execution_id=fill.execution_id if n == 0 else f"{fill.execution_id}#{n + 1}", qty=hi - lo,
                   cum_qty=hi, order_final=fill.order_final and hi == fill.cum_qty)


def uncovered(span: Range, ranges: list[Range]) -> list[Range]:
    """The parts of ``span`` outside every range of ``ranges`` (disjoint, sorted)."""
    lo, hi = span
    out: list[Range] = []
    for start, end in ranges:
        if end <= lo:
            continue
        if start >= hi:
            break
        if start > lo:
            out.append((lo, start))
        lo = max(lo, end)
        if lo >= hi:
            return out
    if lo < hi:
        out.append((lo, hi))
    return out


def merged(ranges: list[Range]) -> list[Range]:
    out: list[Range] = []
    for start, end in sorted(ranges):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out
