"""Contract: latest quotes and trades through StockHistoricalDataClient(url_override=...)."""

from __future__ import annotations

from alpaca.data.requests import StockLatestQuoteRequest, StockLatestTradeRequest
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import MarketOrderRequest

from alpaca_sim.testing import wait_for


def test_latest_quotes_when_several_symbols_then_one_quote_each(broker):
    quotes = broker.data().get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols=["AAPL", "MSFT"]))

    assert set(quotes) == {"AAPL", "MSFT"}
    assert all(0 < q.bid_price <= q.ask_price for q in quotes.values())


def test_latest_quote_when_pinned_by_admin_then_exactly_that_quote(broker, admin):
    admin.quote("AAPL", "123.45", "123.50")

    quote = broker.data().get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="AAPL"))["AAPL"]

    assert (quote.bid_price, quote.ask_price) == (123.45, 123.50)


def test_latest_trade_when_an_order_filled_then_it_is_the_fill(broker, admin):
    admin.quote("MSFT", "300.00", "300.10")
    client = broker.trading()
    order = client.submit_order(MarketOrderRequest(symbol="MSFT", qty=3, side=OrderSide.BUY, time_in_force=TimeInForce.DAY))
    wait_for(lambda: client.get_order_by_id(order.id).status == OrderStatus.FILLED)

    trade = broker.data().get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols=["MSFT"]))["MSFT"]

    assert trade.price == 300.10 and trade.size == 3


def test_random_walk_when_not_pinned_then_quotes_move_but_stay_sane(broker, admin):
    data = broker.data()
    request = StockLatestQuoteRequest(symbol_or_symbols="NVDA")
    first = data.get_stock_latest_quote(request)["NVDA"]

    later = wait_for(lambda: (q := data.get_stock_latest_quote(request)["NVDA"]).bid_price != first.bid_price and q)

    assert abs(later.bid_price - first.bid_price) / first.bid_price < 0.05
    assert later.bid_price < later.ask_price
