"""An execution we never heard of is priced from the order's cumulative average, not at the next execution's price:
the fills reported for an order always add up to filled_qty × filled_avg_price. Pure, plain values."""

from decimal import Decimal

from order_gateway.broker_reports import apply_report
from order_gateway.fills import ExecutionReport

from .builders import broker_order, order_row
from .fakes import START


def notional(outcome):
    return sum(f.fill.qty * f.fill.price for f in outcome.fills)


def test_apply_report_when_the_first_execution_was_missed_then_priced_from_the_average_and_the_seen_one_at_its_own():
    row = order_row(broker_status="new")
    # the broker executed 2 @ 10 (never reported to us), then 2 @ 11: filled 4 at an average of 10.5
    order = broker_order(row, "filled", filled_qty="4", filled_avg_price="10.5")
    seen = ExecutionReport(source="stream", cum_qty=Decimal(4), execution_id="ex-2", qty=Decimal(2),
                           price=Decimal(11), timestamp=START)

    outcome = apply_report(row, order, "stream", now=START, execution=seen, position_qty=Decimal(4))

    assert notional(outcome) == Decimal(4) * Decimal("10.5") == outcome.recorded.notional
    assert [(f.fill.execution_id, f.fill.qty, f.fill.price, f.fill.cum_qty) for f in outcome.fills] == [
        (f"{row.client_order_id}:cum:2", 2, 10, 2), ("ex-2", 2, 11, 4)]
    fills = [e for e in outcome.events if e.event_type == "FillReported"]
    assert [f.position_qty for f in fills] == [None, 4]  # the position after ex-2 is not the missed fill's
    assert outcome.events[-1].filled_avg_price == Decimal("10.5")


def test_apply_report_when_a_middle_execution_was_missed_then_the_gap_is_priced_from_the_average():
    row = order_row(broker_status="partially_filled", filled_qty="1", filled_notional="100")  # 1 @ 100 counted
    # then 2 @ 102 (missed) and 1 @ 106 (seen): 4 filled for 100 + 204 + 106 = 410, an average of 102.5
    order = broker_order(row, "filled", filled_qty="4", filled_avg_price="102.5")
    seen = ExecutionReport(source="webhook", cum_qty=Decimal(4), execution_id="ex-3", qty=Decimal(1),
                           price=Decimal(106), timestamp=START)

    outcome = apply_report(row, order, "webhook", now=START, execution=seen)

    assert Decimal(100) + notional(outcome) == Decimal(4) * Decimal("102.5") == outcome.recorded.notional
    assert [(f.fill.qty, f.fill.price, f.fill.cum_qty) for f in outcome.fills] == [(2, 102, 3), (1, 106, 4)]
