"""The gateway's pure pieces: the transition table, fill reconciliation, the gate, the positions it reads."""

from datetime import timedelta
from decimal import Decimal

import pytest

from order_gateway.fills import ExecutionReport, Recorded, after, reconcile
from order_gateway.gate import check
from order_gateway.lifecycle import Change, apply_status
from order_gateway.positions import BrokerPositions
from tradebus_contracts import OrderStatus as S
from tradebus_contracts import TradingState

from .builders import TRUSTED, approval
from .fakes import START


@pytest.mark.parametrize(("current", "reported", "change", "kept"), [
    (None, S.NEW, Change.APPLIED, S.NEW),
    (S.NEW, S.PARTIALLY_FILLED, Change.APPLIED, S.PARTIALLY_FILLED),
    (S.PARTIALLY_FILLED, S.FILLED, Change.APPLIED, S.FILLED),
    (S.PENDING_CANCEL, S.FILLED, Change.APPLIED, S.FILLED),  # a fill after a cancel request: real-world race
    (S.PENDING_CANCEL, S.PARTIALLY_FILLED, Change.APPLIED, S.PARTIALLY_FILLED),
    (S.NEW, S.CANCELED, Change.APPLIED, S.CANCELED),
    (S.PARTIALLY_FILLED, S.NEW, Change.STALE, S.PARTIALLY_FILLED),  # polling behind the stream
    (S.NEW, S.ACCEPTED, Change.STALE, S.NEW),
    (S.FILLED, S.NEW, Change.STALE, S.FILLED),
    (S.FILLED, S.CANCELED, Change.ILLEGAL, S.FILLED),  # two different ends: our picture is wrong
    (S.NEW, S.NEW, Change.SAME, S.NEW),
])
def test_apply_status_when_reported_then_table_decides(current, reported, change, kept):
    update = apply_status(current, reported)

    assert (update.change, update.status) == (change, kept)


def test_apply_status_when_same_status_but_more_filled_then_applied():
    assert apply_status(S.PARTIALLY_FILLED, S.PARTIALLY_FILLED, more_filled=True).change is Change.APPLIED


def test_reconcile_when_stream_execution_then_counted_with_its_id_and_price():
    fill = reconcile(Recorded(Decimal(0), Decimal(0)),
                     ExecutionReport("stream", Decimal(2), "ex-1", Decimal(2), Decimal("10.5")), False, "tb-x")

    assert (fill.execution_id, fill.qty, fill.price, fill.cum_qty) == ("ex-1", Decimal(2), Decimal("10.5"), Decimal(2))


def test_reconcile_when_poll_saw_it_first_then_the_stream_copy_is_not_counted_again():
    recorded = Recorded(Decimal(0), Decimal(0))
    polled = reconcile(recorded, ExecutionReport("poll", Decimal(2), avg_price=Decimal("10")), False, "tb-x")
    recorded = after(recorded, polled)

    late_stream = reconcile(recorded, ExecutionReport("stream", Decimal(2), "ex-1", Decimal(2), Decimal("10")), False,
                            "tb-x")

    assert polled.qty == Decimal(2) and polled.execution_id == "tb-x:cum:2"
    assert late_stream is None


def test_reconcile_when_poll_jumps_over_two_executions_then_one_fill_at_the_implied_price():
    recorded = Recorded(Decimal(1), Decimal("10"))  # 1 @ 10 counted

    fill = reconcile(recorded, ExecutionReport("poll", Decimal(3), avg_price=Decimal("11")), False, "tb-x")

    assert fill.qty == Decimal(2) and fill.price == Decimal("11.5")  # (3*11 - 10) / 2


def test_reconcile_when_execution_id_seen_then_dropped():
    report = ExecutionReport("stream", Decimal(5), "ex-1", Decimal(5), Decimal("1"))

    assert reconcile(Recorded(Decimal(0), Decimal(0)), report, True, "tb-x") is None


def test_gate_when_reducing_and_a_sell_fits_inside_the_long_then_it_passes():
    sell = approval(side="sell", qty=Decimal(5))

    assert check(sell, TRUSTED, START, TradingState.REDUCING, Decimal(10)) is None


@pytest.mark.parametrize(("fields", "position"), [
    ({"side": "sell", "qty": Decimal(11)}, Decimal(10)),  # closes the long and opens a short
    ({"side": "buy", "qty": Decimal(5)}, Decimal(10)),  # grows the long
    ({"side": "sell", "qty": None, "notional": Decimal(50)}, Decimal(10)),  # share count unknown until filled
    ({"side": "sell", "qty": Decimal(5)}, None),  # the broker's positions are not known yet
])
def test_gate_when_reducing_and_the_order_is_not_provably_reducing_then_refused(fields, position):
    refusal = check(approval(**fields), TRUSTED, START, TradingState.REDUCING, position)

    assert refusal.code == "TRADING_REDUCING_ONLY"


def test_gate_when_trading_state_and_time_vary_then_halted_and_expired_are_refused():
    buy = approval()

    assert check(buy, TRUSTED, START, TradingState.ACTIVE, Decimal(0)) is None
    assert check(buy, TRUSTED, START, TradingState.HALTED, Decimal(0)).code == "TRADING_HALTED"
    assert check(buy, TRUSTED, START + timedelta(minutes=1), TradingState.ACTIVE, Decimal(0)).code == "EXPIRED"


def test_positions_when_never_reported_then_unknown_and_once_reported_flat_is_zero():
    positions = BrokerPositions()
    unknown = positions.qty("AAPL")

    gone = positions.replace({"AAPL": Decimal(10)})

    assert unknown is None and gone == set()
    assert (positions.qty("AAPL"), positions.qty("MSFT")) == (Decimal(10), Decimal(0))


def test_positions_when_a_symbol_is_no_longer_held_then_replace_says_so():
    positions = BrokerPositions()
    positions.replace({"AAPL": Decimal(10), "MSFT": Decimal(-3)})

    assert positions.replace({"AAPL": Decimal(4)}) == {"MSFT"}
