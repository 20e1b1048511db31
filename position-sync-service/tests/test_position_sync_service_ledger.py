"""position-sync-service as a real process: fills become FIFO lots with realized P&L equal to a hand-computed table,
corporate actions from the broker's activity feed adjust them (basis kept, applied once), a dividend lands in the
income ledger; a replay of the whole feed and a restart change nothing. The test plays the gateway (conftest)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from position_sync.testing import leg
from tradebus_contracts.trading_day import trading_date

pytestmark = pytest.mark.integration
D = Decimal


def utc_now() -> datetime:
    return datetime.now(UTC)


def lots(reply, symbol):
    return [(lot.lot_id, lot.qty, lot.price) for p in reply.positions if p.symbol == symbol for lot in p.lots]


async def test_fills_when_buys_and_partial_sells_arrive_out_of_order_and_repeated_then_fifo_lots_match_the_hand_table(
        harness, Fills):
    fills = Fills()
    buy_1 = fills.order("AAPL", "buy", ("60", "10"), ("40", "10.50"), broker_order_id="b-buy-1")
    buy_2 = fills.order("AAPL", "buy", ("50", "12"), broker_order_id="b-buy-2")
    sell = fills.order("AAPL", "sell", ("70", "15"), ("50", "15.20"), broker_order_id="b-sell")
    short = fills.order("MSFT", "sell", ("10", "300"), broker_order_id="b-short")
    cover = fills.order("MSFT", "buy", ("4", "290"), broker_order_id="b-cover")
    await harness.set_quote("AAPL", "13.90", "14.10", last="14")
    await harness.set_quote("MSFT", "295", "297")
    harness.start()
    await harness.healthy()

    # the second execution of the first buy arrives before the first, which arrives twice
    await harness.publish(buy_1[1], buy_1[0], buy_1[0], *buy_2, *sell, *short, *cover)
    reply = await harness.settled(lambda r: harness.table(r).get("MSFT", (0,))[0] == D(-6))

    # hand-computed FIFO: the 70 @ 15 close 60 @ 10 (+300) and 10 of 40 @ 10.50 (+45); the 50 @ 15.20 close
    # 30 @ 10.50 (+141) and 20 of 50 @ 12 (+64): 550 realized, 30 @ 12 left. MSFT: short 10 @ 300, cover 4 @ 290: +40.
    assert harness.table(reply) == {"AAPL": (D(30), D(12), D(360), D(550)), "MSFT": (D(-6), D(300), D(-1800), D(40))}
    assert lots(reply, "AAPL") == [("b-buy-2-e0", D(30), D(12))]
    assert lots(reply, "MSFT") == [("b-short-e0", D(-6), D(300))]
    aapl, msft = reply.positions
    assert (aapl.last, aapl.market_value, aapl.unrealized_pl) == (D(14), D(420), D(60))
    assert (msft.last, msft.market_value, msft.unrealized_pl) == (D(296), D(-1776), D(24))  # the mid, no last trade
    assert aapl.broker_avg_entry_price == D("10.8")  # Alpaca's intraday weighted average: 1,620 / 150
    assert (reply.totals.realized_pl, reply.totals.cost_basis, reply.totals.unrealized_pl) == (D(590), D(-1440), D(84))


async def test_fills_when_the_service_restarts_then_the_ledger_is_rebuilt_from_its_journal_unchanged(harness, Fills):
    fills = Fills()
    harness.start()
    await harness.healthy()
    await harness.publish(*fills.order("AAPL", "buy", ("10", "100"), ("5", "101")),
                          *fills.order("AAPL", "sell", ("12", "110")))
    before = await harness.settled(lambda r: harness.table(r).get("AAPL", (0,))[0] == D(3))

    await harness.restart()
    after = await harness.positions(lots=True)

    assert after.positions == before.positions
    assert after.totals == before.totals


def split_legs(subtype: str, removed: str, old_price: str, allocated: str, new_price: str, old_rate: str,
               new_rate: str, ex_date: str, group: str) -> list[dict]:
    rates = {"symbol": "AAPL", "old_rate": old_rate, "new_rate": new_rate, "ex_date": ex_date}
    return [leg("SPLIT", subtype, f"-{removed}", old_price, group_id=group, **rates),
            leg("SPLIT", subtype, allocated, new_price, group_id=group, **rates)]


async def test_splits_when_a_4_for_1_then_a_1_for_20_arrive_as_legs_then_lots_scale_basis_is_kept_and_no_drift(
        harness, Fills):
    today = trading_date(utc_now()).isoformat()
    fills = Fills(utc_now() - timedelta(days=3))
    harness.start()
    await harness.healthy()
    await harness.publish(*fills.order("AAPL", "buy", ("100", "400")))
    await harness.settled(lambda r: harness.table(r).get("AAPL", (0,))[0] == D(100))

    feed = [*split_legs("FSPLIT", "100", "400", "400", "100", "1", "4", today, "g-forward"),
            *split_legs("RSPLIT", "400", "100", "20", "2000", "20", "1", today, "g-reverse")]
    for raw in feed:
        await harness.activity(raw)
    reply = await harness.settled(lambda r: harness.table(r)["AAPL"][0] == D(20))
    harness.gateway.positions = {"AAPL": ("20", "2000")}
    synced = await harness.sync()

    assert harness.table(reply)["AAPL"] == (D(20), D(2000), D(40000), D(0))
    applied = harness.of_type("CorporateActionApplied")
    assert [(e.action, e.ratio, e.qty_before, e.qty_after, e.cost_basis_after) for e in applied] == [
        ("split", D(4), D(100), D(400), D(40000)), ("split", D("0.05"), D(400), D(20), D(40000))]
    assert synced.ok and synced.drifts == [] and synced.mismatched == []

    # the whole feed again, as a re-read (new event ids) and as redeliveries (the same ones): nothing changes
    for raw in feed:
        await harness.activity(raw, event_id=uuid.uuid4())
        await harness.activity(raw)
    await asyncio.sleep(1.0)
    await harness.restart()
    again = await harness.positions(lots=True)

    assert again.positions == reply.positions
    assert len(harness.of_type("CorporateActionApplied")) == 2


async def test_split_when_it_arrives_after_fills_dated_after_it_then_the_ledger_is_refolded_with_it_in_place(
        harness, Fills):
    harness.start()
    await harness.healthy()
    three_days_ago, yesterday = utc_now() - timedelta(days=3), utc_now() - timedelta(days=1)
    await harness.publish(*Fills(three_days_ago).order("AAPL", "buy", ("100", "400")),
                          *Fills(yesterday).order("AAPL", "buy", ("10", "101")))  # bought after the split
    await harness.settled(lambda r: harness.table(r).get("AAPL", (0,))[0] == D(110))
    ex_date = trading_date(utc_now() - timedelta(days=2)).isoformat()

    for raw in split_legs("FSPLIT", "100", "400", "400", "100", "1", "4", ex_date, "g-late"):
        await harness.activity(raw)
    reply = await harness.settled(lambda r: harness.table(r)["AAPL"][0] == D(410))

    await harness.until(lambda: harness.of_type("CorporateActionApplied"), what="the CorporateActionApplied")

    assert harness.table(reply)["AAPL"][2] == D(41010)  # 40,000 split into 400 shares, then 10 @ 101
    assert [(e.qty_before, e.qty_after) for e in harness.of_type("CorporateActionApplied")] == [(D(100), D(400))]
    assert harness.log_events("positions.ledger_refolded")


async def test_dividend_when_a_cash_dividend_activity_arrives_then_it_lands_in_the_income_ledger_once(harness, Fills):
    harness.start()
    await harness.healthy()
    await harness.publish(*Fills(utc_now() - timedelta(days=3)).order("AAPL", "buy", ("100", "150")))
    await harness.settled(lambda r: harness.table(r).get("AAPL", (0,))[0] == D(100))
    dividend = leg("DIV", "CDIV", None, None, group_id=None, net_amount="25.00", symbol="AAPL", rate="0.25",
                   entitled_qty="100", ex_date=trading_date(utc_now()).isoformat())

    await harness.activity(dividend)
    await harness.activity(dividend, event_id=uuid.uuid4())
    reply = await harness.settled(lambda r: r.totals.dividends == D(25))
    await asyncio.sleep(0.5)

    assert harness.table(reply)["AAPL"] == (D(100), D(150), D(15000), D(0))  # the lots do not change
    [event] = harness.of_type("CorporateActionApplied")
    assert (event.action, event.cash_per_share, event.cash_amount) == ("dividend", D("0.25"), D("25.00"))
    assert (await harness.positions()).totals.dividends == D(25)


async def test_corporate_action_when_a_leg_is_missing_then_an_alert_and_nothing_half_applied(harness, Fills):
    harness.env["POSITION_LEG_GRACE_S"] = "0.5"
    harness.start()
    await harness.healthy()
    await harness.publish(*Fills(utc_now() - timedelta(days=3)).order("AAPL", "buy", ("100", "400")))
    await harness.settled(lambda r: harness.table(r).get("AAPL", (0,))[0] == D(100))

    removal, _ = split_legs("FSPLIT", "100", "400", "400", "100", "1", "4", trading_date(utc_now()).isoformat(), "g-x")
    await harness.activity(removal)
    await harness.until(lambda: harness.log_events("positions.corporate_action_alert"), what="the alert")
    await harness.restart()  # the waiting leg is kept: after a restart it is still waiting, not lost

    alerts = harness.log_events("positions.corporate_action_alert")
    assert {(a["code"], a["action_id"]) for a in alerts} == {("MISSING_LEG", "g-x")}  # again after the restart
    assert harness.table(await harness.positions())["AAPL"][0] == D(100)
    assert harness.of_type("CorporateActionApplied") == []
