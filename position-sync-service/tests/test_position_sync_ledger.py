"""The ledger facade: snapshots with realized, unrealized and today's P&L; the fold; held fills before actions."""

from datetime import timedelta

from position_sync.alpaca_average import Method
from position_sync.corporate_actions import plan_group
from position_sync.ledger import ActionApplied, Ledger, fold_fills
from position_sync.sequencer import Admission
from position_sync.testing import D, at, buy, sell, split


def test_snapshot_when_quote_and_prior_close_given_then_pnl_matches_the_hand_computation():
    ledger = Ledger()
    for f in (buy(10, 100, 2), buy(5, 104, 3), sell(3, 106, 3, hour=14)):
        ledger.apply_fill(f)

    view = ledger.snapshot("AAPL", at(3, 15), quote=D(105), prior_close=D(102))

    # lots 7 @ 100 + 5 @ 104 = 1,220; 12 × 105 = 1,260
    assert (view.qty, view.cost_basis, view.avg_entry_price) == (D(12), D(1220), (D(1220) / 12).quantize(D("0.000001")))
    assert (view.realized_pnl, view.unrealized_pnl) == (D(18), D(40))
    # 10 held from 102 to 105 (+30), 5 bought at 104 (+5), 3 sold at 106 (+3)
    assert view.today_pnl == D(38)
    assert view.alpaca.method is Method.WEIGHTED_INTRADAY


def test_snapshot_when_short_and_price_falls_then_unrealized_gain():
    ledger = Ledger()
    ledger.apply_fill(sell(10, 50))

    view = ledger.snapshot("AAPL", at(2, 15), quote=D(45))

    assert (view.qty, view.cost_basis, view.avg_entry_price, view.unrealized_pnl) == (D(-10), D(-500), D(50), D(50))


def test_snapshot_when_no_quote_then_no_unrealized_or_today_pnl_and_unknown_symbol_is_flat():
    ledger = Ledger()
    ledger.apply_fill(buy(1, 10))

    view = ledger.snapshot("AAPL", at(2))
    nothing = ledger.snapshot("MSFT", at(2), quote=D(1), prior_close=D(1))

    assert (view.unrealized_pnl, view.today_pnl) == (None, None)
    assert (nothing.qty, nothing.cost_basis, nothing.unrealized_pnl, nothing.today_pnl) == (0, 0, 0, 0)


def test_fold_fills_when_same_fills_then_same_state_as_applying_them_one_by_one():
    fills = [buy(10, 100, 2), sell(4, 101, 2, hour=11), sell(10, 99, 3), buy(6, 98, 4),
             buy(2, 97, 4, symbol="MSFT"), buy(2, 97, 4, symbol="MSFT", execution_id="dup-check")]
    fills.append(fills[1])  # a repeat
    one_by_one = Ledger()
    for f in fills:
        one_by_one.apply_fill(f)

    folded = fold_fills(fills)

    for symbol in ("AAPL", "MSFT"):
        a, b = one_by_one.positions[symbol], folded.positions[symbol]
        assert (a.lots.lots, a.lots.realized) == (b.lots.lots, b.lots.realized)
        assert a.average.view(at(5).date()) == b.average.view(at(5).date())


def test_apply_action_when_fills_of_the_symbol_are_held_then_they_are_booked_before_the_split():
    ledger = Ledger()
    ledger.apply_fill(buy(10, 100, 2))
    held = ledger.apply_fill(buy(5, 100, 3, order_id="o", cum_qty=8))  # 3 shares of this order never came

    applied = ledger.apply_action(plan_group(split("FSPLIT", "15", "100", "60", "25", "1", "4")).action)

    assert held.admission is Admission.HELD
    assert isinstance(applied, ActionApplied) and (applied.qty_before, applied.qty_after) == (D(15), D(60))
    assert ledger.symbols_in_flight() == frozenset()


def test_release_overdue_when_nothing_held_then_nothing_booked():
    assert Ledger().release_overdue(at(2) + timedelta(hours=1)) == ()
