"""What one approved order commits, as plain values: the book (book.py) adds them up.

An approved order is *open* until the gateway reports its end (a final status, a failed submission, a cancel before
submit: `closes_approval`) or, never submitted, until its approval expires; a late ``OrderSubmitted`` opens it
again — one that lapsed, or one the gateway gave up on (`gave_up`: a failed submission, then the POST landed after
all and the gateway adopted it); an order that ended any other way stays ended. What it may still move (``working``) is an open order's remainder, ordered − filled; of an ended one, the
part the gateway says filled whose fills have not arrived yet (risk reads outcomes and fills on two consumers, so
either may come first). Today's notional counts what filled, at its prices, and what may still fill, at the
estimate; never what an order that ended did not fill.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypeGuard
from uuid import UUID

from tradebus_contracts import CancelOutcome, CancelResult, OrderSide, OrderStatusChanged, SubmissionFailed
from tradebus_contracts.envelope import Envelope
from tradebus_contracts.projection import EXACT, remaining

__all__ = ["ClosingEvent", "closes_approval", "gave_up", "filled_at_close", "Commitment", "BookedOrder", "FillSeen",
           "BookState"]

ESTIMATE_PLACES = Decimal("1e-12")  # an estimate's part of today's notional: fixed places keep every sum exact
_ZERO = Decimal(0)

ClosingEvent = OrderStatusChanged | SubmissionFailed | CancelResult


def closes_approval(event: Envelope) -> TypeGuard[ClosingEvent]:
    """The gateway's word that an approved order no longer counts as open: a final status, a submission that
    failed, or a cancel that caught it before it was submitted."""
    return ((isinstance(event, OrderStatusChanged) and event.status.is_final)
            or isinstance(event, SubmissionFailed)
            or (isinstance(event, CancelResult) and event.outcome == CancelOutcome.CANCELED_BEFORE_SUBMIT))


def gave_up(event: ClosingEvent) -> bool:
    """The end is the gateway giving up on a submission: the broker may still turn out to hold the order (a POST
    that landed late, adopted with a later ``OrderSubmitted``)."""
    return isinstance(event, SubmissionFailed)


def filled_at_close(event: ClosingEvent) -> Decimal:
    """How much of the order the gateway says filled, as it ends."""
    return _ZERO if isinstance(event, SubmissionFailed) else event.filled_qty


@dataclass(frozen=True, slots=True)
class Commitment:
    """What an approval commits: its estimated cost (daily caps) and the shares it may move (its qty, or a notional
    order's estimate at the quote; None when unknown)."""

    cost: Decimal | None
    shares: Decimal | None


@dataclass(slots=True)
class BookedOrder:
    """An approved order as far as exposure goes."""

    order_id: UUID
    symbol: str
    side: OrderSide
    shares: Decimal | None
    cost: Decimal | None
    expires_at: datetime
    today: bool  # approved on the book's trading day: counts against today's caps
    submitted: bool = False
    lapsed: bool = False  # never submitted, and its approval expired
    closed: bool = False  # the gateway reported its end
    closed_by_failure: bool = False  # that end was a failed submission: an OrderSubmitted after it reopens the order
    filled_at_close: Decimal = _ZERO  # the gateway's cumulative filled qty then
    seen_qty: Decimal = _ZERO  # from the fills received
    seen_notional: Decimal = _ZERO
    submitted_at: datetime | None = None  # when the broker took it (the gateway's OrderSubmitted)

    @property
    def open(self) -> bool:
        return not self.closed and (self.submitted or not self.lapsed)

    def working(self) -> Decimal | None:
        """Shares still to come as fills (see the module docstring); None when the size was never known."""
        return remaining(self.shares if self.open else self.filled_at_close, self.seen_qty)

    def open_cost(self) -> Decimal:
        """What may still be paid for the order's unfilled part, at the estimate: nothing once it ended."""
        if not self.open:
            return _ZERO
        return max(EXACT.subtract(self.committed(self.working()), self.seen_notional), _ZERO)

    def committed(self, working: Decimal | None) -> Decimal:
        """Against the daily caps, given ``working()``: what filled, at its prices, and what may still fill, at the
        estimate."""
        cost = self.cost or _ZERO
        if self.shares is None or working is None:  # a size never known: its cost is all it can commit
            return max(cost, self.seen_notional) if self.open else self.seen_notional
        if working == self.shares:  # nothing filled yet (the common case): all of the estimate
            return EXACT.add(self.seen_notional, cost)
        if not working:
            return self.seen_notional
        estimate = EXACT.divide(EXACT.multiply(cost, working), self.shares).quantize(ESTIMATE_PLACES, context=EXACT)
        return EXACT.add(self.seen_notional, estimate)


@dataclass(frozen=True, slots=True)
class FillSeen:
    """One execution the gateway reported (``FillReported``), stamped by the gateway when it heard of it."""

    execution_id: str
    order_id: UUID
    symbol: str
    side: OrderSide
    qty: Decimal
    price: Decimal
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class BookState:
    """What the store says is committed: the approved orders that still matter (open, approved today, or ended
    recently) and the fills the settled positions may not have yet."""

    orders: tuple[BookedOrder, ...]
    fills: tuple[FillSeen, ...]
