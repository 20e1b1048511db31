"""The gateway's pure pieces: the transition table, fill reconciliation, the gate's REDUCING rule."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from order_gateway.fills import ExecutionReport, Recorded, after, reconcile
from order_gateway.gate import check, reduces_position
from order_gateway.lifecycle import Change, apply_status
from tradebus_contracts import OrderRequested, OrderSide, TradingState, sign_approval
from tradebus_contracts import OrderStatus as S
from tradebus_contracts.signing import generate_private_key, public_key_to_b64, trusted_keys


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


@pytest.mark.parametrize(("side", "qty", "position", "expected"), [
    (OrderSide.SELL, Decimal(5), Decimal(10), True),
    (OrderSide.SELL, Decimal(11), Decimal(10), False),
    (OrderSide.BUY, Decimal(5), Decimal(10), False),
    (OrderSide.BUY, Decimal(5), Decimal(-10), True),
    (OrderSide.SELL, None, Decimal(10), False),  # notional: not provably reducing
])
def test_reduces_position_when_side_and_size_vary_then_only_true_reductions_pass(side, qty, position, expected):
    assert reduces_position(side, qty, position) is expected


def test_gate_when_reducing_and_order_grows_the_position_then_refused():
    key = generate_private_key()
    order_id = uuid4()
    request = OrderRequested(producer="t", order_id=order_id, correlation_id=str(order_id), symbol="AAPL",
                             side="buy", type="market", time_in_force="day", qty=Decimal(1))
    now = datetime.now(UTC)
    approval = sign_approval(request, private_key=key, issued_at=now, ttl=timedelta(seconds=30), producer="risk")
    trusted = trusted_keys([public_key_to_b64(key.public_key())])

    assert check(approval, trusted, now, TradingState.ACTIVE, Decimal(0)) is None
    assert check(approval, trusted, now, TradingState.REDUCING, Decimal(10)).code == "TRADING_REDUCING_ONLY"
    assert check(approval, trusted, now, TradingState.HALTED, Decimal(0)).code == "TRADING_HALTED"
    assert check(approval, trusted, now + timedelta(minutes=1), TradingState.ACTIVE, Decimal(0)).code == "EXPIRED"
