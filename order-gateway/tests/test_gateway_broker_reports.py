"""Applying one broker report to our row, pure: which fills are new, what the status becomes, what is published."""

from decimal import Decimal

from order_gateway.broker_reports import apply_report
from order_gateway.fills import ExecutionReport
from order_gateway.lifecycle import Change
from tradebus_contracts import OrderStatus

from .builders import after_report, broker_order, order_row
from .fakes import START, FakeBroker, alpaca_order


def stream_execution(execution_id, qty, price, cum_qty):
    return ExecutionReport(source="stream", cum_qty=Decimal(cum_qty), execution_id=execution_id, qty=Decimal(qty),
                           price=Decimal(price), timestamp=START)


def test_apply_report_when_the_first_status_arrives_after_submit_then_status_changed_from_nothing():
    row = order_row(broker_status=None)

    outcome = apply_report(row, broker_order(row, "new"), "lookup", now=START)

    (changed,) = outcome.events
    assert outcome.status.change is Change.APPLIED and not outcome.fills
    assert (changed.previous_status, changed.status, changed.source) == (None, OrderStatus.NEW, "lookup")


def test_apply_report_when_the_stream_reports_an_execution_then_one_fill_with_its_id_and_price():
    row = order_row(broker_status="new")
    order = broker_order(row, "partially_filled", filled_qty="2", filled_avg_price="10.5")

    outcome = apply_report(row, order, "stream", now=START, execution=stream_execution("ex-1", "2", "10.5", "2"),
                           position_qty=Decimal(2))

    fill, changed = outcome.events
    assert [f.fill.execution_id for f in outcome.fills] == ["ex-1"] and outcome.fills[0].source == "stream"
    assert (fill.execution_id, fill.qty, fill.price, fill.position_qty) == ("ex-1", 2, Decimal("10.5"), 2)
    assert (changed.status, changed.filled_qty, changed.filled_avg_price) == (OrderStatus.PARTIALLY_FILLED, 2,
                                                                             Decimal("10.5"))
    assert (outcome.recorded.cum_qty, outcome.recorded.notional) == (Decimal(2), Decimal("21.0"))


def test_apply_report_when_polling_catches_up_on_missed_executions_then_one_fill_at_the_implied_price():
    row = order_row(broker_status="partially_filled", filled_qty="2", filled_notional="20")  # 2 @ 10 counted
    order = broker_order(row, "filled", filled_qty="5", filled_avg_price="10.6")

    outcome = apply_report(row, order, "poll", now=START)

    fill, changed = outcome.events
    assert (fill.execution_id, fill.qty, fill.price) == (f"{row.client_order_id}:cum:5", 3, Decimal(11))  # (53-20)/3
    assert fill.source == "poll" and fill.position_qty is None
    assert (changed.previous_status, changed.status) == (OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED)


def test_apply_report_when_a_lookup_finds_a_fill_then_it_is_reported_as_polled():
    row = order_row(broker_status="new")

    outcome = apply_report(row, broker_order(row, "filled", filled_qty="5", filled_avg_price="10"), "lookup",
                           now=START)

    assert outcome.events[0].source == "poll" and outcome.fills[0].source == "lookup"


def test_apply_report_when_polling_is_behind_the_stream_then_stale_and_nothing_published():
    row = order_row(broker_status="partially_filled", filled_qty="2", filled_notional="20")

    outcome = apply_report(row, broker_order(row, "new"), "poll", now=START)

    assert outcome.status.change is Change.STALE and outcome.status.status is OrderStatus.PARTIALLY_FILLED
    assert outcome.events == () and outcome.fills == ()
    assert outcome.recorded.cum_qty == Decimal(2)


def test_apply_report_when_the_broker_contradicts_a_final_status_then_illegal_and_not_applied():
    row = order_row(broker_status="filled", filled_qty="5", filled_notional="50")

    outcome = apply_report(row, broker_order(row, "canceled", filled_qty="5", filled_avg_price="10"), "poll",
                           now=START)

    assert outcome.status.change is Change.ILLEGAL and outcome.status.status is OrderStatus.FILLED
    assert outcome.events == ()


def test_apply_report_when_an_execution_id_is_recorded_already_then_it_is_not_counted_again():
    row = order_row(broker_status="partially_filled", filled_qty="2", filled_notional="20")
    order = broker_order(row, "partially_filled", filled_qty="2", filled_avg_price="10")

    outcome = apply_report(row, order, "stream", now=START, execution=stream_execution("ex-1", "2", "10", "2"),
                           recorded_execution_ids=frozenset({"ex-1"}))

    assert outcome.status.change is Change.SAME and outcome.events == () and outcome.fills == ()


def test_apply_report_when_an_execution_has_no_time_then_the_fill_is_dated_by_the_order_or_now():
    row = order_row(broker_status="new")
    untimed = ExecutionReport(source="stream", cum_qty=Decimal(1), execution_id="ex-1", qty=Decimal(1),
                              price=Decimal(10))

    outcome = apply_report(row, broker_order(row, "partially_filled", filled_qty="1", filled_avg_price="10"),
                           "stream", now=START, execution=untimed)

    assert outcome.fills[0].executed_at == START  # the order's updated_at (START), else now


def test_apply_report_when_partially_filled_then_filled_then_two_fills_covering_the_order_once():
    broker = FakeBroker()
    row = order_row(broker_status="new")
    broker.holds(alpaca_order(row.client_order_id, broker_order_id=row.broker_order_id, qty="5"))
    reports = []
    for execution_id, qty in (("ex-1", "2"), ("ex-2", "3")):
        raw = broker.fill(row.client_order_id, Decimal(qty), Decimal(10))
        order = broker_order(row, raw["status"], filled_qty=raw["filled_qty"], filled_avg_price=raw["filled_avg_price"])
        outcome = apply_report(row, order, "stream", now=START,
                               execution=stream_execution(execution_id, qty, "10", raw["filled_qty"]))
        row = after_report(row, outcome.status.status.value, outcome.recorded.cum_qty, outcome.recorded.notional)
        reports.append(outcome)

    fills = [e for o in reports for e in o.events if e.event_type == "FillReported"]
    statuses = [e.status for o in reports for e in o.events if e.event_type == "OrderStatusChanged"]
    assert [(f.execution_id, f.qty, f.cum_qty) for f in fills] == [("ex-1", 2, 2), ("ex-2", 3, 5)]
    assert statuses == [OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED]
    assert row.filled_qty == Decimal(5) and row.filled_notional == Decimal(50)

