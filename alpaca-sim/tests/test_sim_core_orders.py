"""Unit: order-request validation and matching rules, on plain values (no server)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from alpaca_sim.assets import AssetBook
from alpaca_sim.errors import BrokerError
from alpaca_sim.market import Quote
from alpaca_sim.matching import next_execution
from alpaca_sim.numbers import fmt, parse_decimal
from alpaca_sim.orders import Order, parse_order_request

ASSETS = AssetBook()
T0 = datetime(2026, 1, 5, 15, 0, tzinfo=timezone.utc)


def request(**fields) -> dict:
    return {"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day", "qty": "1", **fields}


def refused(**fields) -> BrokerError:
    with pytest.raises(BrokerError) as error:
        parse_order_request(request(**fields), ASSETS)
    return error.value


def order(**fields) -> Order:
    base = dict(id="o1", client_order_id="c1", symbol="AAPL", asset_id="a", side="buy", type="market",
                time_in_force="day", qty=Decimal(10), notional=None, limit_price=None, stop_price=None,
                extended_hours=False, created_at=T0)
    return Order(**{**base, **fields})


def quote(bid: str, ask: str) -> Quote:
    return Quote(Decimal(bid), Decimal(ask), T0)


@pytest.mark.parametrize("raw, expected", [(1.5, "1.5"), ("2", "2"), (3, "3"), (0.1, "0.1"), ("1e2", "100")])
def test_parse_decimal_when_number_or_string_then_exact_decimal(raw, expected):
    assert fmt(parse_decimal(raw, "qty")) == expected


@pytest.mark.parametrize("raw", [True, None, "nan", "inf", "abc", [], {}])
def test_parse_decimal_when_not_a_finite_number_then_422(raw):
    with pytest.raises(BrokerError) as error:
        parse_decimal(raw, "qty")
    assert error.value.status == 422 and error.value.code == 40010001


@pytest.mark.parametrize("price, ok", [("100.12", True), ("100.123", False), ("0.9999", True), ("0.99999", False), ("1.0000", True)])
def test_limit_price_when_sub_penny_rules_then_two_decimals_above_a_dollar_four_below(price, ok):
    fields = dict(type="limit", limit_price=price, symbol="SNDL" if Decimal(price) < 1 else "AAPL")
    if ok:
        assert parse_order_request(request(**fields), ASSETS).limit_price == Decimal(price)
    else:
        assert refused(**fields).status == 422


def test_qty_when_nine_decimals_then_accepted_and_ten_refused():
    assert parse_order_request(request(qty="0.123456789"), ASSETS).qty == Decimal("0.123456789")
    assert refused(qty="0.1234567891").status == 422


def test_fractional_when_below_minimum_then_refused():
    assert refused(qty="0.0005").status == 422


def test_notional_when_below_one_dollar_then_403_cost_basis():
    error = refused(qty=None, notional="0.99")
    assert (error.status, error.code, error.message) == (403, 40310000, "cost basis must be >= 1")


def test_notional_when_limit_order_then_refused():
    assert refused(qty=None, notional="10", type="limit", limit_price="1").status == 422


def test_extended_hours_when_limit_day_then_accepted_else_refused():
    assert parse_order_request(request(type="limit", limit_price="1", extended_hours=True), ASSETS).extended_hours
    assert refused(type="limit", limit_price="1", extended_hours=True, time_in_force="gtc").status == 422


def test_order_class_when_bracket_then_refused_as_unsupported():
    assert "not supported" in refused(order_class="bracket").message


def test_market_buy_when_quote_then_executes_at_ask_capped_by_liquidity():
    execution = next_execution(order(), quote("10.00", "10.05"), Decimal(4))
    assert (execution.qty, execution.price) == (4, Decimal("10.05"))


def test_limit_sell_when_bid_below_limit_then_no_execution():
    assert next_execution(order(side="sell", type="limit", limit_price=Decimal(11)), quote("10.99", "11.01"), None) is None


def test_stop_limit_when_triggered_then_remembers_trigger_while_waiting_for_limit():
    resting = order(type="stop_limit", stop_price=Decimal(105), limit_price=Decimal(106))
    assert next_execution(resting, quote("106.50", "106.60"), None) is None
    assert resting.triggered
    assert next_execution(resting, quote("105.50", "105.60"), None).price == Decimal("105.60")


def test_trailing_stop_buy_when_price_falls_then_stop_follows_low_water_mark():
    trailing = order(type="trailing_stop", trail_percent=Decimal(10))
    next_execution(trailing, quote("99.90", "100.00"), None)
    next_execution(trailing, quote("79.90", "80.00"), None)
    assert trailing.hwm == 80 and trailing.stop_price == 88
    assert next_execution(trailing, quote("87.90", "88.00"), None).price == 88


def test_fok_when_cap_below_remaining_then_no_partial_execution():
    assert next_execution(order(time_in_force="fok"), quote("10", "10.01"), Decimal(3)) is None


def test_notional_order_when_first_execution_then_share_count_fixed_to_nine_decimals():
    notional = order(qty=None, notional=Decimal(100))
    execution = next_execution(notional, quote("2.99", "3.00"), None)
    assert execution.qty == Decimal("33.333333333") and notional.target_qty == execution.qty
