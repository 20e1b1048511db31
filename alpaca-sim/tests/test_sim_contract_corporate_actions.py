"""Contract: corporate actions booked as Alpaca books them (docs.alpaca.markets/docs/mandatory-corporate-actions, the
activity samples in shared/research/positions.md): position, cash, orders and the activity legs."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, StopOrderRequest

from alpaca_sim.assets import Asset
from alpaca_sim.broker import Broker
from alpaca_sim.corporate_actions import list_asset
from alpaca_sim.nyse import is_trading_day
from alpaca_sim.persistence import restore, snapshot
from alpaca_sim.portfolio import corporate_action, positions_json


def gtc_limit(symbol: str, qty: float, side: OrderSide, limit_price: float) -> LimitOrderRequest:
    """A good-til-canceled limit: a corporate action adjusts it or cancels it, as Alpaca does."""
    return LimitOrderRequest(symbol=symbol, qty=qty, side=side, time_in_force=TimeInForce.GTC,
                             limit_price=limit_price)


def legs(client, kind: str) -> list[dict]:
    return client.get(f"/account/activities/{kind}", {"direction": "asc"})


def test_reverse_split_when_20_to_1_then_alpacas_two_legs_and_the_fraction_kept(broker, admin):
    admin.quote("F", "7.00", "7.00")
    client = broker.trading()
    broker.hold("F", 33)
    cash = Decimal(client.get_account().cash)

    result = admin.corporate_action(type="split", symbol="F", new_rate=1, old_rate=20)

    removal, allocation = legs(client, "SPLIT")
    assert (removal["qty"], removal["price"], allocation["qty"], allocation["price"]) == ("-33", "7", "1.65", "140")
    for leg in (removal, allocation):
        assert leg["activity_sub_type"] == "RSPLIT" and leg["net_amount"] == "0" and leg["symbol"] == "F"
        assert leg["group_id"] == result["group_id"] and leg["details"]["group_id"] == result["group_id"]
        assert leg["details"]["ca_id"] == result["ca_id"]
        assert (leg["details"]["old_rate"], leg["details"]["new_rate"]) == ("20", "1")
        assert (leg["details"]["old_qty"], leg["details"]["new_qty"]) == ("33", "1.65")
    position = client.get_open_position("F")
    assert (position.qty, position.avg_entry_price, position.cost_basis) == ("1.65", "140", "231")
    assert Decimal(client.get_account().cash) == cash  # no cash in lieu: the fraction is kept


def test_forward_split_when_3_for_2_then_qty_times_ratio_price_divided_basis_kept(broker, admin):
    admin.quote("KO", "62.32", "62.32")
    client = broker.trading()
    broker.hold("KO", 10)

    admin.corporate_action(type="split", symbol="KO", new_rate=3, old_rate=2)

    removal, allocation = legs(client, "SPLIT")
    assert (removal["qty"], removal["price"]) == ("-10", "62.32")
    assert (allocation["qty"], allocation["price"]) == ("15", "41.5467")  # per-share price to 4 decimals
    assert {removal["activity_sub_type"], allocation["activity_sub_type"]} == {"FSPLIT"}
    position = client.get_open_position("KO")
    assert position.qty == "15" and Decimal(position.cost_basis) == Decimal("623.2")


def test_reverse_split_when_gtc_orders_rest_then_they_are_canceled(broker, admin):
    admin.quote("F", "7.00", "7.02")
    client = broker.trading()
    broker.hold("F", 40)
    buy = client.submit_order(gtc_limit("F", 5, OrderSide.BUY, 5))
    sell = client.submit_order(gtc_limit("F", 5, OrderSide.SELL, 9))

    admin.corporate_action(type="split", symbol="F", new_rate=1, old_rate=4)

    assert client.get_order_by_id(buy.id).status == "canceled"
    assert client.get_order_by_id(sell.id).status == "canceled"


def test_forward_split_when_gtc_buy_limit_and_sell_stop_rest_then_adjusted_and_others_canceled(broker, admin):
    admin.quote("KO", "60.00", "60.02")
    client = broker.trading()
    broker.hold("KO", 10)
    buy = client.submit_order(gtc_limit("KO", 5, OrderSide.BUY, 50.01))
    stop = client.submit_order(StopOrderRequest(symbol="KO", qty=3, side=OrderSide.SELL,
                                                time_in_force=TimeInForce.GTC, stop_price=40))
    sell = client.submit_order(gtc_limit("KO", 2, OrderSide.SELL, 90))

    admin.corporate_action(type="split", symbol="KO", new_rate=3, old_rate=1)

    adjusted = client.get_order_by_id(buy.id)
    assert (adjusted.status, adjusted.qty, adjusted.limit_price) == ("new", "15", "16.67")  # 50.01 / 3, rounded down
    adjusted_stop = client.get_order_by_id(stop.id)
    assert (adjusted_stop.qty, adjusted_stop.stop_price) == ("9", "13.33")
    assert client.get_order_by_id(sell.id).status == "canceled"


def test_dividend_when_long_then_one_cdiv_leg_with_rate_entitled_qty_and_payout(broker, admin):
    admin.quote("KO", "60.00", "60.00")
    client = broker.trading()
    broker.hold("KO", 10)
    cash = Decimal(client.get_account().cash)

    result = admin.corporate_action(type="dividend", symbol="KO", rate="0.485")

    [div] = legs(client, "DIV")
    assert (div["activity_sub_type"], div["net_amount"], div["per_share_amount"], div["qty"]) == \
        ("CDIV", "4.85", "0.485", "10")
    details = div["details"]
    assert (details["rate"], details["entitled_qty"], details["cash_payout"]) == ("0.485", "10", "4.85")
    assert details["ca_id"] == result["ca_id"] and div["group_id"] == result["group_id"]
    assert Decimal(client.get_account().cash) - cash == Decimal("4.85")
    assert client.get_open_position("KO").avg_entry_price == "60"


def test_return_of_capital_when_long_then_cash_paid_and_average_price_lowered(broker, admin):
    admin.quote("KO", "60.00", "60.00")
    client = broker.trading()
    broker.hold("KO", 10)

    admin.corporate_action(type="return_of_capital", symbol="KO", rate="1.5")

    [roc] = legs(client, "DIV")
    assert (roc["activity_sub_type"], roc["net_amount"], roc["details"]["cash_payout"]) == ("ROC", "15", "15")
    assert client.get_open_position("KO").avg_entry_price == "58.5"


def test_name_change_when_held_then_two_nc_legs_and_the_position_moves_to_the_new_symbol(broker, admin):
    admin.quote("F", "11.00", "11.02")
    client = broker.trading()
    broker.hold("F", 4)
    resting = client.submit_order(gtc_limit("F", 1, OrderSide.BUY, 5))

    result = admin.corporate_action(type="name_change", symbol="F", new_symbol="FORD")

    removal, allocation = legs(client, "NC")
    assert (removal["symbol"], removal["qty"], allocation["symbol"], allocation["qty"]) == ("F", "-4", "FORD", "4")
    assert removal["price"] == allocation["price"] == "11.02"
    assert removal["activity_sub_type"] == "SNC" and removal["group_id"] == allocation["group_id"] == result["group_id"]
    assert (removal["details"]["old_symbol"], removal["details"]["new_symbol"]) == ("F", "FORD")
    assert removal["details"]["old_cusip"] == removal["details"]["new_cusip"]
    assert [p.symbol for p in client.get_all_positions()] == ["FORD"]
    assert client.get_order_by_id(resting.id).status == "canceled"
    assert client.get_asset("F").tradable is False and client.get_asset("FORD").tradable is True
    broker.hold("FORD", 1)  # the new symbol trades, at the old symbol's market
    assert client.get_open_position("FORD").qty == "5"


def test_corporate_action_when_ex_date_not_given_then_the_next_trading_day_in_new_york(broker, admin):
    admin.quote("KO", "60.00", "60.00")
    broker.hold("KO", 1)

    result = admin.corporate_action(type="dividend", symbol="KO", rate="0.1")

    ex_date = date.fromisoformat(result["ex_date"])
    assert ex_date > broker.trading().get_clock().timestamp.date()  # the clock's timestamp is New York time
    assert is_trading_day(ex_date)
    explicit = admin.corporate_action(type="dividend", symbol="KO", rate="0.1", ex_date="2026-03-02")
    assert explicit["ex_date"] == "2026-03-02"


def test_corporate_action_when_not_applicable_then_422_and_nothing_changes(broker, admin):
    bodies = [
        {"type": "split", "symbol": "KO", "new_rate": 2, "old_rate": 2},
        {"type": "split", "symbol": "KO", "new_rate": -1},
        {"type": "return_of_capital", "symbol": "KO"},
        {"type": "name_change", "symbol": "KO", "new_symbol": "AAPL"},
        {"type": "name_change", "symbol": "TWTR", "new_symbol": "XCORP"},
        {"type": "dividend", "symbol": "KO", "rate": "0.1", "ex_date": "next tuesday"},
        {"type": "spinoff", "symbol": "KO"},
    ]
    for body in bodies:
        response = admin.http.post("/admin/corporate_actions", json=body)
        assert response.status_code == 422, body
        assert set(response.json()) == {"code", "message"}
    assert broker.trading().get("/account/activities") == []


def test_state_when_saved_after_a_name_change_then_restored_with_the_new_symbol_quoting():
    broker = Broker(seed=1)
    broker.set_quote("F", "11.00", "11.00")
    broker.submit({"symbol": "F", "qty": "3", "side": "buy", "type": "market", "time_in_force": "day"})
    broker.match_all()
    corporate_action(broker, {"type": "name_change", "symbol": "F", "new_symbol": "FORD"})

    restored = Broker(seed=1)
    restore(restored, json.loads(json.dumps(snapshot(broker))))

    assert positions_json(restored) == positions_json(broker)
    assert restored.assets.find("FORD").tradable and not restored.assets.find("F").tradable
    assert restored.feed.quote("FORD").bid == Decimal("11.00")


def test_state_when_saved_with_a_listed_symbol_then_restored_holding_and_quoting_it():
    broker = Broker(seed=1)
    list_asset(broker, Asset("ZZB1", "A listed benchmark symbol", "NYSE", Decimal("20.00")))
    broker.set_quote("ZZB1", "19.99", "20.01")
    broker.submit({"symbol": "ZZB1", "qty": "3", "side": "buy", "type": "market", "time_in_force": "day"})
    broker.match_all()

    restored = Broker(seed=1)
    restore(restored, json.loads(json.dumps(snapshot(broker))))

    assert positions_json(restored) == positions_json(broker) and positions_json(restored)[0]["qty"] == "3"
    assert restored.assets.find("ZZB1").tradable and restored.feed.quote("ZZB1").ask == Decimal("20.01")
    assert [a["symbol"] for a in restored.ledger.activities if a.get("activity_type") == "FILL"] == ["ZZB1"]
