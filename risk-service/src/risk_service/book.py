"""What the risk service has already committed, kept in memory: approved orders still working, fills not yet in the
broker's settled position, today's notional, the throttle.

The facts live in PostgreSQL (decisions, fills; read by the store as a `booking.BookState`). The book is loaded
from them at start (and, as a safety net, every ``RISK_EXPOSURE_REFRESH_S``), and in between it is kept by every
approval, submission, fill and order end as it is recorded, and by the clock (an approval never submitted stops
counting when it expires), each change under the same lock as the database write that records it: so a load sees
a change in both places or in neither, and never applies one twice. Each decision reads plain memory: no database
round trip per order, and no total recomputed — every order adds to and takes from running totals exactly
(``projection.EXACT``), which the property test holds equal to the totals recomputed from the facts.

Per symbol and side the book keeps what open orders may still move; with the fills the settled position does not
provably have yet (``projection.in_settled``), that is the symbol's projected exposure. The trading day is New
York's calendar day: the daily caps reset at midnight ET.

Buying power is the broker's, and the broker already holds back what its open buy orders may cost; what it cannot
hold back yet is a buy it has not taken, or took after the account was read. So the book keeps the open buys that
the account snapshot does not provably include (``buys_not_in_account``): never submitted, or submitted later than
the settle margin before the snapshot. Like a settled fill, a buy the snapshot provably includes leaves that set for
good (snapshots only move forward). Its total is kept running like the others, and the submitted ones wait in a
heap by submission time, so a decision reads it in constant time however many buys are open.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

from tradebus_contracts import OrderSide
from tradebus_contracts.projection import EXACT, SETTLE_MARGIN, Projection, in_settled
from tradebus_contracts.trading_day import trading_day_start

from .booking import BookedOrder, BookState, Commitment, FillSeen

_ZERO = Decimal(0)


@dataclass(slots=True)
class _Sides:
    """What one symbol's open orders may still buy and sell; a count of those whose size is unknown."""

    buying: Decimal = _ZERO
    selling: Decimal = _ZERO
    unknown_buys: int = 0
    unknown_sells: int = 0

    def add(self, side: OrderSide, qty: Decimal | None, sign: int) -> None:
        buy = side is OrderSide.BUY
        if qty is None:
            if buy:
                self.unknown_buys += sign
            else:
                self.unknown_sells += sign
            return
        if buy:
            self.buying = EXACT.add(self.buying, qty) if sign > 0 else EXACT.subtract(self.buying, qty)
        else:
            self.selling = EXACT.add(self.selling, qty) if sign > 0 else EXACT.subtract(self.selling, qty)


@dataclass
class Book:
    throttle_window: timedelta
    day_start: datetime
    settle_margin: timedelta = SETTLE_MARGIN
    open_by_symbol: Counter[str] = field(default_factory=Counter)
    daily_by_symbol: dict[str, Decimal] = field(default_factory=dict)
    _orders: dict[UUID, BookedOrder] = field(default_factory=dict)
    _sides: dict[str, _Sides] = field(default_factory=dict)
    _fills: dict[str, dict[str, FillSeen]] = field(default_factory=dict)  # symbol -> execution id -> in flight
    _expiring: list[tuple[datetime, int, UUID]] = field(default_factory=list)  # heap: approvals not submitted yet
    _pushed: Iterator[int] = field(default_factory=itertools.count)  # ties broken by an int, not by a UUID
    _recent: deque[datetime] = field(default_factory=deque)
    _already_booked: set[UUID] = field(default_factory=set)  # approvals of order_ids the book holds: taken back
    _buys_unseen: dict[UUID, BookedOrder] = field(default_factory=dict)  # buys the account may not hold back yet
    _unseen_cost: Decimal = _ZERO  # what those may still cost: the sum of their open_cost(), kept by _count
    _unseen_submitted: list[tuple[datetime, int, UUID]] = field(default_factory=list)  # heap of the submitted ones
    _changed: set[str] | None = None  # symbols whose projection may have moved since take_changed; None: any

    def load(self, state: BookState, day_start: datetime, now: datetime) -> None:
        self.open_by_symbol, self.daily_by_symbol, self._sides = Counter(), {}, {}
        self._orders, self._fills, self._expiring, self._buys_unseen = {}, {}, [], {}
        self._unseen_cost, self._unseen_submitted = _ZERO, []
        self._changed = None
        self.day_start = day_start
        for fill in state.fills:
            self._fills.setdefault(fill.symbol, {})[fill.execution_id] = fill
        for order in state.orders:
            order.lapsed = not order.submitted and order.expires_at <= now
            self._add(order)

    @property
    def open_total(self) -> int:
        return sum(self.open_by_symbol.values())

    @property
    def daily_total(self) -> Decimal:
        return sum(self.daily_by_symbol.values(), _ZERO)

    def projection(self, symbol: str, settled: Decimal, settled_as_of: datetime | None) -> Projection:
        """The symbol's projected exposure: ``settled`` (the broker's position as of ``settled_as_of``), its open
        orders, and its fills the settled position does not provably have yet. A fill it provably has leaves the
        book for good (a settled position is never older than the one before it)."""
        sides = self._sides.get(symbol) or _Sides()
        buying = None if sides.unknown_buys else sides.buying
        selling = None if sides.unknown_sells else sides.selling
        in_flight = self._fills.get(symbol)
        for execution_id, fill in list(in_flight.items()) if in_flight else ():
            if in_settled(fill.recorded_at, settled_as_of, self.settle_margin):
                del in_flight[execution_id]
            elif fill.side is OrderSide.BUY:
                buying = None if buying is None else EXACT.add(buying, fill.qty)
            else:
                selling = None if selling is None else EXACT.add(selling, fill.qty)
        return Projection(settled, buying, selling)

    def open_sell_qty(self, symbol: str) -> Decimal | None:
        """What the symbol's open sell orders may still sell (their remainders, without fills): what the broker holds
        back from the position for them. None when one's size was never known."""
        sides = self._sides.get(symbol)
        if sides is None:
            return _ZERO
        return None if sides.unknown_sells else sides.selling

    def position_now(self, symbol: str, settled: Decimal, settled_as_of: datetime | None) -> Decimal:
        """The best estimate of the position at the broker now: the settled one, with the fills recorded after it
        was read (those recorded before it are taken to be in it — the projection waits for the settle margin to
        be sure, this estimate does not)."""
        position = settled
        for fill in (self._fills.get(symbol) or {}).values():
            if settled_as_of is None or fill.recorded_at > settled_as_of:
                position += fill.qty if fill.side is OrderSide.BUY else -fill.qty
        return position

    def take_changed(self) -> set[str] | None:
        """The symbols whose projection may have changed since the last call (None: any of them, after a load), for
        a reader that keeps something derived per symbol (decider.Decider's gross growth)."""
        changed, self._changed = self._changed, set()
        return changed

    def working_symbols(self) -> set[str]:
        """The symbols with open orders or fills in flight: those whose projection may differ from the settled
        position."""
        return {symbol for symbol, sides in self._sides.items()
                if sides.buying or sides.selling or sides.unknown_buys or sides.unknown_sells} | {
                symbol for symbol, fills in self._fills.items() if fills}

    def buys_not_in_account(self, account_as_of: datetime) -> Decimal:
        """What open buys may still cost that an account snapshot taken at ``account_as_of`` does not provably hold
        back (see the module docstring)."""
        horizon = account_as_of - self.settle_margin
        while self._unseen_submitted and self._unseen_submitted[0][0] <= horizon:
            order = self._buys_unseen.get(heapq.heappop(self._unseen_submitted)[2])
            if order is not None:
                self._unseen_cost = EXACT.subtract(self._unseen_cost, order.open_cost())
                del self._buys_unseen[order.order_id]
        return self._unseen_cost

    def advance(self, now: datetime) -> None:
        """Move the book to ``now``: a new trading day resets today's notional; approvals that expired unsubmitted
        stop counting."""
        start = trading_day_start(now)
        if start > self.day_start:
            for order in list(self._orders.values()):
                self._change(order, today=False)
                if not order.open and order.working() == 0:
                    self._remove(order)
            self.day_start = start
        while self._expiring and self._expiring[0][0] <= now:
            order = self._orders.get(heapq.heappop(self._expiring)[2])
            if order is not None and not order.submitted:
                self._change(order, lapsed=True)

    def submissions_in_window(self, now: datetime) -> int:
        horizon = now - self.throttle_window
        while self._recent and self._recent[0] <= horizon:
            self._recent.popleft()
        return len(self._recent)

    def record_approval(self, order_id: UUID, symbol: str, side: OrderSide, commitment: Commitment,
                        expires_at: datetime, now: datetime) -> None:
        self._recent.append(now)
        if order_id in self._orders:  # decided before: the insert will say so and batch.take_back undoes this
            self._already_booked.add(order_id)
            return
        self._add(BookedOrder(order_id, symbol, side, commitment.shares, commitment.cost, expires_at, today=True))

    def undo_approval(self, order_id: UUID) -> None:
        """Take back a provisional approval that lost to a decision stored earlier (``batch.take_back``)."""
        if self._recent:
            self._recent.pop()
        if order_id in self._already_booked:
            self._already_booked.discard(order_id)
            return
        order = self._orders.get(order_id)
        if order is not None:
            self._remove(order)

    def record_submitted(self, order_id: UUID, at: datetime) -> None:
        """The gateway submitted it at ``at``: it no longer expires (and counts again if its approval had expired, or
        if the gateway had given up on it: a POST that landed late, adopted). Idempotent."""
        order = self._orders.get(order_id)
        if order is None or order.submitted:
            return
        self._count(order, -1)
        order.submitted, order.submitted_at = True, at
        if order.closed and order.closed_by_failure:  # open again, and a buy the account may not hold back yet
            order.closed, order.closed_by_failure, order.filled_at_close = False, False, _ZERO
            if order.side is OrderSide.BUY:
                self._buys_unseen[order_id] = order
        self._count(order, 1)
        if order_id in self._buys_unseen:
            heapq.heappush(self._unseen_submitted, (at, next(self._pushed), order_id))

    def record_closed(self, order_id: UUID, filled_qty: Decimal, *, failed: bool = False) -> None:
        """The order ended with ``filled_qty`` filled (``failed``: its submission failed): its unfilled part stops
        counting. A failed submission of an order known submitted is stale and changes nothing. Idempotent."""
        order = self._orders.get(order_id)
        if order is not None and not order.closed and not (failed and order.submitted):
            self._change(order, closed=True, filled_at_close=filled_qty, closed_by_failure=failed)
            self._buys_unseen.pop(order_id, None)  # an ended order may cost nothing more (its open_cost is 0)

    def record_fill(self, fill: FillSeen) -> None:
        """A fill new to the store: it leaves its order's remainder and is in flight until the settled position has
        it (while in flight, the same execution id again changes nothing)."""
        in_flight = self._fills.setdefault(fill.symbol, {})
        if fill.execution_id in in_flight:
            return
        in_flight[fill.execution_id] = fill
        if self._changed is not None:
            self._changed.add(fill.symbol)
        order = self._orders.get(fill.order_id)
        if order is not None:
            self._change(order, seen_qty=EXACT.add(order.seen_qty, fill.qty),
                         seen_notional=EXACT.add(order.seen_notional, EXACT.multiply(fill.qty, fill.price)))

    def _add(self, order: BookedOrder) -> None:
        self._orders[order.order_id] = order
        if order.side is OrderSide.BUY and not order.closed:
            self._buys_unseen[order.order_id] = order
            if order.submitted_at is not None:
                heapq.heappush(self._unseen_submitted, (order.submitted_at, next(self._pushed), order.order_id))
        self._count(order, 1)
        if not order.submitted and not order.lapsed:
            heapq.heappush(self._expiring, (order.expires_at, next(self._pushed), order.order_id))

    def _remove(self, order: BookedOrder) -> None:
        self._count(order, -1)
        del self._orders[order.order_id]
        self._buys_unseen.pop(order.order_id, None)

    def _change(self, order: BookedOrder, **changes: object) -> None:
        self._count(order, -1)
        for name, value in changes.items():
            setattr(order, name, value)
        self._count(order, 1)

    def _count(self, order: BookedOrder, sign: int) -> None:
        """Add (``sign`` 1) or take away (-1) what one order contributes to the totals."""
        symbol, working = order.symbol, order.working()
        if self._changed is not None:
            self._changed.add(symbol)
        if order.open:
            self.open_by_symbol[symbol] += sign
        if order.order_id in self._buys_unseen:
            cost = order.open_cost()
            self._unseen_cost = EXACT.add(self._unseen_cost, cost) if sign > 0 else EXACT.subtract(self._unseen_cost,
                                                                                                   cost)
        sides = self._sides.get(symbol)
        if sides is None:
            sides = self._sides[symbol] = _Sides()
        sides.add(order.side, working, sign)
        if order.today:
            committed = order.committed(working)
            used = self.daily_by_symbol.get(symbol, _ZERO)
            self.daily_by_symbol[symbol] = EXACT.add(used, committed) if sign > 0 else EXACT.subtract(used, committed)
