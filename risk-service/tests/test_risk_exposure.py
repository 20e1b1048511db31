"""Projected exposure in decisions, with plain values: orders cannot be split around a limit while earlier ones still
work; a cancel releases what it held; a fill holds its room until the settled position has it; today's notional
counts what filled and what may still fill; gross exposure counts every symbol's open orders, and buying power the
open buys the broker has not held back yet. Decided and booked as the request consumer does (``plan_batch``)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

from risk_service.batch import plan_batch
from risk_service.booking import FillSeen
from risk_service.decider import Decider
from risk_service.limits import Limits
from tradebus_contracts import OrderSide, RiskApproved, TradingState

D = Decimal


def decide(decider, now, order_requested, **fields):
    """One request, decided and booked; its event."""
    (new,) = plan_batch([order_requested(**fields)], decider.decide, decider.book, now).new
    return new.event


def codes(event) -> set[str]:
    return set() if isinstance(event, RiskApproved) else {r.code for r in event.reasons}


def a_fill(approval, qty, price, at):
    return FillSeen(f"ex-{uuid4().hex[:8]}", approval.order_id, approval.symbol, approval.side, D(qty), D(price), at)


def test_reducing_when_a_long_of_100_is_sold_twice_then_the_second_sell_is_refused(decider, refdata, trading, now,
                                                                                    order_requested):
    refdata.position, trading.state = D(100), TradingState.REDUCING

    first = decide(decider, now, order_requested, side="sell", qty="100")
    second = decide(decider, now, order_requested, side="sell", qty="100")

    assert isinstance(first, RiskApproved)
    assert codes(second) == {"TRADING_REDUCING_ONLY", "SELL_EXCEEDS_AVAILABLE"}  # the broker would refuse it too
    assert "100 shares of open sells working" in second.message


def test_reducing_when_the_first_sell_is_cancelled_unfilled_then_the_room_is_released(decider, refdata, trading, now,
                                                                                      order_requested):
    refdata.position, trading.state = D(100), TradingState.REDUCING
    first = decide(decider, now, order_requested, side="sell", qty="100")

    decider.book.record_closed(first.order_id, D(0))
    again = decide(decider, now, order_requested, side="sell", qty="100")

    assert isinstance(again, RiskApproved)


def test_short_sale_when_not_shortable_and_a_long_of_100_is_sold_twice_then_the_second_is_refused_like_one_of_200(
    decider, refdata, now, order_requested
):
    refdata.position, refdata.shortable = D(100), False

    first = decide(decider, now, order_requested, side="sell", qty="100")
    second = decide(decider, now, order_requested, side="sell", qty="100")
    whole = decide(decider, now, order_requested, side="sell", qty="200")

    assert isinstance(first, RiskApproved)
    assert "SHORT_NOT_ALLOWED" in codes(second) and "SHORT_NOT_ALLOWED" in codes(whole)


def test_position_cap_when_flat_and_three_buys_of_45k_then_the_third_would_pass_the_100k_cap(decider, refdata, now,
                                                                                             order_requested):
    refdata.buying_power = D(1_000_000)  # only the position cap is in the way
    buy = {"qty": "240", "limit_price": "187.25"}  # $44,940 each

    first, second, third = (decide(decider, now, order_requested, **buy) for _ in range(3))

    assert isinstance(first, RiskApproved) and isinstance(second, RiskApproved)
    assert codes(third) == {"POSITION_NOTIONAL_EXCEEDS_LIMIT"}
    assert "480 shares of open buys working" in third.message


def test_fill_when_the_settled_position_does_not_have_it_yet_then_it_still_holds_its_room(decider, refdata, trading,
                                                                                          now, order_requested):
    refdata.position, trading.state = D(100), TradingState.REDUCING
    sell = decide(decider, now, order_requested, side="sell", qty="100")
    decider.book.record_fill(a_fill(sell, "100", "187.20", now))
    decider.book.record_closed(sell.order_id, D(100))  # filled: the order ended, its fill is in flight

    while_in_flight = decide(decider, now, order_requested, side="sell", qty="100")
    refdata.position, refdata.position_as_of = D(0), now + timedelta(seconds=11)  # the broker's position has it
    after_settled = decide(decider, now, order_requested, side="sell", qty="100")

    assert codes(while_in_flight) == {"TRADING_REDUCING_ONLY"}
    assert codes(after_settled) == {"TRADING_REDUCING_ONLY"}  # flat now: nothing left to reduce
    assert decider.book.projection("AAPL", D(0), now + timedelta(seconds=11)).short_worst == 0


def test_order_end_when_it_arrives_before_the_fill_events_then_the_filled_part_still_counts(decider, refdata, trading,
                                                                                           now, order_requested):
    refdata.position, trading.state = D(100), TradingState.REDUCING
    sell = decide(decider, now, order_requested, side="sell", qty="100")

    decider.book.record_closed(sell.order_id, D(60))  # filled 60 of 100, the rest cancelled; no fill seen yet

    assert decider.book.projection("AAPL", D(100), now).short_worst == D(40)
    assert codes(decide(decider, now, order_requested, side="sell", qty="41")) == {"TRADING_REDUCING_ONLY",
                                                                                  "SELL_EXCEEDS_AVAILABLE"}
    assert isinstance(decide(decider, now, order_requested, side="sell", qty="40"), RiskApproved)


def test_daily_notional_when_an_order_is_cancelled_partly_filled_then_only_the_filled_part_counts(decider, now,
                                                                                                  order_requested):
    buy = decide(decider, now, order_requested, qty="100", limit_price="187.25")  # $18,725 committed
    book = decider.book

    book.record_fill(a_fill(buy, "40", "187.00", now))
    open_after_fill = book.daily_by_symbol["AAPL"]
    book.record_closed(buy.order_id, D(40))

    assert open_after_fill == D(40) * D("187.00") + D(60) * D("187.25")
    assert book.daily_by_symbol["AAPL"] == D("7480.00")
    assert book.projection("AAPL", D(0), now).buying == D(40)  # the filled 40 until the position has them


def test_daily_notional_when_an_order_is_cancelled_unfilled_then_it_counts_nothing(decider, now, order_requested):
    buy = decide(decider, now, order_requested, qty="100")

    decider.book.record_closed(buy.order_id, D(0))

    assert decider.book.daily_by_symbol["AAPL"] == 0 and decider.book.open_total == 0


def test_fill_when_delivered_twice_then_counted_once(decider, now, order_requested):
    buy = decide(decider, now, order_requested, qty="100")
    fill = a_fill(buy, "40", "187.00", now)

    decider.book.record_fill(fill)
    decider.book.record_fill(fill)

    assert decider.book.projection("AAPL", D(0), None).buying == D(100)  # 60 working + 40 in flight
    assert decider.book.projection("AAPL", D(0), None) == decider.book.projection("AAPL", D(0), now)


def test_projection_when_orders_work_on_the_other_side_then_they_do_not_count_against_this_one(decider, refdata,
                                                                                             trading, now,
                                                                                             order_requested):
    refdata.position, trading.state = D(100), TradingState.ACTIVE
    decide(decider, now, order_requested, qty="50")  # an open buy never takes away what a sell covers
    trading.state = TradingState.REDUCING

    sell = decide(decider, now, order_requested, side="sell", qty="100")

    assert isinstance(sell, RiskApproved)
    assert decider.book.projection("AAPL", D(100), now).worst(OrderSide.BUY) == D(150)


def test_gross_exposure_when_buys_work_in_two_symbols_then_the_one_that_would_pass_the_cap_is_refused(
    decider, refdata, now, order_requested
):
    refdata.buying_power = D(1_000_000)
    capped = Decider(Limits(max_account_gross_exposure=D(100_000)), refdata, decider.book, decider.signer,
                     decider.trading_state)

    aapl = decide(capped, now, order_requested, qty="260", limit_price="187.25")  # $48,685 of AAPL working
    msft = decide(capped, now, order_requested, symbol="MSFT", qty="190", limit_price="250.10")
    more = decide(capped, now, order_requested, symbol="MSFT", qty="30", limit_price="250.10")

    assert isinstance(aapl, RiskApproved) and isinstance(msft, RiskApproved)
    assert codes(more) == {"GROSS_EXPOSURE_EXCEEDS_LIMIT"}
    assert "and $48,685.00 more in other symbols' open orders" in more.message


def test_buying_power_when_open_buys_are_not_at_the_broker_yet_then_they_are_paid_for_first(decider, refdata, now,
                                                                                             order_requested):
    first = decide(decider, now, order_requested, qty="260", limit_price="187.25")  # $48,685.00
    second = decide(decider, now, order_requested, symbol="MSFT", qty="190", limit_price="250.10")  # $47,519.00
    third = decide(decider, now, order_requested, symbol="MSFT", qty="20", limit_price="250.10")  # $5,002.00

    assert isinstance(first, RiskApproved) and isinstance(second, RiskApproved)
    assert codes(third) == {"INSUFFICIENT_BUYING_POWER"}
    assert "less $96,204.00 for open buys the broker has not counted yet" in third.message


def test_buying_power_when_the_account_read_holds_the_open_buys_back_then_they_are_not_counted_twice(
    decider, refdata, now, order_requested
):
    first = decide(decider, now, order_requested, qty="260", limit_price="187.25")
    second = decide(decider, now, order_requested, symbol="MSFT", qty="190", limit_price="250.10")
    for approval in (first, second):  # the broker took both before the account was read again
        decider.book.record_submitted(approval.order_id, now - timedelta(seconds=11))
    refdata.buying_power = D(100_000) - D("96204")  # what the broker says is left with both open

    too_much = decide(decider, now, order_requested, symbol="MSFT", qty="20", limit_price="250.10")  # $5,002.00
    fits = decide(decider, now, order_requested, symbol="MSFT", qty="10", limit_price="250.10")  # $2,501.00

    assert codes(too_much) == {"INSUFFICIENT_BUYING_POWER"}
    assert "open buys" not in too_much.message
    assert isinstance(fits, RiskApproved)


def test_sell_when_the_settled_long_already_has_the_buy_and_a_stop_loss_holds_it_then_more_is_refused(
        decider, refdata, now, order_requested):
    """Bought 10 a moment ago: the fill is still in flight for the projection (inside the settle margin), but the
    position read after it already has it. A stop-loss on the 10, then a sell of 3: the broker would refuse it, and
    risk must not count the 10 twice and approve it."""
    buy = decide(decider, now, order_requested, side="buy", qty="10")
    decider.book.record_fill(a_fill(buy, "10", "187.30", now - timedelta(seconds=1)))
    refdata.position, refdata.position_as_of = D(10), now  # read after the fill was recorded
    stop_loss = decide(decider, now, order_requested, side="sell", qty="10", type="stop", limit_price=None,
                       stop_price=D("160.00"), time_in_force="gtc")
    more = decide(decider, now, order_requested, side="sell", qty="3")

    assert isinstance(stop_loss, RiskApproved)
    assert codes(more) == {"SELL_EXCEEDS_AVAILABLE"}
    assert "the position is 10; open sell orders hold 10, so 0 are available" in more.message
    assert decider.book.position_now("AAPL", D(10), now) == D(10)  # the fill is in the settled 10
    assert decider.book.position_now("AAPL", D(0), now - timedelta(seconds=2)) == D(10)  # read before the fill
