"""Contract: the trade_updates websocket as alpaca-py's TradingStream receives it."""

from __future__ import annotations

from decimal import Decimal

from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest, ReplaceOrderRequest

from alpaca_sim.testing import wait_for


def market(symbol: str, qty: float, side: OrderSide = OrderSide.BUY) -> MarketOrderRequest:
    return MarketOrderRequest(symbol=symbol, qty=qty, side=side, time_in_force=TimeInForce.DAY)


def test_market_buy_when_listening_then_new_and_fill_with_execution_details(broker, admin):
    stream = broker.stream()
    admin.quote("AAPL", "100.00", "100.02")

    order = broker.trading().submit_order(market("AAPL", 5))

    wait_for(lambda: "fill" in stream.events(order.id))
    assert stream.events(order.id) == ["pending_new", "new", "fill"]
    fill = stream.for_order(order.id)[-1]
    assert fill.execution_id is not None
    assert fill.qty == 5 and fill.price == 100.02 and fill.position_qty == 5
    assert fill.order.filled_qty == "5" and fill.order.filled_avg_price == "100.02"
    assert fill.order.status == OrderStatus.FILLED


def test_capped_order_when_listening_then_one_partial_fill_per_execution_with_cumulative_order(broker, admin):
    stream = broker.stream()
    admin.quote("MSFT", "200.00", "200.04")
    admin.liquidity("MSFT", 4)

    order = broker.trading().submit_order(market("MSFT", 10))

    wait_for(lambda: "fill" in stream.events(order.id))
    executions = [u for u in stream.for_order(order.id) if u.execution_id is not None]
    assert [str(getattr(u.event, "value", u.event)) for u in executions] == ["partial_fill", "partial_fill", "fill"]
    assert [u.qty for u in executions] == [4, 4, 2]
    assert [u.order.filled_qty for u in executions] == ["4", "8", "10"]
    assert [u.position_qty for u in executions] == [4, 8, 10]
    assert len({u.execution_id for u in executions}) == 3


def test_cancel_when_listening_then_pending_cancel_then_canceled(broker, admin):
    stream = broker.stream()
    client = broker.trading()
    order = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=1))

    client.cancel_order_by_id(order.id)

    wait_for(lambda: "canceled" in stream.events(order.id))
    assert stream.events(order.id)[-2:] == ["pending_cancel", "canceled"]
    assert stream.for_order(order.id)[-1].order.canceled_at is not None


def test_market_close_when_day_order_rests_then_expired_event(broker, admin):
    stream = broker.stream()
    admin.quote("AAPL", "100.00", "100.02")
    order = broker.trading().submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=50))

    admin.clock(False)

    wait_for(lambda: "expired" in stream.events(order.id))
    assert stream.for_order(order.id)[-1].order.status == OrderStatus.EXPIRED


def test_replace_when_listening_then_replaced_for_old_and_new_for_replacement(broker, admin):
    stream = broker.stream()
    client = broker.trading()
    old = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=1))

    new = client.replace_order_by_id(old.id, ReplaceOrderRequest(limit_price=1.10))

    wait_for(lambda: "replaced" in stream.events(old.id) and "new" in stream.events(new.id))
    replaced = stream.for_order(old.id)[-1]
    assert str(replaced.order.replaced_by) == str(new.id)


def test_queued_order_when_it_can_no_longer_be_paid_at_the_open_then_rejected(broker, admin):
    stream = broker.stream()
    admin.quote("AAPL", "100.00", "100.00")
    admin.clock(False)
    order = broker.trading().submit_order(market("AAPL", 900))
    admin.quote("AAPL", "200.00", "200.00")

    admin.clock(True)

    wait_for(lambda: "rejected" in stream.events(order.id))
    assert stream.events(order.id) == ["pending_new", "accepted", "rejected"]
    assert broker.trading().get_order_by_id(order.id).status == OrderStatus.REJECTED


def test_stream_sums_when_partial_fills_then_match_order_fill_totals(broker, admin):
    stream = broker.stream()
    admin.quote("KO", "60.00", "60.01")
    admin.liquidity("KO", "0.7")

    order = broker.trading().submit_order(market("KO", 2))

    wait_for(lambda: "fill" in stream.events(order.id))
    executions = [u for u in stream.for_order(order.id) if u.execution_id is not None]
    assert sum(Decimal(str(u.qty)) for u in executions) == 2


def test_cancel_when_delayed_and_market_crosses_meanwhile_then_the_fill_wins(broker, admin):
    stream = broker.stream()
    admin.quote("AAPL", "100.00", "100.02")
    admin.http.post("/admin/cancel_latency", json={"delay_ms": 400}).raise_for_status()
    client = broker.trading()
    order = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=2, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=99))

    client.cancel_order_by_id(order.id)
    assert client.get_order_by_id(order.id).status == OrderStatus.PENDING_CANCEL
    admin.quote("AAPL", "98.90", "98.95")

    wait_for(lambda: "fill" in stream.events(order.id))
    assert stream.events(order.id)[-2:] == ["pending_cancel", "fill"]
    assert client.get_order_by_id(order.id).status == OrderStatus.FILLED


def test_cancel_when_delayed_and_nothing_happens_then_canceled_after_the_delay(broker, admin):
    admin.http.post("/admin/cancel_latency", json={"delay_ms": 200}).raise_for_status()
    client = broker.trading()
    order = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=1))

    client.cancel_order_by_id(order.id)

    assert client.get_order_by_id(order.id).status == OrderStatus.PENDING_CANCEL
    wait_for(lambda: client.get_order_by_id(order.id).status == OrderStatus.CANCELED)
