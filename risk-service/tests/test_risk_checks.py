"""Pre-trade checks as plain functions: every reason code triggered and not, all reasons together, the cost
estimate, the reducing-only state and per-symbol limits. No servers, no clock: ``NOW`` is a constant."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from risk_service.checks import CHECKS, REASON_CODES, check_prices, estimate, evaluate
from risk_service.limits import Limits, SymbolLimits
from risk_service.model import Account, Asset, Quote, RiskContext
from tradebus_contracts import OrderFields, TradingState

NOW = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
D = Decimal


# --- builders ---------------------------------------------------------------------------------------------


def an_order(**fields: Any) -> OrderFields:
    """A buy of 10 AAPL at a $100.00 day limit: approved in ``a_context()`` under default limits."""
    values: dict[str, Any] = {"symbol": "AAPL", "side": "buy", "type": "limit", "time_in_force": "day",
                              "qty": D("10"), "limit_price": D("100.00")}
    values.update(fields)
    return OrderFields.model_validate(values)


def a_market(**fields: Any) -> OrderFields:
    return an_order(**{"type": "market", "limit_price": None, **fields})


def a_quote(bid: str = "99.95", ask: str = "100.05", last: str | None = "100.00", age_s: float = 0,
            symbol: str = "AAPL") -> Quote:
    return Quote(symbol=symbol, bid=D(bid), ask=D(ask), last=None if last is None else D(last),
                 as_of=NOW - timedelta(seconds=age_s))


def an_asset(symbol: str = "AAPL", *, tradable: bool = True, fractionable: bool = True, shortable: bool = True,
             age_s: float = 0) -> Asset:
    return Asset(symbol=symbol, tradable=tradable, fractionable=fractionable, shortable=shortable,
                 as_of=NOW - timedelta(seconds=age_s))


def an_account(buying_power: str = "1000000", age_s: float = 0) -> Account:
    return Account(buying_power=D(buying_power), equity=D("1000000"), as_of=NOW - timedelta(seconds=age_s))


def a_context(**fields: Any) -> RiskContext:
    """Active trading, fresh data, a flat book and plenty of room under every default limit."""
    base = RiskContext(
        now=NOW, trading_state=TradingState.ACTIVE, asset=an_asset(), quote=a_quote(), account=an_account(),
        position_qty=D(0), account_gross_exposure=D(0), open_orders=0, open_orders_symbol=0,
        daily_notional_used=D(0), daily_notional_used_symbol=D(0), submissions_in_window=0,
    )
    return replace(base, **fields)


def codes(order: OrderFields, ctx: RiskContext | None = None, limits: Limits | None = None) -> list[str]:
    return [r.code for r in evaluate(order, ctx or a_context(), limits or Limits()).reasons]


# --- every code, triggered ----------------------------------------------------------------------------------

LONG_10 = a_context(position_qty=D("10"))
COLLAR_EDGES: list[tuple[str, Any, RiskContext, str, str]] = [  # the order at a price; just past the edge; at it
    ("PRICE_COLLAR_BUY_LIMIT_ABOVE_ASK", lambda p: an_order(limit_price=p), a_context(), "110.06", "110.05"),
    ("PRICE_COLLAR_SELL_LIMIT_BELOW_BID", lambda p: an_order(side="sell", limit_price=p), LONG_10, "89.95", "89.96"),
    ("PRICE_COLLAR_BUY_STOP_LIMIT_ABOVE_STOP", lambda p: an_order(type="stop_limit", stop_price=D("101"),
                                                                  limit_price=p), a_context(), "111.11", "111.10"),
    ("PRICE_COLLAR_SELL_STOP_LIMIT_BELOW_STOP", lambda p: an_order(side="sell", type="stop_limit",
                                                                   stop_price=D("95"), limit_price=p), LONG_10,
     "85.49", "85.50"),
    ("PRICE_FAR_FROM_MARKET", lambda p: an_order(limit_price=p), a_context(), "9.99", "10.00"),  # 90 % under
]

TRIGGERED: list[tuple[str, OrderFields, RiskContext, Limits]] = [
    ("TRADING_HALTED", an_order(), a_context(trading_state=TradingState.HALTED), Limits()),
    ("TRADING_REDUCING_ONLY", an_order(), a_context(trading_state=TradingState.REDUCING), Limits()),
    ("QTY_XOR_NOTIONAL", an_order(qty=None), a_context(), Limits()),
    ("QTY_XOR_NOTIONAL", a_market(notional=D("100")), a_context(), Limits()),
    ("QTY_NOT_POSITIVE", an_order(qty=D("0")), a_context(), Limits()),
    ("QTY_NOT_POSITIVE", an_order(qty=D("-5")), a_context(), Limits()),
    ("QTY_TOO_MANY_DECIMALS", an_order(qty=D("1.0000000001")), a_context(), Limits()),
    ("QTY_TOO_MANY_DECIMALS", an_order(qty=D("1.000000000000000000000000000001")), a_context(), Limits()),  # 30
    ("FRACTIONAL_QTY_BELOW_MIN", an_order(qty=D("0.0009")), a_context(), Limits()),
    ("NOTIONAL_NOT_POSITIVE", a_market(qty=None, notional=D("0")), a_context(), Limits()),
    ("NOTIONAL_BELOW_MIN", a_market(qty=None, notional=D("0.99")), a_context(), Limits()),
    ("NOTIONAL_TOO_MANY_DECIMALS", a_market(qty=None, notional=D("10.001")), a_context(), Limits()),
    ("NOTIONAL_TOO_MANY_DECIMALS", a_market(qty=None, notional=D("10.0000000000000000000000000001")), a_context(),
     Limits()),
    ("NOTIONAL_REQUIRES_MARKET", an_order(qty=None, notional=D("100")), a_context(), Limits()),
    ("LIMIT_PRICE_REQUIRED", an_order(limit_price=None), a_context(), Limits()),
    ("LIMIT_PRICE_REQUIRED", an_order(type="stop_limit", limit_price=None, stop_price=D("100")), a_context(),
     Limits()),
    ("LIMIT_PRICE_NOT_ALLOWED", a_market(limit_price=D("100")), a_context(), Limits()),
    ("LIMIT_PRICE_NOT_ALLOWED", an_order(type="stop", stop_price=D("100")), a_context(), Limits()),
    ("STOP_PRICE_REQUIRED", an_order(type="stop", limit_price=None), a_context(), Limits()),
    ("STOP_PRICE_REQUIRED", an_order(type="stop_limit"), a_context(), Limits()),
    ("STOP_PRICE_NOT_ALLOWED", an_order(stop_price=D("100")), a_context(), Limits()),
    ("STOP_PRICE_NOT_ALLOWED", a_market(stop_price=D("100")), a_context(), Limits()),
    ("PRICE_NOT_POSITIVE", an_order(limit_price=D("0")), a_context(), Limits()),
    ("PRICE_NOT_POSITIVE", an_order(type="stop", limit_price=None, stop_price=D("-1")), a_context(), Limits()),
    ("SUB_PENNY_PRICE", an_order(limit_price=D("100.001")), a_context(), Limits()),
    ("SUB_PENNY_PRICE", an_order(limit_price=D("100.00000000000000000000000000001")), a_context(), Limits()),
    ("SUB_PENNY_PRICE", an_order(limit_price=D("0.12345")), a_context(quote=a_quote("0.1234", "0.1236")),
     Limits()),
    ("FRACTIONAL_REQUIRES_DAY", an_order(qty=D("1.5"), time_in_force="gtc"), a_context(), Limits()),
    ("FRACTIONAL_REQUIRES_DAY", a_market(qty=None, notional=D("100"), time_in_force="ioc"), a_context(),
     Limits()),
    ("ASSET_NOT_FRACTIONABLE", an_order(qty=D("1.5")), a_context(asset=an_asset(fractionable=False)), Limits()),
    ("ASSET_NOT_FRACTIONABLE", a_market(qty=None, notional=D("100")),
     a_context(asset=an_asset(fractionable=False)), Limits()),
    ("EXTENDED_HOURS_REQUIRES_LIMIT_DAY", a_market(extended_hours=True), a_context(), Limits()),
    ("EXTENDED_HOURS_REQUIRES_LIMIT_DAY", an_order(extended_hours=True, time_in_force="gtc"), a_context(),
     Limits()),
    ("SYMBOL_UNKNOWN", an_order(), a_context(asset=None), Limits()),
    ("SYMBOL_NOT_TRADABLE", an_order(), a_context(asset=an_asset(tradable=False)), Limits()),
    ("SHORT_NOT_ALLOWED", an_order(side="sell"), a_context(asset=an_asset(shortable=False)), Limits()),
    ("SHORT_NOT_ALLOWED", an_order(side="sell", qty=D("15")),
     a_context(asset=an_asset(shortable=False), position_qty=D("10")), Limits()),
    ("FRACTIONAL_SHORT_NOT_ALLOWED", an_order(side="sell", qty=D("0.5")), a_context(), Limits()),
    ("FRACTIONAL_SHORT_NOT_ALLOWED", an_order(side="sell", qty=D("1")), a_context(position_qty=D("0.5")),
     Limits()),
    # a stop-loss resting on the whole long holds every share; and no sell flips a long into a short
    ("SELL_EXCEEDS_AVAILABLE", an_order(side="sell", qty=D("3")),
     a_context(position_qty=D("10"), pending_sell_qty=D("10"), open_sell_qty=D("10")), Limits()),
    ("SELL_EXCEEDS_AVAILABLE", an_order(side="sell", qty=D("15")), LONG_10, Limits()),
    # a buy of 10 filled a moment ago (the settled position lacks it): the broker has the 10 all the same
    ("SELL_EXCEEDS_AVAILABLE", an_order(side="sell", qty=D("15")),
     a_context(pending_buy_qty=D("10"), position_at_broker=D("10")), Limits()),
    ("FRACTIONAL_SHORT_NOT_ALLOWED", a_market(side="sell", qty=None, notional=D("50")), a_context(), Limits()),
    ("REFERENCE_DATA_MISSING", an_order(), a_context(quote=None), Limits()),
    ("REFERENCE_DATA_MISSING", an_order(), a_context(account=None), Limits()),
    ("REFERENCE_DATA_MISSING", an_order(), a_context(quote=a_quote("0", "0", None)), Limits()),
    ("REFERENCE_DATA_MISSING", a_market(), a_context(quote=a_quote(ask="0")), Limits()),
    ("QUOTE_STALE", an_order(), a_context(quote=a_quote(age_s=60.001)), Limits()),
    ("ACCOUNT_STALE", an_order(), a_context(account=an_account(age_s=301)), Limits()),
    ("ASSET_STALE", an_order(), a_context(asset=an_asset(age_s=86_401)), Limits()),
    ("ORDER_NOTIONAL_EXCEEDS_LIMIT", an_order(qty=D("501")), a_context(), Limits()),
    ("ORDER_QTY_EXCEEDS_LIMIT", an_order(qty=D("6")), a_context(), Limits(max_order_qty=D(5))),
    ("POSITION_QTY_EXCEEDS_LIMIT", an_order(qty=D("11")), a_context(position_qty=D("90")),
     Limits(max_position_qty=D(100))),
    ("POSITION_QTY_EXCEEDS_LIMIT", an_order(side="sell", qty=D("11")), a_context(position_qty=D("-90")),
     Limits(max_position_qty=D(100))),
    ("POSITION_NOTIONAL_EXCEEDS_LIMIT", an_order(qty=D("11")), a_context(position_qty=D("40")),
     Limits(max_position_notional=D(5000))),
    ("GROSS_EXPOSURE_EXCEEDS_LIMIT", an_order(), a_context(account_gross_exposure=D("249000.01")), Limits()),
    ("OPEN_ORDERS_EXCEEDED", an_order(), a_context(open_orders=50), Limits()),
    ("OPEN_ORDERS_PER_SYMBOL_EXCEEDED", an_order(), a_context(open_orders=10, open_orders_symbol=10), Limits()),
    ("DAILY_NOTIONAL_EXCEEDED", an_order(), a_context(daily_notional_used=D("499000.01")), Limits()),
    ("DAILY_NOTIONAL_PER_SYMBOL_EXCEEDED", an_order(),
     a_context(daily_notional_used=D("199000.01"), daily_notional_used_symbol=D("199000.01")), Limits()),
    ("THROTTLED", an_order(), a_context(submissions_in_window=10), Limits()),
    ("INSUFFICIENT_BUYING_POWER", an_order(), a_context(account=an_account("999.99")), Limits()),
    ("INSUFFICIENT_BUYING_POWER", an_order(side="sell"), a_context(account=an_account("999.99")), Limits()),
    ("PRICE_FAR_FROM_MARKET", an_order(type="stop", limit_price=None, stop_price=D("1000000000")), a_context(),
     Limits()),
    *[(code, at(D(past)), ctx, Limits()) for code, at, ctx, past, _ in COLLAR_EDGES],
]


# --- every code, not triggered (each case is a whole approval, so no other check hides in it) ---------------

PASSING: list[tuple[str, OrderFields, RiskContext, Limits]] = [
    ("TRADING_HALTED", an_order(), a_context(trading_state=TradingState.ACTIVE), Limits()),
    ("TRADING_REDUCING_ONLY", an_order(side="sell"),
     a_context(trading_state=TradingState.REDUCING, position_qty=D("10")), Limits()),
    ("QTY_XOR_NOTIONAL", a_market(qty=None, notional=D("100")), a_context(), Limits()),
    ("QTY_NOT_POSITIVE", an_order(qty=D("1")), a_context(), Limits()),
    ("QTY_TOO_MANY_DECIMALS", an_order(qty=D("1.000000001")), a_context(), Limits()),
    ("FRACTIONAL_QTY_BELOW_MIN", an_order(qty=D("0.001")), a_context(), Limits()),
    ("NOTIONAL_NOT_POSITIVE", a_market(qty=None, notional=D("5")), a_context(), Limits()),
    ("NOTIONAL_BELOW_MIN", a_market(qty=None, notional=D("1.00")), a_context(), Limits()),
    ("NOTIONAL_REQUIRES_MARKET", a_market(qty=None, notional=D("100")), a_context(), Limits()),
    ("NOTIONAL_TOO_MANY_DECIMALS", a_market(qty=None, notional=D("10.100")), a_context(), Limits()),
    ("LIMIT_PRICE_REQUIRED", an_order(type="stop_limit", stop_price=D("100.50")), a_context(), Limits()),
    ("STOP_PRICE_REQUIRED", an_order(type="stop", limit_price=None, stop_price=D("101")), a_context(), Limits()),
    ("LIMIT_PRICE_NOT_ALLOWED", an_order(type="stop", limit_price=None, stop_price=D("101")), a_context(),
     Limits()),
    ("STOP_PRICE_NOT_ALLOWED", an_order(stop_price=None), a_context(), Limits()),
    ("PRICE_NOT_POSITIVE", an_order(limit_price=D("99.99")), a_context(), Limits()),
    ("SUB_PENNY_PRICE", an_order(limit_price=D("100.01")), a_context(), Limits()),
    ("SUB_PENNY_PRICE", an_order(qty=D("1000"), limit_price=D("0.1234")),
     a_context(quote=a_quote("0.1234", "0.1236", "0.1235")), Limits()),
    ("FRACTIONAL_REQUIRES_DAY", an_order(qty=D("2"), time_in_force="gtc"), a_context(), Limits()),
    ("ASSET_NOT_FRACTIONABLE", an_order(qty=D("2")), a_context(asset=an_asset(fractionable=False)), Limits()),
    ("EXTENDED_HOURS_REQUIRES_LIMIT_DAY", an_order(extended_hours=True), a_context(), Limits()),
    ("SYMBOL_UNKNOWN", an_order(symbol="MSFT"), a_context(asset=an_asset("MSFT"), quote=a_quote(symbol="MSFT")),
     Limits()),
    ("SYMBOL_NOT_TRADABLE", an_order(), a_context(asset=an_asset(tradable=True)), Limits()),
    ("SHORT_NOT_ALLOWED", an_order(side="sell"), a_context(), Limits()),
    ("SHORT_NOT_ALLOWED", an_order(side="sell"), a_context(asset=an_asset(shortable=False), position_qty=D("10")),
     Limits()),
    ("FRACTIONAL_SHORT_NOT_ALLOWED", an_order(side="sell", qty=D("0.5")), a_context(position_qty=D("0.5")),
     Limits()),
    ("SELL_EXCEEDS_AVAILABLE", an_order(side="sell", qty=D("6")),
     a_context(position_qty=D("10"), pending_sell_qty=D("4"), open_sell_qty=D("4")), Limits()),
    # 10 sold in a fill the settled position lacks: flat at the broker, nothing held, so a plain short sale
    ("SELL_EXCEEDS_AVAILABLE", an_order(side="sell", qty=D("5")),
     a_context(position_qty=D("10"), pending_sell_qty=D("10"), position_at_broker=D("0")), Limits()),
    ("REFERENCE_DATA_MISSING", an_order(side="sell"), a_context(account=None, position_qty=D("10")), Limits()),
    ("REFERENCE_DATA_MISSING", an_order(), a_context(quote=a_quote("0", "0", "100")), Limits()),
    ("QUOTE_STALE", an_order(), a_context(quote=a_quote(age_s=60)), Limits()),
    ("ACCOUNT_STALE", an_order(), a_context(account=an_account(age_s=300)), Limits()),
    ("ASSET_STALE", an_order(), a_context(asset=an_asset(age_s=86_400)), Limits()),
    ("ORDER_NOTIONAL_EXCEEDS_LIMIT", an_order(qty=D("500")), a_context(), Limits()),
    ("ORDER_QTY_EXCEEDS_LIMIT", an_order(qty=D("5")), a_context(), Limits(max_order_qty=D(5))),
    ("POSITION_QTY_EXCEEDS_LIMIT", an_order(), a_context(position_qty=D("90")), Limits(max_position_qty=D(100))),
    ("POSITION_QTY_EXCEEDS_LIMIT", an_order(side="sell"), a_context(position_qty=D("150")),
     Limits(max_position_qty=D(100))),
    ("POSITION_NOTIONAL_EXCEEDS_LIMIT", an_order(), a_context(position_qty=D("40")),
     Limits(max_position_notional=D(5000))),
    ("GROSS_EXPOSURE_EXCEEDS_LIMIT", an_order(), a_context(account_gross_exposure=D("249000")), Limits()),
    ("GROSS_EXPOSURE_EXCEEDS_LIMIT", an_order(side="sell"),
     a_context(account_gross_exposure=D("300000"), position_qty=D("10")), Limits()),
    ("OPEN_ORDERS_EXCEEDED", an_order(), a_context(open_orders=49), Limits()),
    ("OPEN_ORDERS_PER_SYMBOL_EXCEEDED", an_order(), a_context(open_orders=9, open_orders_symbol=9), Limits()),
    ("DAILY_NOTIONAL_EXCEEDED", an_order(), a_context(daily_notional_used=D("499000")), Limits()),
    ("DAILY_NOTIONAL_PER_SYMBOL_EXCEEDED", an_order(),
     a_context(daily_notional_used=D("199000"), daily_notional_used_symbol=D("199000")), Limits()),
    ("THROTTLED", an_order(), a_context(submissions_in_window=9), Limits()),
    ("INSUFFICIENT_BUYING_POWER", an_order(), a_context(account=an_account("1000")), Limits()),
    ("INSUFFICIENT_BUYING_POWER", an_order(side="sell"), a_context(account=an_account("0"), position_qty=D("10")),
     Limits()),
    ("PRICE_COLLAR_BUY_LIMIT_ABOVE_ASK", an_order(limit_price=D("80.00")), a_context(), Limits()),  # a resting bid
    ("PRICE_COLLAR_SELL_LIMIT_BELOW_BID", an_order(side="sell", limit_price=D("150")), LONG_10,
     Limits()),  # a resting offer
    ("PRICE_FAR_FROM_MARKET", an_order(side="sell", type="stop", limit_price=None, stop_price=D("85.00")), LONG_10,
     Limits()),  # a stop-loss 15 % under the market
    ("PRICE_FAR_FROM_MARKET", an_order(type="stop", limit_price=None, stop_price=D("150")), a_context(),
     Limits()),  # a buy stop far over the market: covers a short, or enters on a breakout
    *[(code, at(D(edge)), ctx, Limits()) for code, at, ctx, _, edge in COLLAR_EDGES],
]


@pytest.mark.parametrize(("code", "order", "ctx", "limits"), PASSING,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(PASSING)])
def test_evaluate_when_check_is_satisfied_then_approved(code, order, ctx, limits):
    decision = evaluate(order, ctx, limits)

    assert decision.reasons == ()
    assert decision.approved
    assert decision.estimated_cost is not None


def test_reason_codes_when_listed_then_every_one_has_a_triggering_and_a_passing_case():
    assert {case[0] for case in TRIGGERED} == set(REASON_CODES)
    assert {case[0] for case in PASSING} == set(REASON_CODES)


@pytest.mark.parametrize(("code", "order", "ctx", "limits"), TRIGGERED)
def test_evaluate_when_rejected_then_every_code_is_registered(code, order, ctx, limits):
    assert set(codes(order, ctx, limits)) <= set(REASON_CODES)


# --- all failures together, messages, fields ---------------------------------------------------------------


def test_evaluate_when_several_checks_fail_then_all_are_reported_in_check_order():
    order = an_order(qty=D("0.5"), time_in_force="gtc", limit_price=D("150.001"), stop_price=D("1"))
    ctx = a_context(trading_state=TradingState.HALTED, asset=an_asset(fractionable=False),
                    submissions_in_window=10, open_orders=50)

    found = codes(order, ctx)

    assert found == [
        "TRADING_HALTED", "SUB_PENNY_PRICE", "STOP_PRICE_NOT_ALLOWED",
        "FRACTIONAL_REQUIRES_DAY", "ASSET_NOT_FRACTIONABLE", "OPEN_ORDERS_EXCEEDED", "THROTTLED",
        "PRICE_COLLAR_BUY_LIMIT_ABOVE_ASK",
    ]


def test_evaluate_when_order_too_big_then_message_names_both_amounts():
    order = an_order(qty=D("500"), limit_price=D("122.50"))
    ctx = a_context(quote=a_quote("122.45", "122.55", "122.50"))

    (only,) = evaluate(order, ctx, Limits()).reasons

    assert only.code == "ORDER_NOTIONAL_EXCEEDS_LIMIT"
    assert "order notional $61,250.00" in only.message
    assert "the limit of $50,000.00" in only.message
    assert only.field == "qty"


@pytest.mark.parametrize(("order", "code", "field"), [
    (an_order(limit_price=D("100.001")), "SUB_PENNY_PRICE", "limit_price"),
    (an_order(qty=D("1.5"), time_in_force="gtc"), "FRACTIONAL_REQUIRES_DAY", "time_in_force"),
    (a_market(extended_hours=True), "EXTENDED_HOURS_REQUIRES_LIMIT_DAY", "extended_hours"),
    (a_market(qty=None, notional=D("0.5")), "NOTIONAL_BELOW_MIN", "notional"),
])
def test_evaluate_when_a_field_is_at_fault_then_reason_names_it(order, code, field):
    reasons = {r.code: r for r in evaluate(order, a_context(), Limits()).reasons}

    assert reasons[code].field == field


def test_evaluate_when_quote_is_missing_then_no_check_guesses_a_price():
    order = a_market(qty=D("100000"))

    found = codes(order, a_context(quote=None))

    assert found == ["REFERENCE_DATA_MISSING", "ORDER_QTY_EXCEEDS_LIMIT", "POSITION_QTY_EXCEEDS_LIMIT"]


def test_evaluate_when_quote_is_stale_then_market_order_cost_is_unknown():
    decision = evaluate(a_market(), a_context(quote=a_quote(age_s=120)), Limits())

    assert [r.code for r in decision.reasons] == ["QUOTE_STALE"]
    assert "120s old (limit 60s)" in decision.reasons[0].message
    assert decision.estimated_cost is None


@pytest.mark.parametrize(("buying_power", "approved"), [("499.99", False), ("500", True)])
def test_evaluate_when_a_sell_opens_a_short_from_flat_then_it_needs_buying_power(buying_power, approved):
    ctx = a_context(account=an_account(buying_power))

    decision = evaluate(an_order(side="sell", qty=D("5")), ctx, Limits())

    assert decision.approved is approved
    assert decision.estimated_cost == D("500.00")


def test_evaluate_when_a_sell_goes_past_the_long_then_refused_as_the_broker_would_with_what_is_available():
    ctx = a_context(position_qty=D("10"), pending_sell_qty=D("4"), open_sell_qty=D("4"))

    decision = evaluate(an_order(side="sell", qty=D("7")), ctx, Limits())

    assert [r.code for r in decision.reasons] == ["SELL_EXCEEDS_AVAILABLE"]
    assert "the position is 10; open sell orders hold 4, so 6 are available" in decision.reasons[0].message


# --- estimated cost -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("order", "cost", "basis"), [
    (an_order(qty=D("10"), limit_price=D("101.25")), D("1012.50"), "limit_price"),
    (an_order(side="sell", qty=D("10"), limit_price=D("99")), D("990"), "limit_price"),
    (an_order(type="stop_limit", stop_price=D("101"), limit_price=D("102")), D("1020"), "limit_price"),
    (an_order(type="stop", limit_price=None, stop_price=D("95.50"), side="sell"), D("955.0"), "stop_price"),
    (a_market(qty=D("10")), D("1000.50"), "ask"),
    (a_market(qty=D("10"), side="sell"), D("999.50"), "bid"),
    (a_market(qty=None, notional=D("250.00")), D("250.00"), "notional"),
    (a_market(qty=D("0.5")), D("50.025"), "ask"),
])
def test_estimate_when_priced_then_cost_and_basis_follow_the_order_type(order, cost, basis):
    assert estimate(order, a_quote()) == (cost, basis)


@pytest.mark.parametrize(("order", "quote", "basis"), [
    (a_market(), None, "ask"),
    (a_market(side="sell"), a_quote(bid="0"), "bid"),
    (an_order(limit_price=None), a_quote(), "limit_price"),
    (an_order(qty=D("-1")), a_quote(), "limit_price"),
    (a_market(qty=None, notional=D("-5")), a_quote(), "notional"),
])
def test_estimate_when_price_or_size_is_unusable_then_cost_is_none(order, quote, basis):
    assert estimate(order, quote) == (None, basis)


def test_evaluate_when_approved_then_decision_carries_cost_and_basis():
    decision = evaluate(a_market(qty=D("3")), a_context(), Limits())

    assert decision.approved
    assert (decision.estimated_cost, decision.price_basis) == (D("300.15"), "ask")


# --- reducing-only ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("position", "side", "qty", "passes"), [
    (D("100"), "sell", D("100"), True),
    (D("100"), "sell", D("1"), True),
    (D("100"), "sell", D("101"), False),
    (D("100"), "buy", D("1"), False),
    (D("-100"), "buy", D("100"), True),
    (D("-100"), "buy", D("101"), False),
    (D("-100"), "sell", D("1"), False),
    (D("0"), "sell", D("1"), False),
    (D("0"), "buy", D("1"), False),
])
def test_evaluate_when_reducing_then_only_orders_that_shrink_the_position_pass(position, side, qty, passes):
    ctx = a_context(trading_state=TradingState.REDUCING, position_qty=position)

    found = codes(an_order(side=side, qty=qty), ctx)

    assert ("TRADING_REDUCING_ONLY" not in found) is passes


def test_evaluate_when_reducing_with_a_notional_sell_then_shares_are_estimated_at_the_bid():
    ctx = a_context(trading_state=TradingState.REDUCING, position_qty=D("10"))

    within = codes(a_market(side="sell", qty=None, notional=D("999.50")), ctx)
    beyond = codes(a_market(side="sell", qty=None, notional=D("999.60")), ctx)

    assert "TRADING_REDUCING_ONLY" not in within
    assert "TRADING_REDUCING_ONLY" in beyond


# --- per-symbol limits --------------------------------------------------------------------------------------


def test_evaluate_when_symbol_has_override_then_only_that_symbol_uses_it():
    limits = Limits(symbols={"AAPL": SymbolLimits(max_order_qty=D("5"))})
    msft = a_context(asset=an_asset("MSFT"), quote=a_quote(symbol="MSFT"))

    aapl_codes = codes(an_order(qty=D("6")), a_context(), limits)
    msft_codes = codes(an_order(symbol="MSFT", qty=D("6")), msft, limits)

    assert aapl_codes == ["ORDER_QTY_EXCEEDS_LIMIT"]
    assert msft_codes == []


def test_evaluate_when_symbol_override_loosens_collar_then_far_limit_passes():
    limits = Limits(symbols={"AAPL": SymbolLimits(price_collar_pct=D("25"))})

    assert codes(an_order(limit_price=D("120")), a_context(), limits) == []
    assert codes(an_order(limit_price=D("120")), a_context(), Limits()) == ["PRICE_COLLAR_BUY_LIMIT_ABOVE_ASK"]


# --- properties ---------------------------------------------------------------------------------------------


@given(qty=st.integers(min_value=1, max_value=500))
def test_evaluate_when_any_whole_qty_within_limits_then_approved(qty):
    decision = evaluate(an_order(qty=D(qty)), a_context(), Limits())

    assert decision.approved
    assert decision.estimated_cost == D(qty) * D("100.00")


def price_codes(limit_price: Decimal) -> list[str]:
    return [r.code for r in check_prices(an_order(limit_price=limit_price), a_context(), Limits())]


@given(cents=st.integers(min_value=100, max_value=10_000_000))
def test_check_prices_when_price_at_or_above_a_dollar_then_cents_pass_and_mills_fail(cents):
    on_tick = D(cents).scaleb(-2)

    assert price_codes(on_tick) == []
    assert price_codes(on_tick + D("0.001")) == ["SUB_PENNY_PRICE"]


@given(ticks=st.integers(min_value=1, max_value=9_999))
def test_check_prices_when_price_below_a_dollar_then_four_decimals_pass_and_five_fail(ticks):
    on_tick = D(ticks).scaleb(-4)

    assert price_codes(on_tick) == []
    assert price_codes(on_tick + D("0.00001")) == ["SUB_PENNY_PRICE"]


_decimals = st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False, allow_infinity=False)


@given(
    side=st.sampled_from(["buy", "sell"]),
    type_=st.sampled_from(["market", "limit", "stop", "stop_limit"]),
    tif=st.sampled_from(["day", "gtc", "ioc"]),
    qty=st.none() | _decimals,
    notional=st.none() | _decimals,
    limit_price=st.none() | _decimals,
    stop_price=st.none() | _decimals,
    position=_decimals,
    quote=st.none() | st.just(a_quote()) | st.just(a_quote("0", "0", None)),
    state=st.sampled_from(list(TradingState)),
)
def test_evaluate_when_any_order_then_never_raises_and_approval_implies_a_cost(
    side, type_, tif, qty, notional, limit_price, stop_price, position, quote, state
):
    order = OrderFields.model_validate({"symbol": "AAPL", "side": side, "type": type_, "time_in_force": tif,
                                        "qty": qty, "notional": notional, "limit_price": limit_price,
                                        "stop_price": stop_price})
    ctx = a_context(quote=quote, position_qty=position, trading_state=state)

    decision = evaluate(order, ctx, Limits())

    assert decision.approved == (decision.reasons == ())
    if decision.approved:
        assert decision.estimated_cost is not None and decision.estimated_cost > 0


def test_checks_when_listed_then_each_is_a_pure_generator_of_reasons():
    for check in CHECKS:
        assert list(check(an_order(), a_context(), Limits())) == []
