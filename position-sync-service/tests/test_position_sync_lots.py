"""FIFO tax lots: relief order, realized P&L, shorts, zero crossings, adjustments and split arithmetic."""

from decimal import Decimal

import pytest

from position_sync.lots import FifoLots, Lot, scaled, scaled_qty
from position_sync.testing import D, at


def book_all(trades: list[tuple[str, str, str]]) -> tuple[FifoLots, list]:
    """(execution id, signed qty, price) in order → the lots and every relief."""
    lots, reliefs = FifoLots(), []
    for execution_id, qty, price in trades:
        q, p = D(qty), D(price)
        reliefs += lots.book(execution_id, at(2), q, q * p, p)
    return lots, reliefs


# hand-computed: each relief is (lot closed, qty closed, basis relieved, proceeds, realized)
@pytest.mark.parametrize(("trades", "left", "reliefs", "realized"), [
    pytest.param(
        [("b1", "100", "10"), ("b2", "50", "12"), ("s1", "-30", "15"), ("s2", "-90", "11")],
        [("b2", "30", "360")],
        [("b1", "30", "300", "450", "150"), ("b1", "70", "700", "770", "70"), ("b2", "20", "240", "220", "-20")],
        "200", id="buys then partial sells"),
    pytest.param(
        [("s1", "-50", "20"), ("s2", "-25", "22"), ("b1", "60", "18")],
        [("s2", "-15", "-330")],
        [("s1", "-50", "-1000", "-900", "100"), ("s2", "-10", "-220", "-180", "40")],
        "140", id="a short then a cover"),
    pytest.param(
        [("b1", "10", "5"), ("s1", "-15", "6"), ("b2", "8", "4")],
        [("b2", "3", "12")],
        [("b1", "10", "50", "60", "10"), ("s1", "-5", "-30", "-20", "10")],
        "20", id="crossing zero both ways opens the other side at the fill price"),
    pytest.param(
        [("b1", "0.5", "100.10"), ("b2", "1.25", "99.90"), ("s1", "-1", "101")],
        [("b2", "0.75", "74.925")],
        [("b1", "0.5", "50.050", "50.5", "0.450"), ("b2", "0.5", "49.950", "50.5", "0.550")],
        "1.000", id="fractional shares"),
])
def test_book_when_fills_in_order_then_fifo_lots_and_realized_match_the_hand_table(trades, left, reliefs, realized):
    lots, got = book_all(trades)

    assert [(lot.lot_id, lot.qty, lot.cost) for lot in lots.lots] == [(i, D(q), D(c)) for i, q, c in left]
    assert [(r.lot_id, r.qty, r.basis, r.proceeds, r.realized) for r in got] == [
        (i, D(q), D(b), D(p), D(pnl)) for i, q, b, p, pnl in reliefs]
    assert lots.realized == D(realized)
    assert (lots.qty, lots.cost) == (sum((D(q) for _, q, _ in left), Decimal(0)), sum((D(c) for *_, c in left),
                                                                                      Decimal(0)))


def test_book_when_sell_closes_exactly_then_position_is_flat_with_no_lot_left():
    lots, reliefs = book_all([("b1", "10", "5"), ("s1", "-10", "7")])

    assert (lots.lots, lots.qty, lots.cost, lots.realized) == ((), 0, 0, D(20))
    assert len(reliefs) == 1


def test_book_when_not_recording_then_totals_are_the_same_without_relief_values():
    recorded, _ = book_all([("b1", "10", "5"), ("b2", "5", "6"), ("s1", "-12", "7")])
    quiet = FifoLots()
    for execution_id, q, p in [("b1", "10", "5"), ("b2", "5", "6"), ("s1", "-12", "7")]:
        assert quiet.book(execution_id, at(2), D(q), D(q) * D(p), D(p), record=False) == []

    assert (quiet.lots, quiet.qty, quiet.cost, quiet.realized) == (
        recorded.lots, recorded.qty, recorded.cost, recorded.realized)


def test_lots_when_read_before_a_partial_relief_then_the_values_read_stay_as_they_were():
    lots, _ = book_all([("b1", "10", "5"), ("b2", "5", "6")])
    before = lots.lots

    lots.book("s1", at(2), D(-4), D(-28), D(7))

    assert before == (Lot("b1", at(2), D(10), D(50)), Lot("b2", at(2), D(5), D(30)))
    assert lots.lots == (Lot("b1", at(2), D(6), D(30)), Lot("b2", at(2), D(5), D(30)))
    assert all(type(lot) is Lot for lot in lots.lots)


@pytest.mark.parametrize(("target", "left", "removed"), [
    ("4", [("b2", "4", "48")], "62"),  # 10 @ 5 closes (50), 1 of b2 at its basis (12)
    ("20", [("b1", "10", "50"), ("b2", "5", "60"), ("adj", "5", "65")], "0"),  # new shares at the given price
    ("-3", [("adj", "-3", "-39")], "110"),  # other side: everything closes, the short opens at the price
    ("0", [], "110"),
])
def test_adjust_to_when_target_differs_then_lots_move_without_realizing(target, left, removed):
    lots, _ = book_all([("b1", "10", "5"), ("b2", "5", "12")])

    got = lots.adjust_to(D(target), D(13), "adj", at(3))

    assert [(lot.lot_id, lot.qty, lot.cost) for lot in lots.lots] == [(i, D(q), D(c)) for i, q, c in left]
    assert (got, lots.realized) == (D(removed), 0)


def test_scaled_when_reverse_split_leaves_a_fraction_then_the_fraction_is_kept_and_basis_preserved():
    lots = (Lot("a", at(2), D(20), D(140)), Lot("b", at(2), D(13), D(91)))  # 33 shares @ 7, the RSPLIT sample

    out = scaled(lots, D(1) / D(20))

    assert [lot.qty for lot in out] == [D("1"), D("0.65")]
    assert sum(lot.qty for lot in out) == D("1.65")
    assert sum(lot.cost for lot in out) == D(231)
    assert out[0].price == D(140)


def test_scaled_when_ratio_does_not_terminate_then_total_is_cut_to_nine_places_and_last_lot_absorbs_it():
    lots = (Lot("a", at(2), D(1), D(10)), Lot("b", at(2), D(1), D(10)), Lot("c", at(2), D(1), D(10)))

    out = scaled(lots, D(1) / D(7))

    assert sum(lot.qty for lot in out) == scaled_qty(D(3), D(1) / D(7)) == D("0.428571428")
    assert [lot.qty for lot in out[:2]] == [D("0.142857142")] * 2
    assert sum(lot.cost for lot in out) == D(30)


def test_replace_when_lots_on_both_sides_then_refused():
    with pytest.raises(ValueError, match="one side"):
        FifoLots([Lot("a", at(2), D(1), D(1)), Lot("b", at(2), D(-1), D(-1))])


def test_scaled_when_a_tiny_lot_is_cut_to_zero_shares_then_its_basis_moves_to_the_next_lot():
    lots = (Lot("a", at(2), D("0.000000001"), D("0.5")), Lot("b", at(2), D(2), D(20)))

    out = scaled(lots, D(1) / D(2))

    assert [(lot.lot_id, lot.qty, lot.cost) for lot in out] == [("b", D(1), D("20.5"))]
