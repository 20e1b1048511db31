"""Reading a trade update, pure: the stream's and a webhook's are read one way, and a webhook's copy of an execution
the stream already counted adds nothing (one fill per execution, whichever door it came by first)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from order_gateway.broker import BrokerOrder
from order_gateway.broker_reports import apply_report
from order_gateway.trade_updates import UnusableUpdate, read_trade_update, read_webhook_update
from tradebus_contracts.events import BrokerTradeUpdate

from .builders import after_report, order_row
from .fakes import START, alpaca_order

ROW = order_row(broker_status="new")


def fill_update(*, execution_id: str = "ex-1", qty: str = "2", price: str = "10.5", cum: str = "2",
                status: str = "partially_filled", event: str = "partial_fill") -> dict:
    return {"event": event, "timestamp": "2026-01-05T15:00:01.123456789Z", "execution_id": execution_id,
            "qty": qty, "price": price, "position_qty": cum,
            "order": alpaca_order(ROW.client_order_id, status=status, qty="5", filled_qty=cum, filled_avg_price=price)}


def webhook(data: dict, **fields) -> BrokerTradeUpdate:
    base = dict(producer="webhook-ingest", correlation_id=str(ROW.order_id), symbol="AAPL", delivery_id="msg_1",
                update=data["event"], client_order_id=data["order"]["client_order_id"],
                broker_order_id=data["order"]["id"], execution_id=data.get("execution_id"), received_at=START,
                trade_update=data)
    return BrokerTradeUpdate(**{**base, **fields})


def test_read_trade_update_when_a_partial_fill_then_its_one_execution_with_the_orders_cumulative_quantity():
    update = read_trade_update(fill_update(), "stream")

    execution = update.execution
    assert update.event == "partial_fill" and update.order["filled_qty"] == "2" and update.position_qty == 2
    assert (execution.source, execution.execution_id, execution.qty, execution.price, execution.cum_qty) == (
        "stream", "ex-1", Decimal(2), Decimal("10.5"), Decimal(2))
    assert execution.timestamp == datetime(2026, 1, 5, 15, 0, 1, 123456, tzinfo=UTC)  # nanoseconds cut to micro


def test_read_trade_update_when_not_an_execution_then_the_order_only():
    data = {"event": "new", "timestamp": "2026-01-05T15:00:00Z", "order": alpaca_order(ROW.client_order_id)}

    update = read_trade_update(data, "stream")

    assert (update.execution, update.position_qty, update.order["status"]) == (None, None, "new")


def test_read_webhook_update_when_a_fill_then_read_like_the_streams_with_source_webhook():
    update = read_webhook_update(webhook(fill_update()))

    assert update == read_trade_update(fill_update(), "webhook")
    assert update.execution.source == "webhook"


@pytest.mark.parametrize(("data", "fields", "reason"), [
    ({**fill_update(), "qty": "lots"}, {}, "unreadable trade update"),
    ({**fill_update(), "timestamp": "yesterday"}, {}, "unreadable trade update"),
    ({**fill_update(), "order": {**fill_update()["order"], "status": "bogus"}}, {}, "unreadable trade update"),
    (fill_update(), {"broker_order_id": "someone-else"}, "order ids differ"),
    (fill_update(), {"update": "fill"}, "differs from the event's"),
    ({k: v for k, v in fill_update().items() if k != "execution_id"}, {}, "without execution_id"),
])
def test_read_webhook_update_when_it_cannot_be_applied_then_unusable_with_the_reason(data, fields, reason):
    with pytest.raises(UnusableUpdate, match=reason):
        read_webhook_update(webhook(data, **fields))


def test_apply_report_when_the_webhook_came_first_then_its_fill_counts_and_the_streams_copy_adds_nothing():
    data = fill_update()
    from_webhook = read_webhook_update(webhook(data))
    order = BrokerOrder.of(from_webhook.order)

    first = apply_report(ROW, order, "webhook", now=START, execution=from_webhook.execution,
                         position_qty=from_webhook.position_qty)
    row = after_report(ROW, "partially_filled", first.recorded.cum_qty, first.recorded.notional)
    from_stream = read_trade_update(data, "stream")
    again = apply_report(row, order, "stream", now=START, execution=from_stream.execution,
                         recorded_execution_ids=frozenset({"ex-1"}))

    fill, changed = first.events
    assert (fill.execution_id, fill.qty, fill.price, fill.source) == ("ex-1", 2, Decimal("10.5"), "webhook")
    assert changed.source == "webhook"
    assert again.fills == () and again.events == ()
