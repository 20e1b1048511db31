"""Contract: account, clock, calendar and the asset universe through TradingClient."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import AssetStatus
from alpaca.trading.requests import GetAssetsRequest, GetCalendarRequest


def test_account_when_fresh_then_active_with_string_decimal_balances(broker):
    account = broker.trading().get_account()

    assert account.status.value == "ACTIVE" and account.currency == "USD"
    assert Decimal(account.cash) >= 0 and Decimal(account.buying_power) >= 0
    assert Decimal(account.equity) == Decimal(account.portfolio_value)
    if broker.is_sim:
        assert (account.cash, account.buying_power, account.equity) == ("100000", "100000", "100000")


def test_clock_when_asked_then_next_open_and_close_are_in_the_future_or_now(broker):
    clock = broker.trading().get_clock()

    assert clock.next_close > clock.timestamp or clock.is_open is False
    assert clock.next_open > clock.timestamp


def test_calendar_when_a_week_is_asked_then_weekdays_with_session_times(broker):
    days = broker.trading().get_calendar(GetCalendarRequest(start=date(2026, 1, 12), end=date(2026, 1, 18)))

    assert [d.date.isoformat() for d in days] == ["2026-01-12", "2026-01-13", "2026-01-14", "2026-01-15", "2026-01-16"]
    assert all(d.open.hour == 9 and d.open.minute == 30 and d.close.hour == 16 for d in days)


def test_assets_when_listed_then_a_realistic_us_equity_universe(broker):
    assets = broker.trading().get_all_assets(GetAssetsRequest(status=AssetStatus.ACTIVE))

    symbols = {a.symbol for a in assets}
    assert len(assets) >= 20 and {"AAPL", "MSFT", "SPY"} <= symbols
    assert any(not a.fractionable for a in assets if a.tradable)


def test_asset_when_looked_up_then_flags_match_alpaca(broker):
    client = broker.trading()

    assert client.get_asset("AAPL").fractionable is True
    assert client.get_asset("BRK.A").fractionable is False
    if broker.is_sim:
        twtr = client.get_asset("TWTR")
        assert twtr.tradable is False and twtr.status == AssetStatus.INACTIVE
        assert client.get_asset(str(client.get_asset("AAPL").id)).symbol == "AAPL"


def test_asset_when_unknown_then_404(broker):
    with pytest.raises(APIError) as error:
        broker.trading().get_asset("ZZZZZZ9")

    assert error.value.status_code == 404


def test_position_when_none_held_then_404(broker):
    with pytest.raises(APIError) as error:
        broker.trading().get_open_position("INTC" if broker.is_sim else "ZZZZZZ9")

    assert error.value.status_code == 404
