"""Unit (property): whatever sequence of requests and market moves, the books stay consistent.

Every refusal is a BrokerError (Alpaca's answer), never another exception; every order's filled_qty is the sum
of its executions; positions and cash are exactly what the FILL, SPLIT and DIV activities say.
"""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alpaca_sim.broker import Broker
from alpaca_sim.errors import BrokerError
from alpaca_sim.market import MarketClock
from alpaca_sim.portfolio import corporate_action

SYMBOLS = ["AAPL", "F", "SNDL", "SIRI"]
START_CASH = Decimal(100000)

prices = st.sampled_from(["0.5", "0.9999", "1", "9.99", "10", "10.05", "99.5", "100", "101.25", "250"])


@st.composite
def order_bodies(draw) -> dict:
    """Mostly valid orders of every type (so that they trade), sometimes invalid ones (so that they are refused)."""
    order_type = draw(st.sampled_from(["market", "limit", "stop", "stop_limit", "trailing_stop"]))
    body = {"symbol": draw(st.sampled_from(SYMBOLS)), "side": draw(st.sampled_from(["buy", "sell"])),
            "type": order_type, "time_in_force": draw(st.sampled_from(["day", "day", "gtc", "ioc", "fok"]))}
    if order_type == "market" and body["time_in_force"] == "day" and draw(st.booleans()):
        body["notional"] = draw(st.sampled_from(["5", "100.5"]))
    else:
        body["qty"] = draw(st.sampled_from(["1", "3", "10", "0.5", "0.001", "250"]))
    if order_type in ("limit", "stop_limit"):
        body["limit_price"] = draw(prices)
    if order_type in ("stop", "stop_limit"):
        body["stop_price"] = draw(prices)
    if order_type == "trailing_stop":
        body["trail_percent"] = draw(st.sampled_from(["1", "5"]))
    if order_type == "limit" and draw(st.booleans()):
        body["extended_hours"] = True
    if draw(st.integers(0, 9)) == 0:
        body[draw(st.sampled_from(["limit_price", "qty", "time_in_force"]))] = draw(st.sampled_from(["x", "-1", "1.234"]))
    return body


operations = st.lists(st.one_of(
    st.tuples(st.just("submit"), order_bodies()),
    st.tuples(st.just("quote"), st.sampled_from(SYMBOLS), prices, st.sampled_from(["0", "0.01", "0.05"])),
    st.tuples(st.just("cancel"), st.integers(0, 20), st.booleans()),
    st.tuples(st.just("replace"), st.integers(0, 20), st.fixed_dictionaries({}, optional={"qty": st.sampled_from([1, 2, 5]), "limit_price": prices})),
    st.tuples(st.just("tick")),
    st.tuples(st.just("clock"), st.booleans()),
    st.tuples(st.just("liquidity"), st.sampled_from(SYMBOLS), st.sampled_from([None, "1", "0.5"])),
    st.tuples(st.just("complete_cancels")),
    st.tuples(st.just("split"), st.sampled_from(SYMBOLS), st.sampled_from([2, 3])),
    st.tuples(st.just("dividend"), st.sampled_from(SYMBOLS), st.sampled_from(["0.1", "0.25"])),
), max_size=30)


def apply(broker: Broker, op: tuple) -> None:
    kind, *args = op
    ids = list(broker.orders)
    if kind == "submit":
        broker.submit(args[0])
        broker.match_all()
    elif kind == "quote":
        symbol, bid, spread = args
        broker.set_quote(symbol, bid, str(Decimal(bid) + Decimal(spread)))
    elif kind == "cancel" and ids:
        broker.cancel(ids[args[0] % len(ids)], complete=args[1])
    elif kind == "replace" and ids:
        broker.replace(ids[args[0] % len(ids)], args[1])
        broker.match_all()
    elif kind == "tick":
        broker.match_all()
    elif kind == "clock":
        broker.set_market_open(args[0])
    elif kind == "liquidity":
        broker.set_liquidity(*args)
    elif kind == "complete_cancels":
        broker.complete_pending_cancels()
    elif kind == "split":
        corporate_action(broker, {"type": "split", "symbol": args[0], "new_rate": args[1], "old_rate": 1})
    elif kind == "dividend":
        corporate_action(broker, {"type": "dividend", "symbol": args[0], "cash": args[1]})


def assert_books_consistent(broker: Broker) -> None:
    filled_by_order: dict[str, Decimal] = defaultdict(Decimal)
    qty_by_symbol: dict[str, Decimal] = defaultdict(Decimal)
    cash = START_CASH
    for activity in broker.ledger.activities:
        qty = Decimal(activity["qty"])
        if activity["activity_type"] == "FILL":
            signed = qty if activity["side"] == "buy" else -qty
            filled_by_order[activity["order_id"]] += qty
            qty_by_symbol[activity["symbol"]] += signed
            cash -= signed * Decimal(activity["price"])
        elif activity["activity_type"] == "SPLIT":
            qty_by_symbol[activity["symbol"]] += qty
        elif activity["activity_type"] == "DIV":
            cash += Decimal(activity["net_amount"])
    for order in broker.orders.values():
        assert order.filled_qty == filled_by_order[order.id]
        assert order.status != "filled" or order.remaining_qty == 0
        assert order.remaining_qty is None or order.remaining_qty >= 0
    for symbol in SYMBOLS:
        assert broker.ledger.qty(symbol) == qty_by_symbol[symbol]
    assert broker.ledger.cash == cash


@settings(max_examples=int(os.environ.get("SIM_PROPERTY_EXAMPLES", "200")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations)
def test_books_when_any_sequence_of_requests_then_consistent_and_refusals_are_broker_errors(ops):
    moment = [datetime(2026, 1, 5, 15, 0, tzinfo=timezone.utc)]
    broker = Broker(clock=MarketClock(now=lambda: moment[0]), seed=3)
    for symbol in SYMBOLS:
        broker.set_quote(symbol, "10.00", "10.02")

    for op in ops:
        moment[0] += timedelta(seconds=1)
        try:
            apply(broker, op)
        except BrokerError:
            pass
        assert_books_consistent(broker)
