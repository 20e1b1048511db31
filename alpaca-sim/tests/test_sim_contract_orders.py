"""Contract: orders through alpaca-py's TradingClient, as the order gateway uses them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLimitOrderRequest,
    StopOrderRequest,
    TrailingStopOrderRequest,
)

from alpaca_sim.testing import wait_filled, wait_for


def far_limit_buy(symbol: str = "AAPL", qty: float = 1, **extra) -> LimitOrderRequest:
    """A buy limit so far below the market that it rests on any broker."""
    return LimitOrderRequest(symbol=symbol, qty=qty, side=OrderSide.BUY, time_in_force=TimeInForce.DAY,
                             limit_price=1.00, **extra)


def status_of(client, order_id) -> OrderStatus:
    return client.get_order_by_id(order_id).status


def test_submit_limit_order_when_far_from_market_then_it_rests_with_string_decimals(broker):
    client = broker.trading()
    cid = f"contract-{uuid.uuid4()}"

    order = client.submit_order(far_limit_buy(qty=2, client_order_id=cid))

    assert order.client_order_id == cid
    assert order.status in (OrderStatus.NEW, OrderStatus.ACCEPTED, OrderStatus.PENDING_NEW)
    assert order.qty == "2" and order.filled_qty == "0" and order.limit_price == "1"
    assert client.get_order_by_client_id(cid).id == order.id


def test_get_order_when_id_unknown_then_404_order_not_found(broker):
    client = broker.trading()

    with pytest.raises(APIError) as error:
        client.get_order_by_id(uuid.uuid4())

    assert error.value.status_code == 404
    assert error.value.code == 40410000


def test_get_order_by_client_id_when_unknown_then_404(broker):
    with pytest.raises(APIError) as error:
        broker.trading().get_order_by_client_id(f"nobody-{uuid.uuid4()}")

    assert error.value.status_code == 404


def test_cancel_order_when_resting_then_204_and_canceled_and_second_cancel_is_422(broker):
    client = broker.trading()
    order = client.submit_order(far_limit_buy())

    client.cancel_order_by_id(order.id)

    assert wait_for(lambda: status_of(client, order.id) == OrderStatus.CANCELED)
    with pytest.raises(APIError) as error:
        client.cancel_order_by_id(order.id)
    assert error.value.status_code == 422


def test_cancel_all_orders_when_two_rest_then_207_with_one_row_each(broker):
    client = broker.trading()
    first, second = client.submit_order(far_limit_buy()), client.submit_order(far_limit_buy("MSFT"))

    results = client.cancel_orders()

    assert {str(r.id) for r in results} >= {str(first.id), str(second.id)}
    assert all(r.status == 200 for r in results)


def test_replace_order_when_resting_then_new_order_replaces_old(broker):
    client = broker.trading()
    old = client.submit_order(far_limit_buy(qty=1))

    new = client.replace_order_by_id(old.id, ReplaceOrderRequest(qty=3, limit_price=1.05))

    assert str(new.replaces) == str(old.id)
    assert new.qty == "3" and new.limit_price == "1.05"
    replaced = wait_for(lambda: (o := client.get_order_by_id(old.id)).status == OrderStatus.REPLACED and o)
    assert str(replaced.replaced_by) == str(new.id)


def test_list_orders_when_filtered_then_only_matching_orders_in_requested_order(broker):
    client = broker.trading()
    start = datetime.now(timezone.utc) - timedelta(seconds=5)
    aapl = client.submit_order(far_limit_buy("AAPL"))
    msft = client.submit_order(far_limit_buy("MSFT"))
    canceled = client.submit_order(far_limit_buy("AAPL"))
    client.cancel_order_by_id(canceled.id)
    wait_for(lambda: status_of(client, canceled.id) == OrderStatus.CANCELED)

    open_aapl = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, symbols=["AAPL"], after=start))
    closed = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED, after=start))
    everything = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, after=start, direction="asc"))
    newest = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, after=start, limit=1))

    assert [str(o.id) for o in open_aapl] == [str(aapl.id)]
    assert str(canceled.id) in [str(o.id) for o in closed]
    assert [str(o.id) for o in everything][:3] == [str(aapl.id), str(msft.id), str(canceled.id)]
    assert [str(o.id) for o in newest] == [str(canceled.id)]


def test_list_orders_when_until_before_any_then_empty(broker):
    client = broker.trading()
    client.submit_order(far_limit_buy())

    orders = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, until=datetime(2001, 1, 1, tzinfo=timezone.utc)))

    assert orders == []


def test_market_buy_when_quote_set_then_fills_at_ask_and_position_opens(broker, admin):
    admin.quote("AAPL", "100.00", "100.05")
    client = broker.trading()

    order = client.submit_order(broker.market("AAPL", 10))

    filled = wait_filled(client, order.id)
    assert filled.filled_qty == "10" and filled.filled_avg_price == "100.05"
    position = client.get_open_position("AAPL")
    assert position.qty == "10" and position.avg_entry_price == "100.05" and position.cost_basis == "1000.5"
    assert client.get_account().cash == "98999.5"


def test_market_sell_when_long_then_fills_at_bid_and_position_closes(broker, admin):
    admin.quote("MSFT", "50.00", "50.10")
    broker.hold("MSFT", 4)
    client = broker.trading()

    sell = client.submit_order(broker.market("MSFT", 4, OrderSide.SELL))

    filled = wait_filled(client, sell.id)
    assert filled.filled_avg_price == "50"
    assert client.get_all_positions() == []
    assert client.get_account().cash == "99999.6"


def test_notional_buy_when_fractionable_then_fills_fractional_qty(broker, admin):
    admin.quote("AAPL", "199.99", "200.00")
    client = broker.trading()

    order = client.submit_order(MarketOrderRequest(symbol="AAPL", notional=50, side=OrderSide.BUY, time_in_force=TimeInForce.DAY))

    filled = wait_filled(client, order.id)
    assert filled.notional == "50" and filled.qty is None
    assert filled.filled_qty == "0.25"


# (order, shares held before it, quote before it, quote at which it still rests, quote that fills it, fill price)
@pytest.mark.parametrize(("request_", "held", "before", "resting", "crossing", "fill_price"), [
    pytest.param(LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC,
                                   limit_price=100.50),
                 0, ("101.00", "101.10"), None, ("100.30", "100.40"), "100.4",
                 id="limit buy: fills at the better ask once the market crosses"),
    pytest.param(StopOrderRequest(symbol="TSLA", qty=2, side=OrderSide.SELL, time_in_force=TimeInForce.GTC,
                                  stop_price=195),
                 2, ("200.00", "200.10"), ("196.00", "196.10"), ("194.50", "194.60"), "194.5",
                 id="stop sell: fills as market once the bid falls to the stop"),
    pytest.param(StopLimitOrderRequest(symbol="NVDA", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY,
                                       stop_price=105, limit_price=106),
                 0, ("99.90", "100.00"), ("107.00", "107.10"), ("105.80", "105.90"), "105.9",
                 id="stop-limit buy: triggered, rests as a limit until crossed"),
])
def test_resting_order_when_the_market_reaches_it_then_it_fills_at_the_quote(
        broker, admin, request_, held, before, resting, crossing, fill_price):
    symbol = request_.symbol
    admin.quote(symbol, *before)
    if held:
        broker.hold(symbol, held)
    client = broker.trading()
    order = client.submit_order(request_)
    if resting:
        admin.quote(symbol, *resting)
    assert status_of(client, order.id) == OrderStatus.NEW

    admin.quote(symbol, *crossing)

    filled = wait_filled(client, order.id)
    assert filled.filled_avg_price == fill_price


def test_trailing_stop_sell_when_price_rises_then_falls_by_trail_then_fills(broker, admin):
    admin.quote("AMD", "100.00", "100.10")
    broker.hold("AMD", 1)
    client = broker.trading()
    trail = client.submit_order(TrailingStopOrderRequest(symbol="AMD", qty=1, side=OrderSide.SELL, time_in_force=TimeInForce.GTC, trail_price=2))

    admin.quote("AMD", "110.00", "110.10")
    admin.quote("AMD", "108.50", "108.60")
    assert client.get_order_by_id(trail.id).hwm == "110"
    admin.quote("AMD", "107.90", "108.00")

    filled = wait_filled(client, trail.id)
    assert filled.filled_avg_price == "107.9"


def test_ioc_limit_when_not_marketable_then_canceled_without_fill(broker, admin):
    admin.quote("KO", "60.00", "60.05")
    client = broker.trading()

    order = client.submit_order(LimitOrderRequest(symbol="KO", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.IOC, limit_price=59))

    canceled = wait_for(lambda: (o := client.get_order_by_id(order.id)).status == OrderStatus.CANCELED and o)
    assert canceled.filled_qty == "0"
