"""The Alpaca-method average: weighted intraday, compressed FIFO from the next New York day on."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from position_sync.alpaca_average import AlpacaAverage, Method
from position_sync.ledger import Ledger
from position_sync.testing import D, at, buy, sell
from tradebus_contracts.trading_day import trading_date

CENT = Decimal("0.01")


def ledger_of(*fills) -> Ledger:
    ledger = Ledger()
    for f in fills:
        ledger.apply_fill(f)
    return ledger


def docs_example() -> Ledger:
    """docs.alpaca.markets position-average-entry-price-calculation: 2 Mar, 3 Mar, 4 Mar 2026."""
    return ledger_of(buy(100, 10, 2), buy(50, 12, 2, hour=11), buy(30, 15, 3), sell(120, 14, 4))


def test_snapshot_when_docs_example_then_strict_fifo_gives_13_50():
    view = docs_example().snapshot("AAPL", at(4, 16))

    assert (view.qty, view.avg_entry_price, view.cost_basis) == (D(60), D("13.50"), D(810))


def test_alpaca_view_when_docs_example_on_the_day_of_the_sell_then_weighted_average_11_39():
    view = docs_example().positions["AAPL"].average.view(date(2026, 3, 4))

    assert view.method is Method.WEIGHTED_INTRADAY
    assert view.avg_entry_price.quantize(CENT) == D("11.39")
    assert view.avg_entry_price == D(2050) / D(180)  # a sell keeps the average: 2,050 / 180


def test_alpaca_view_when_docs_example_the_next_day_then_compressed_fifo_12_83():
    view = docs_example().positions["AAPL"].average.view(date(2026, 3, 5))

    assert view.method is Method.COMPRESSED_FIFO
    assert (view.qty, view.cost_basis) == (D(60), D(770))  # 30 of day 1's 150 @ 1,600 + 30 @ 15
    assert view.avg_entry_price.quantize(CENT) == D("12.83")


def test_alpaca_view_when_a_day_has_several_buys_then_they_compress_into_one_lot_at_their_weighted_price():
    ledger = ledger_of(buy(100, 10, 2), buy(100, 20, 2, hour=15), sell(100, 30, 3))

    average = ledger.positions["AAPL"].average

    assert average.view(date(2026, 3, 3)).avg_entry_price == D(15)  # weighted intraday
    assert average.view(date(2026, 3, 4)).avg_entry_price == D(15)  # 100 left of the 200 @ 15 day lot
    assert ledger.snapshot("AAPL", at(4)).avg_entry_price == D(20)  # strict FIFO: the 10s are gone


@pytest.mark.parametrize(("fills", "qty", "avg"), [
    ([sell(10, 20), buy(4, 18)], "-6", "20"),  # a cover keeps the short's average
    ([sell(10, 20), buy(4, 18), buy(10, 19)], "4", "19"),  # through zero: the long opens at its own price
    ([buy(10, 10), sell(15, 11)], "-5", "11"),
    ([buy(10, 10), sell(10, 11)], "0", "0"),
])
def test_alpaca_view_when_intraday_shorts_and_crossings_then_weighted_rules_hold(fills, qty, avg):
    view = ledger_of(*fills).positions["AAPL"].average.view(date(2026, 3, 2))

    assert (view.qty, view.avg_entry_price) == (D(qty), D(avg))


def test_alpaca_view_when_short_carried_overnight_then_compressed_fifo_covers_the_oldest_day_first():
    ledger = ledger_of(sell(10, 20, 2), sell(10, 30, 3), buy(15, 25, 4))

    view = ledger.positions["AAPL"].average.view(date(2026, 3, 5))

    assert (view.qty, view.cost_basis, view.avg_entry_price) == (D(-5), D(-150), D(30))


def test_day_flows_when_asked_for_today_then_start_quantity_and_net_cash_paid():
    average = AlpacaAverage()
    average.book(D(10), D(100), date(2026, 3, 2))
    average.book(D(5), D(60), date(2026, 3, 3))
    average.book(D(-3), D(-39), date(2026, 3, 3))

    assert average.day_flows(date(2026, 3, 3)) == (D(10), D(21))
    assert average.day_flows(date(2026, 3, 4)) == (D(12), D(0))


@pytest.mark.parametrize(("moment", "day"), [
    (datetime(2026, 3, 3, 4, 30, tzinfo=UTC), date(2026, 3, 2)),  # 23:30 EST the evening before
    (datetime(2026, 3, 3, 5, 0, tzinfo=UTC), date(2026, 3, 3)),  # midnight EST
    (datetime(2026, 3, 9, 3, 59, tzinfo=UTC), date(2026, 3, 8)),  # 23:59 EDT: DST began on 8 March
    (datetime(2026, 3, 9, 4, 0, tzinfo=UTC), date(2026, 3, 9)),
])
def test_trading_date_when_utc_moment_then_new_york_calendar_date(moment, day):
    assert trading_date(moment) == day


def test_trading_date_when_naive_datetime_then_refused():
    with pytest.raises(ValueError, match="aware"):
        trading_date(datetime(2026, 3, 2, 10))
