"""Unit: the broker core with a controllable clock and pinned quotes — lifecycle, funds, accounting."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpaca_sim.broker import Broker
from alpaca_sim.errors import BrokerError
from alpaca_sim.guards import FaultBook, RateLimiter, parse_fault
from alpaca_sim.ledger import Ledger
from alpaca_sim.market import MarketClock, calendar, in_regular_session
from alpaca_sim.persistence import restore, snapshot
from alpaca_sim.portfolio import account_json, corporate_action


class FakeClock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 1, 5, 15, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture
def broker() -> Broker:
    clock = FakeClock()
    core = Broker(clock=MarketClock(now=clock), seed=1)
    core.updates = []
    core.listeners.append(core.updates.append)
    core.set_quote("AAPL", "100.00", "100.02")
    return core


def buy(core: Broker, qty: str = "10", **fields) -> str:
    order = core.submit({"symbol": "AAPL", "qty": qty, "side": "buy", "type": "market", "time_in_force": "day", **fields})
    core.match_all()
    return order.id


def test_submit_when_refused_for_buying_power_then_nothing_is_stored(broker):
    with pytest.raises(BrokerError):
        broker.submit({"symbol": "AAPL", "qty": "5000", "side": "buy", "type": "market", "time_in_force": "day", "client_order_id": "big"})

    assert broker.orders == {} and broker.client_order_ids == {} and broker.updates == []
    buy(broker, "1", client_order_id="big")


def test_client_order_id_when_order_is_final_then_still_unique(broker):
    buy(broker, "1", client_order_id="once")

    with pytest.raises(BrokerError) as error:
        buy(broker, "1", client_order_id="once")

    assert error.value.message == "client_order_id must be unique"


def test_replace_when_refused_then_old_order_untouched(broker):
    resting = broker.submit({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": "90", "time_in_force": "day"})

    with pytest.raises(BrokerError):
        broker.replace(resting.id, {"limit_price": "90.001"})

    assert resting.status == "new" and resting.replaced_by is None and len(broker.orders) == 1


def test_fills_when_buy_then_sell_at_a_profit_then_cash_reflects_realised_gain(broker):
    buy(broker, "10")
    broker.set_quote("AAPL", "110.00", "110.02")
    broker.submit({"symbol": "AAPL", "qty": "10", "side": "sell", "type": "market", "time_in_force": "day"})
    broker.match_all()

    assert broker.ledger.cash == Decimal("100000") - Decimal("1000.2") + Decimal("1100")
    assert broker.ledger.positions == {}


def test_close_when_day_and_gtc_orders_then_only_day_expires_and_queue_opens_later(broker):
    day = broker.submit({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": "90", "time_in_force": "day"})
    gtc = broker.submit({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": "90", "time_in_force": "gtc"})

    broker.set_market_open(False)
    queued = broker.submit({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"})
    broker.match_all()

    assert (day.status, gtc.status, queued.status) == ("expired", "new", "accepted")
    broker.set_market_open(True)
    assert queued.status == "filled"


def test_account_when_long_position_then_equity_is_cash_plus_market_value(broker):
    buy(broker, "10")

    account = account_json(broker)

    assert account["cash"] == "98999.8"
    assert account["long_market_value"] == "1000.1"
    assert account["equity"] == "99999.9"


def test_split_when_short_position_then_short_grows_and_avg_price_shrinks(broker):
    broker.set_quote("F", "10.00", "10.01")
    broker.submit({"symbol": "F", "qty": "100", "side": "sell", "type": "market", "time_in_force": "day"})
    broker.match_all()

    corporate_action(broker, {"type": "split", "symbol": "F", "new_rate": 3, "old_rate": 2})

    position = broker.ledger.positions["F"]
    assert position.qty == -150 and position.avg_entry_price * 3 == 20


def test_dividend_when_short_then_account_pays_it():
    ledger = Ledger(Decimal(1000))
    ledger.apply_fill("KO", "id", "NYSE", "sell", Decimal(10), Decimal(60))

    paid = ledger.dividend("KO", Decimal("0.5"), datetime(2026, 1, 5, tzinfo=timezone.utc))

    assert paid == Decimal("-5.00") and ledger.cash == Decimal(1595)


def test_snapshot_when_restored_then_same_orders_positions_cash_and_ids(broker):
    buy(broker, "3", client_order_id="kept")
    copy = Broker(clock=broker.clock, seed=1)

    restore(copy, snapshot(broker))

    assert copy.ledger.cash == broker.ledger.cash
    assert copy.get_by_client_order_id("kept").to_json() == broker.get_by_client_order_id("kept").to_json()
    assert copy.ledger.positions["AAPL"].qty == 3


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["buy", "sell"]), st.integers(1, 20), st.integers(50, 150)), min_size=1, max_size=12))
def test_ledger_when_any_sequence_of_fills_then_cash_and_qty_are_conserved(fills):
    ledger = Ledger(Decimal(0))
    for side, qty, price in fills:
        ledger.apply_fill("AAPL", "id", "NASDAQ", side, Decimal(qty), Decimal(price))

    signed = [(q if s == "buy" else -q, p) for s, q, p in fills]
    assert ledger.qty("AAPL") == sum(q for q, _ in signed)
    assert ledger.cash == -sum(q * p for q, p in signed)
    position = ledger.positions.get("AAPL")
    if position is not None:
        assert min(p for *_, p in fills) <= position.avg_entry_price <= max(p for *_, p in fills)


def test_rate_limiter_when_window_passes_then_budget_is_back():
    now = [120.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    limiter.hit("k"), limiter.hit("k")
    with pytest.raises(BrokerError) as error:
        limiter.hit("k")
    assert error.value.status == 429

    now[0] += 60

    assert limiter.hit("k")["X-RateLimit-Remaining"] == "1"


def test_fault_book_when_prefix_and_method_then_matching_requests_consume_times():
    book = FaultBook()
    book.add(parse_fault({"method": "post", "path": "/v2/orders", "status": 504, "times": 2}))

    assert book.take("GET", "/v2/orders") is None
    assert book.take("POST", "/v2/orders").status == 504
    assert book.take("POST", "/v2/orders/x").status == 504
    assert book.take("POST", "/v2/orders") is None


def test_clock_when_friday_evening_then_next_open_is_monday():
    friday_night = datetime(2026, 1, 9, 23, 0, tzinfo=timezone.utc)
    clock = MarketClock(now=lambda: friday_night)

    assert clock.next_open().isoformat() == "2026-01-12T09:30:00-05:00"
    assert clock.next_close() - clock.next_open() == timedelta(hours=6, minutes=30)


@pytest.mark.parametrize("utc, is_open", [
    ("2026-01-05T14:30:00", True),   # Monday 09:30 New York
    ("2026-01-05T14:29:59", False),
    ("2026-01-05T20:59:59", True),
    ("2026-01-05T21:00:00", False),  # 16:00 New York
    ("2026-01-10T15:00:00", False),  # Saturday
    ("2026-07-06T13:30:00", True),   # summer time: 09:30 New York is 13:30 UTC
    ("2026-11-26T15:00:00", False),  # Thanksgiving
    ("2026-11-27T18:30:00", False),  # 13:30 New York on the day after Thanksgiving: closed early
])
def test_regular_session_when_real_hours_then_nyse_weekday_hours_in_new_york_time(utc, is_open):
    assert in_regular_session(datetime.fromisoformat(utc + "+00:00")) is is_open


def test_cancel_when_pending_and_partially_filled_meanwhile_then_rest_is_canceled(broker):
    broker.liquidity["AAPL"] = Decimal(3)
    order = broker.submit({"symbol": "AAPL", "qty": "10", "side": "buy", "type": "limit", "limit_price": "99", "time_in_force": "day"})
    broker.cancel(order.id, complete=False)

    broker.set_quote("AAPL", "98.00", "98.02")
    broker.complete_cancel(order.id)

    assert (order.status, order.filled_qty) == ("canceled", 3)
    assert [u["event"] for u in broker.updates][-3:] == ["pending_cancel", "partial_fill", "canceled"]


def test_cancel_when_already_pending_then_422_and_replace_refused_too(broker):
    order = broker.submit({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": "90", "time_in_force": "day"})
    broker.cancel(order.id, complete=False)

    for attempt in (lambda: broker.cancel(order.id), lambda: broker.replace(order.id, {"limit_price": "91"})):
        with pytest.raises(BrokerError) as error:
            attempt()
        assert error.value.status == 422
    assert order.status == "pending_cancel"


def test_calendar_when_thanksgiving_week_then_holiday_missing_and_friday_closes_at_one():
    days = calendar(datetime(2026, 11, 23).date(), datetime(2026, 11, 29).date())

    assert [(d["date"], d["close"]) for d in days] == [
        ("2026-11-23", "16:00"), ("2026-11-24", "16:00"), ("2026-11-25", "16:00"), ("2026-11-27", "13:00"),
    ]


@pytest.mark.parametrize("year, expected", [
    (2025, {"2025-01-01", "2025-01-20", "2025-02-17", "2025-04-18", "2025-05-26", "2025-06-19", "2025-07-04",
            "2025-09-01", "2025-11-27", "2025-12-25"}),
    (2027, {"2027-01-01", "2027-01-18", "2027-02-15", "2027-03-26", "2027-05-31", "2027-06-18", "2027-07-05",
            "2027-09-06", "2027-11-25", "2027-12-24"}),
])
def test_holidays_when_a_year_then_nyse_full_day_closures_with_weekend_observance(year, expected):
    from alpaca_sim.nyse import holidays

    assert {d.isoformat() for d in holidays(year)} == expected


def test_clock_when_evening_before_thanksgiving_then_next_session_is_the_short_friday():
    clock = MarketClock(now=lambda: datetime(2026, 11, 25, 22, 0, tzinfo=timezone.utc))

    assert clock.next_open().isoformat() == "2026-11-27T09:30:00-05:00"
    assert clock.next_close().isoformat() == "2026-11-27T13:00:00-05:00"
