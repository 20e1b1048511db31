"""Contract: matching under controlled markets — partial fills, the clock, shorts, buying power."""

from __future__ import annotations

from decimal import Decimal

from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import LimitOrderRequest

from alpaca_sim.testing import wait_filled, wait_for


def test_market_buy_when_liquidity_capped_then_several_partial_executions_add_up(broker, admin):
    admin.quote("AAPL", "100.00", "100.02")
    admin.liquidity("AAPL", 3)
    client = broker.trading()

    order = client.submit_order(broker.market("AAPL", 10))

    done = wait_filled(client, order.id)
    assert done.filled_qty == "10" and done.filled_avg_price == "100.02"
    fills = [a for a in client.get("/account/activities/FILL") if a["order_id"] == str(order.id)]
    assert sorted(Decimal(a["qty"]) for a in fills) == [1, 3, 3, 3]
    assert len({a["id"] for a in fills}) == 4
    assert sorted(a["type"] for a in fills) == ["fill", "partial_fill", "partial_fill", "partial_fill"]


def test_limit_sell_when_capped_and_quote_moves_away_then_stays_partially_filled(broker, admin):
    admin.quote("MSFT", "99.00", "99.02")
    client = broker.trading()
    broker.hold("MSFT", 50)
    admin.liquidity("MSFT", 2)
    sell = client.submit_order(LimitOrderRequest(symbol="MSFT", qty=50, side=OrderSide.SELL, time_in_force=TimeInForce.GTC, limit_price=101))

    admin.quote("MSFT", "101.00", "101.05")
    wait_for(lambda: client.get_order_by_id(sell.id).status == OrderStatus.PARTIALLY_FILLED)
    admin.quote("MSFT", "100.00", "100.05")

    held = client.get_order_by_id(sell.id)
    assert held.status == OrderStatus.PARTIALLY_FILLED and held.filled_avg_price == "101"
    assert 0 < Decimal(held.filled_qty) < 50 and Decimal(held.filled_qty) % 2 == 0
    admin.liquidity("MSFT", None)
    admin.quote("MSFT", "101.50", "101.55")
    done = wait_filled(client, sell.id)
    assert done.filled_qty == "50" and Decimal(done.filled_avg_price) > 101


def test_day_limit_when_market_closes_then_expired_but_gtc_stays(broker, admin):
    admin.quote("AAPL", "100.00", "100.02")
    client = broker.trading()
    day = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=90))
    gtc = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=90))

    admin.clock(False)

    assert client.get_order_by_id(day.id).status == OrderStatus.EXPIRED
    assert client.get_order_by_id(gtc.id).status == OrderStatus.NEW
    assert client.get_clock().is_open is False


def test_market_order_when_market_closed_then_accepted_and_filled_at_the_open(broker, admin):
    admin.quote("AAPL", "100.00", "100.02")
    admin.clock(False)
    client = broker.trading()

    order = client.submit_order(broker.market("AAPL", 1))
    assert client.get_order_by_id(order.id).status == OrderStatus.ACCEPTED
    admin.quote("AAPL", "102.00", "102.02")
    assert client.get_order_by_id(order.id).status == OrderStatus.ACCEPTED

    admin.clock(True)

    assert wait_filled(client, order.id).filled_avg_price == "102.02"


def test_extended_hours_limit_when_market_closed_then_it_can_fill(broker, admin):
    admin.quote("AAPL", "100.00", "100.02")
    admin.clock(False)
    client = broker.trading()

    order = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=101, extended_hours=True))

    assert wait_filled(client, order.id).filled_avg_price == "100.02"


def test_short_sale_when_shortable_then_negative_position_and_cash_credited(broker, admin):
    admin.quote("F", "10.00", "10.01")
    client = broker.trading()

    order = client.submit_order(broker.market("F", 100, OrderSide.SELL))

    wait_filled(client, order.id)
    position = client.get_open_position("F")
    assert position.qty == "-100" and position.side == "short" and position.avg_entry_price == "10"
    assert client.get_account().cash == "101000"


def test_buy_to_cover_when_short_then_position_closes(broker, admin):
    admin.quote("F", "10.00", "10.01")
    client = broker.trading()
    broker.hold("F", 10, OrderSide.SELL)

    wait_filled(client, client.submit_order(broker.market("F", 10)).id)

    assert client.get_all_positions() == []


def test_buying_power_when_limit_order_rests_then_it_is_held(broker, admin):
    admin.quote("AAPL", "100.00", "100.02")
    client = broker.trading()

    client.submit_order(LimitOrderRequest(symbol="AAPL", qty=100, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=90))

    assert client.get_account().buying_power == "91000"


def test_position_when_averaging_in_then_weighted_entry_price(broker, admin):
    client = broker.trading()
    admin.quote("KO", "59.99", "60.00")
    broker.hold("KO", 1)
    admin.quote("KO", "63.99", "64.00")
    broker.hold("KO", 3)

    position = client.get_open_position("KO")

    assert position.qty == "4" and position.avg_entry_price == "63" and position.cost_basis == "252"


def test_close_position_when_percentage_then_market_order_for_that_share(broker, admin):
    admin.quote("WMT", "80.00", "80.01")
    client = broker.trading()
    broker.hold("WMT", 10)

    order = client.delete("/positions/WMT", {"percentage": "50"})

    assert order["qty"] == "5" and order["side"] == "sell"
    wait_filled(client, order["id"])
    assert client.get_open_position("WMT").qty == "5"


def test_close_all_positions_when_two_open_then_both_closed(broker, admin):
    admin.quote("WMT", "80.00", "80.01")
    admin.quote("KO", "60.00", "60.01")
    client = broker.trading()
    broker.hold("WMT", 2)
    broker.hold("KO", 2)

    results = client.close_all_positions(cancel_orders=True)

    assert sorted(r.symbol for r in results) == ["KO", "WMT"]
    wait_for(lambda: client.get_all_positions() == [])


def test_fok_when_liquidity_too_thin_then_canceled_unfilled(broker, admin):
    admin.quote("AAPL", "100.00", "100.02")
    admin.liquidity("AAPL", 1)
    client = broker.trading()

    order = client.submit_order(broker.market("AAPL", 5, tif=TimeInForce.FOK))

    canceled = wait_for(lambda: (o := client.get_order_by_id(order.id)).status == OrderStatus.CANCELED and o)
    assert canceled.filled_qty == "0"
