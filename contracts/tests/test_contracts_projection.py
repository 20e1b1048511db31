"""Projected exposure with plain values: the worst cases, what reduces, when a fill is in the settled position — and,
against a simulated broker, that a filled share is never dropped and never held twice beyond what cannot be proved."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradebus_contracts.orders import OrderSide
from tradebus_contracts.projection import Projection, Working, in_settled, remaining

BUY, SELL = OrderSide.BUY, OrderSide.SELL
D = Decimal
T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def test_projection_when_orders_work_on_both_sides_then_each_side_adds_to_its_own_worst_case():
    projection = Projection.of(D(100), [Working(BUY, D(50)), Working(SELL, D(30)), Working(SELL, D(20))])

    assert (projection.long_worst, projection.short_worst) == (D(150), D(50))
    assert projection.worst_after(BUY, D(10)) == D(160) and projection.worst_after(SELL, D(60)) == D(-10)


def test_projection_when_a_size_is_unknown_then_only_its_side_is_unbounded():
    projection = Projection.of(D(100), [Working(SELL, None), Working(BUY, D(5))])

    assert projection.short_worst is None and projection.long_worst == D(105)
    assert not projection.reduces(SELL, D(1)) and projection.covered(SELL) == 0


@pytest.mark.parametrize(("working", "side", "qty", "reduces"), [
    ([], SELL, D(100), True),
    ([Working(SELL, D(100))], SELL, D(100), False),  # a second sell of the whole long would open a short
    ([Working(SELL, D(40))], SELL, D(60), True),
    ([Working(BUY, D(50))], SELL, D(100), True),  # an open buy never takes away what a sell covers
    ([], BUY, D(1), False),
])
def test_reduces_when_a_long_of_100_has_orders_working_then_only_what_every_outcome_covers(working, side, qty,
                                                                                           reduces):
    assert Projection.of(D(100), working).reduces(side, qty) is reduces


@given(side=st.sampled_from([BUY, SELL]), qty=st.integers(-5, 300), position=st.integers(-300, 300))
def test_reduces_when_nothing_is_working_then_the_opposite_side_and_no_more_than_is_held(side, qty, position):
    held = position if side is SELL else -position
    assert Projection(D(position)).reduces(side, D(qty)) is (0 < qty <= held)


def test_remaining_when_overfilled_or_unknown_then_never_negative_and_unknown_stays_unknown():
    assert (remaining(D(10), D(4)), remaining(D(10), D(12)), remaining(None, D(1))) == (D(6), D(0), None)


def test_projection_when_values_are_forty_digits_then_no_share_is_lost_to_rounding():
    big, tiny = D("1" + "0" * 30), D("0.000000001")

    projection = Projection.of(big, [Working(SELL, tiny)])

    assert projection.short_worst == D("999999999999999999999999999999.999999999")


@pytest.mark.parametrize(("recorded", "as_of", "settled"), [
    (T0, T0 + timedelta(seconds=10), True),
    (T0, T0 + timedelta(seconds=9.999), False),  # the positions request may have been sent before the fill
    (T0, None, False),
])
def test_in_settled_when_a_snapshot_was_answered_then_only_fills_before_its_request_are_in_it(recorded, as_of,
                                                                                                settled):
    assert in_settled(recorded, as_of, timedelta(seconds=10)) is settled


# --- against a simulated broker ---------------------------------------------------------------------------------

MARGIN = timedelta(seconds=3)


@dataclass
class Order:
    side: OrderSide
    qty: Decimal
    filled: Decimal = D(0)  # at the broker
    open: bool = True


@dataclass
class Fill:
    order: Order
    qty: Decimal
    executed: datetime  # at the broker
    heard: datetime  # when the gateway heard of it and stamped it: after the broker made it

    def signed(self) -> Decimal:
        return self.qty if self.order.side is BUY else -self.qty


@dataclass
class Market:
    """The broker's truth, and what a reader of the bus knows of it at ``now``: the fills heard so far, the orders'
    ends, the last settled snapshot (computed when the broker was asked, stamped when its answer came back)."""

    start: Decimal
    now: datetime = T0
    orders: list[Order] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    settled: Decimal = D(0)
    in_snapshot: int = 0  # how many of the fills (in execution order) the last snapshot has
    settled_as_of: datetime = T0

    def truth(self) -> Decimal:
        return self.start + sum((f.signed() for f in self.fills), D(0))

    def heard(self) -> list[Fill]:
        return [f for f in self.fills if f.heard <= self.now]

    def proved(self, fill: Fill) -> bool:
        return fill.heard <= self.now and in_settled(fill.heard, self.settled_as_of, MARGIN)

    def projection(self) -> Projection:
        """What the projection is given: open remainders (an ended order's filled part not heard yet still works),
        and every heard fill not provably settled."""
        heard = self.heard()
        working = []
        for order in self.orders:
            heard_qty = sum((f.qty for f in heard if f.order is order), D(0))
            working.append(Working(order.side, remaining(order.qty if order.open else order.filled, heard_qty)))
        working += [Working(f.order.side, f.qty) for f in heard if not self.proved(f)]
        return Projection.of(self.settled, working)

    def step(self, op: str, pick: int, qty: int) -> None:
        live = [o for o in self.orders if o.open and o.filled < o.qty]
        if op == "place":
            self.orders.append(Order(BUY if pick % 2 else SELL, D(qty)))
        elif op == "fill" and live:
            order = live[pick % len(live)]
            part = min(D(qty), order.qty - order.filled)
            order.filled += part
            self.fills.append(Fill(order, part, self.now, self.now + timedelta(milliseconds=pick * 40)))
        elif op == "cancel" and live:
            live[pick % len(live)].open = False
        elif op == "snapshot":  # the broker computes it now; the answer is back (stamped) up to MARGIN later
            self.in_snapshot = len(self.fills)  # by order, not by clock: a fill at the same instant may be after
            self.settled = self.start + sum((f.signed() for f in self.fills), D(0))
            self.settled_as_of = self.now + MARGIN * pick / 50


steps = st.lists(st.tuples(st.sampled_from(["place", "fill", "cancel", "snapshot", "wait"]),
                           st.integers(0, 50), st.integers(1, 40), st.integers(0, 3000)), max_size=60)


@settings(max_examples=300, deadline=None)
@given(start=st.integers(-100, 100), steps=steps)
def test_projection_when_orders_fill_and_snapshots_lag_then_no_fill_is_dropped_and_only_the_unprovable_is_held(
    start, steps
):
    market = Market(D(start), settled=D(start))
    for op, pick, qty, ms in steps:
        market.now += timedelta(milliseconds=ms)
        market.step(op, pick, qty)

        projection = market.projection()
        truth = market.truth()
        open_buys = sum((o.qty - o.filled for o in market.orders if o.open and o.side is BUY), D(0))
        open_sells = sum((o.qty - o.filled for o in market.orders if o.open and o.side is SELL), D(0))
        in_snapshot = market.fills[:market.in_snapshot]
        unproved = [f for f in in_snapshot if not market.proved(f)]
        not_in_snapshot = market.fills[market.in_snapshot:]

        def qty_of(fills: list[Fill], side: OrderSide) -> Decimal:
            return sum((f.qty for f in fills if f.order.side is side), D(0))

        # never dropped: whatever the open orders do, the position stays between the worst cases; and nothing is
        # held beyond the truth but what cannot be proved yet: fills the snapshot has but cannot be shown to have,
        # and fills on the other side that the snapshot does not have yet
        assert projection.long_worst - (truth + open_buys) == qty_of(unproved, BUY) + qty_of(not_in_snapshot, SELL)
        assert (truth - open_sells) - projection.short_worst == qty_of(unproved, SELL) + qty_of(not_in_snapshot, BUY)
