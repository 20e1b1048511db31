"""Each execution once, an order's executions in cumulative order, gaps given up on only when told."""

from datetime import timedelta

from position_sync.ledger import Ledger
from position_sync.sequencer import Admission, Fill, FillSequencer
from position_sync.testing import D, at, buy, sell
from tradebus_contracts import FillReported, OrderStatus


def test_admit_when_execution_id_repeats_then_duplicate_and_nothing_booked():
    seq = FillSequencer()
    first = buy(10, 5, execution_id="ex-a")

    assert seq.admit(first) == (Admission.BOOKED, [first])
    assert seq.admit(first) == (Admission.DUPLICATE, [])


def test_admit_when_later_execution_arrives_first_then_held_and_booked_after_the_earlier_one():
    seq = FillSequencer()
    second = sell(5, 6, order_id="o", cum_qty=15, execution_id="e2")
    first = sell(10, 5, order_id="o", cum_qty=10, execution_id="e1", final=False)

    assert seq.admit(second) == (Admission.HELD, [])
    assert seq.admit(first) == (Admission.BOOKED, [first, second])
    assert seq.booked_cum == {} and seq.held == {}  # the final execution is booked: the order's bookkeeping goes


def test_apply_fill_when_partials_of_a_crossing_sell_arrive_out_of_order_then_lots_equal_in_order_result():
    fills = [buy(10, 4, execution_id="b"),
             sell(10, 5, order_id="o", cum_qty=10, execution_id="e1", final=False),
             sell(5, 6, order_id="o", cum_qty=15, execution_id="e2")]
    in_order, reversed_partials = Ledger(), Ledger()
    for f in fills:
        in_order.apply_fill(f)
    for f in (fills[0], fills[2], fills[1]):
        reversed_partials.apply_fill(f)

    expected = [("e2", D(-5), D(-30))]  # the short opens at 6, the second execution's price
    assert [(lot.lot_id, lot.qty, lot.cost) for lot in in_order.positions["AAPL"].lots.lots] == expected
    assert [(lot.lot_id, lot.qty, lot.cost) for lot in reversed_partials.positions["AAPL"].lots.lots] == expected
    assert reversed_partials.positions["AAPL"].lots.realized == in_order.positions["AAPL"].lots.realized == D(10)


def test_release_overdue_when_gap_never_fills_then_held_fill_is_booked_after_the_wait_only():
    ledger = Ledger()
    orphan = buy(5, 10, order_id="o", cum_qty=15, execution_id="e2", hour=10)

    assert ledger.apply_fill(orphan).admission is Admission.HELD
    assert ledger.symbols_in_flight() == {"AAPL"}
    assert ledger.release_overdue(at(2, 10, 0) + timedelta(seconds=4), wait=timedelta(seconds=5)) == ()
    released = ledger.release_overdue(at(2, 10, 0) + timedelta(seconds=5), wait=timedelta(seconds=5))

    assert [b.fill.execution_id for b in released] == ["e2"]
    assert ledger.positions["AAPL"].lots.qty == D(5)
    assert ledger.symbols_in_flight() == frozenset()


def test_apply_fill_when_gap_filler_arrives_after_release_then_it_still_counts_once():
    ledger = Ledger()
    ledger.apply_fill(buy(5, 10, order_id="o", cum_qty=15, execution_id="e2"))
    ledger.release_overdue(at(3), wait=timedelta(seconds=5))

    late = ledger.apply_fill(buy(10, 9, order_id="o", cum_qty=10, execution_id="e1", final=False))
    again = ledger.apply_fill(buy(10, 9, order_id="o", cum_qty=10, execution_id="e1", final=False))

    assert (late.admission, again.admission) == (Admission.LATE, Admission.DUPLICATE)
    assert ledger.positions["AAPL"].lots.qty == D(15)


def test_from_event_when_fill_reported_then_fields_carry_over_keyed_by_the_broker_order_id():
    event = FillReported(order_id="6f1c0d52-1d0c-4d5e-9a57-0b7e3f1f2a11", correlation_id=
                         "6f1c0d52-1d0c-4d5e-9a57-0b7e3f1f2a11", producer="order-gateway", client_order_id="tb-x",
                         broker_order_id="b-1", symbol="AAPL", side="sell", execution_id="ex-9", qty="2.5",
                         price="101.25", cum_qty="2.5", order_status=OrderStatus.FILLED, executed_at=at(2),
                         source="stream")

    got = Fill.from_event(event)

    assert (got.execution_id, got.order_id, got.symbol, got.signed_qty, got.price, got.cum_qty, got.order_final) == (
        "ex-9", "b-1", "AAPL", D("-2.5"), D("101.25"), D("2.5"), True)
