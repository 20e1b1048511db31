"""Projected exposure: how far a position can go once every order still working has done its worst.

Risk's position checks (max position, short sale, REDUCING, buying power) and the order gateway's REDUCING gate
both read a position through this module, so they can never disagree (``exposure`` says what one order does to a
position; this says what all the open ones can do together).

Where every share an order moves is, at any moment — exactly one of three places:

1. **working**: not filled yet — an open order's remainder, ordered − filled;
2. **in flight**: filled, but not yet provably part of the broker's settled position;
3. **settled**: in the broker's position as last polled (REFDATA for risk, ``BrokerPositions`` for the gateway).

The projection adds 1 and 2 *to their own side*: ``buying`` (what buys can still add) and ``selling`` (what sells
can still take away), so ``long_worst = settled + buying`` and ``short_worst = settled − selling``. Whatever the
open orders do, the position stays between the two (a buy never lowers it, a sell never raises it).

How a share moves, and why it is never dropped and never counted twice:

* 1 → 2 in one step: the fill that lowers its order's remainder is the fill that enters flight, with the same
  quantity, keyed by the broker's execution id (a redelivered fill changes nothing). An order that ends (filled,
  cancelled, expired, rejected) stops counting its unfilled part; the part the gateway says filled but whose fill
  events have not arrived yet stays working until they do (risk reads fills and order outcomes on two consumers,
  so either can come first);
* 2 → 3 only when the settled position provably has the fill (`in_settled`). The broker makes an execution before
  anyone hears of it, and its positions answer reflects every execution it made before answering. The gateway
  stamps a fill when it hears of it (``FillReported.occurred_at``, its ``fills.recorded_at``) and a settled
  snapshot when the broker's answer is in (``as_of``), both with its own clock. If the positions request took at
  most ``margin``, it was sent at or after ``as_of − margin``; if the fill's stamp is not later than that, the
  broker had made the execution before it was asked: the snapshot has it. Only the gateway's clock is compared,
  never the broker's. Until then the fill counts as in flight, on its own side only.

What that costs: a fill the snapshot already has but that cannot be proved yet (stamped within ``margin`` before
the snapshot, or reported by a stream slower than the poll) keeps counting on its own side, as if it had not
filled, until the next snapshot proves it: the worst case on that side is pessimistic by that fill for at most
``margin`` plus one poll. It is never the other way: no filled share is ever in no place, so no order can slip
through room that a fill still takes. A quantity that cannot be known (a notional order before it fills) makes
its side unbounded (None): nothing on that side is provably reducing.

Pure functions over Decimals, computed in a context wide enough for every value the contracts carry (40 digits)
and their sums, so no share is lost to rounding.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Context, Decimal

from tradebus_contracts.orders import OrderSide

__all__ = ["EXACT", "SETTLE_MARGIN", "Working", "Projection", "remaining", "in_settled"]

EXACT = Context(prec=120)
"""Decimal arithmetic for exposure: sums and products of contract values (40 digits at most) are exact in it."""

SETTLE_MARGIN = timedelta(seconds=10)
"""The default ``margin`` of `in_settled`: the longest the gateway's positions request to the broker may take (its
broker timeout, 10 s by default), plus the few writes before it stamps the answer."""

_ZERO = Decimal(0)


def remaining(ordered: Decimal | None, filled: Decimal) -> Decimal | None:
    """What an open order may still fill: ordered − filled, never below 0; None when the size is unknown."""
    if ordered is None:
        return None
    left = EXACT.subtract(ordered, filled)
    return left if left > 0 else _ZERO


def in_settled(recorded_at: datetime, settled_as_of: datetime | None, margin: timedelta) -> bool:
    """Whether a settled snapshot taken ``settled_as_of`` (an answer that took at most ``margin``) provably includes
    a fill the gateway recorded at ``recorded_at`` (see the module docstring). None: no snapshot known."""
    return settled_as_of is not None and recorded_at <= settled_as_of - margin


@dataclass(frozen=True, slots=True)
class Working:
    """Shares that may still move a position on one side: an open order's remainder or an in-flight fill.
    ``qty`` None when unknown (a notional order before it fills)."""

    side: OrderSide
    qty: Decimal | None


@dataclass(frozen=True, slots=True)
class Projection:
    """A settled position (signed: long > 0, short < 0) and what open orders and in-flight fills may still add
    (``buying``) or take away (``selling``), both >= 0; None when unbounded."""

    settled: Decimal
    buying: Decimal | None = _ZERO
    selling: Decimal | None = _ZERO

    @classmethod
    def of(cls, settled: Decimal, working: Iterable[Working]) -> Projection:
        """The projection of ``settled`` with everything in ``working`` added to its own side."""
        buying: Decimal | None = _ZERO
        selling: Decimal | None = _ZERO
        for item in working:
            if item.side is OrderSide.BUY:
                buying = None if buying is None or item.qty is None else EXACT.add(buying, item.qty)
            else:
                selling = None if selling is None or item.qty is None else EXACT.add(selling, item.qty)
        return cls(settled, buying, selling)

    @property
    def long_worst(self) -> Decimal | None:
        """The position if every open buy fills and no open sell does; None when unbounded."""
        return None if self.buying is None else EXACT.add(self.settled, self.buying)

    @property
    def short_worst(self) -> Decimal | None:
        """The position if every open sell fills and no open buy does; None when unbounded."""
        return None if self.selling is None else EXACT.subtract(self.settled, self.selling)

    def worst(self, side: OrderSide) -> Decimal | None:
        """The worst case an order on ``side`` moves: the long worst for a buy, the short worst for a sell."""
        return self.long_worst if side is OrderSide.BUY else self.short_worst

    def worst_after(self, side: OrderSide, qty: Decimal) -> Decimal | None:
        """That worst case once an order of ``qty`` on ``side`` is working too."""
        worst = self.worst(side)
        if worst is None:
            return None
        return EXACT.add(worst, qty) if side is OrderSide.BUY else EXACT.subtract(worst, qty)

    def covered(self, side: OrderSide) -> Decimal:
        """Shares an order on ``side`` trades against in every outcome: of a sell, the long that is there even if
        every open sell fills (0 if none or unknown); of a buy, likewise the short."""
        worst = self.worst(side)
        if worst is None:
            return _ZERO
        held = worst if side is OrderSide.SELL else -worst
        return held if held > 0 else _ZERO

    def gross_growth(self) -> Decimal:
        """How many shares further from flat than the settled position the worst case on either side goes (0 when
        open orders can only bring it closer). An unbounded side adds nothing here: it cannot be valued, and the
        checks of its orders say so (``check_position``)."""
        reach = abs(self.settled)
        for worst in (self.long_worst, self.short_worst):
            if worst is not None and abs(worst) > reach:
                reach = abs(worst)
        return EXACT.subtract(reach, abs(self.settled))

    def reduces(self, side: OrderSide, qty: Decimal) -> bool:
        """True only when an order of ``qty`` on ``side`` shrinks the position towards flat and not past it, whatever
        the other open orders do (with nothing working: the opposite side, and no more than is held)."""
        return qty > 0 and qty <= self.covered(side)
