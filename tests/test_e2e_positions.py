"""The position ledger through the whole stack as `make up` runs it (real NATS, PostgreSQL, risk, the gateway talking
to alpaca-sim through alpaca-py, position-sync-service): orders placed on the bus become FIFO lots and realized P&L
equal to a table worked out by hand; a position opened at the broker behind tradebus's back is one PositionDrift
within one sync, adopted, and the next sync is clean; splits and a reverse split at the simulator scale the lots with
their basis kept and leave nothing to reconcile, a cash dividend lands in the income ledger, and a short position
splits the same way, and a short position's symbol change moves its lots; `tradectl sync --rebuild` rebuilds the
ledger from the broker's FILL history into the same lots, and a second rebuild changes nothing (issue 12, "Done
when").

One stack for the module (its start-up is the slow part), with short sync settings: syncs run only when a test asks
(`rpc.position-sync-service.sync`), two mismatching reads 1 s apart make a drift, policy `adopt`, and the gateway reads
the broker's activities every second. Each test trades its own symbol at prices it pins at the
simulator.

Not here: a short sync interval. A periodic sync would race the tests' own syncs (the drift test must see its drift
in the sync it asks for), so "one sync every interval while open, none while closed", a restart in the middle of a
sync and a replay of the whole activity feed run on a stack of their own with a 2 s interval
(tests/test_e2e_position_sync_schedule.py), with the market closed and opened again at the simulator.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest

from alpaca_sim.testing import wait_filled
from tradebus_contracts.rpc import LedgerPositionsReply
from tradectl.testing import (
    TRADECTL,
    clean,
    corporate_action,
    eventually,
    figures,
    ledger,
    ledger_holds,
    lots,
    open_position,
    out_of_step,
    pin,
    position,
    positions_stack,
    stored,
    stored_at_least,
    sync,
    trade,
    wait_for_reference_data,
)

pytestmark = pytest.mark.integration
D = Decimal
STACK_ENV = {
    "POSITION_SYNC_POLICY": "adopt",
    "POSITION_SYNC_INTERVAL_S": "3600",  # no scheduled sync while the tests run: each test asks for its own
    "POSITION_SYNC_MIN_GAP_S": "1",
    "POSITION_SYNC_SETTLE_S": "0",
    "POSITION_SYNC_TICK_S": "0.2",
    "POSITION_HISTORY_RETRY_S": "1",
    "GATEWAY_ACTIVITY_INTERVAL_S": "1",
}


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, str]]:
    """One `tradectl up` for the module, its services started with ``STACK_ENV``; yields endpoints.json."""
    with positions_stack(STACK_ENV) as endpoints:
        yield endpoints


# --- the scenarios -----------------------------------------------------------------------------------------------


async def test_ledger_when_buys_and_a_partial_sell_fill_at_the_broker_then_fifo_lots_and_realized_pl_match_the_table(
        stack):
    nats_url, broker_url = stack["nats_url"], stack["broker_url"]
    await wait_for_reference_data(nats_url, "JPM")

    # order        fill                  FIFO lots after                      realized
    # buy 10       10 @ 200.00 (ask)     10 @ 200                             0
    # buy 5         5 @ 210.00 (ask)     10 @ 200, 5 @ 210                    0
    # sell 12      12 @ 220.00 (bid)     3 @ 210 (the 10, then 2 of the 5)    10 × 20 + 2 × 10 = 220
    # Alpaca's intraday average: (2000 + 1050) / 15 = 203.333…, kept by the sell.
    # Each order is sent the moment the previous one's fill is on the bus, as a trader sells what the ticket shows
    # filled: the sell must not be refused because risk's fill consumer has not handled the buy's fill yet.
    for bid, ask_price, side, qty in (("199.98", "200.00", "buy", "10"), ("209.98", "210.00", "buy", "5"),
                                      ("220.00", "220.02", "sell", "12")):
        await pin(broker_url, "JPM", bid, ask_price)
        fills = await trade(nats_url, "JPM", side, qty)
        assert sum(f.qty for f in fills) == D(qty)
        assert {f.price for f in fills} == {D(ask_price if side == "buy" else bid)}

    held = await ledger_holds(nats_url, "JPM", "3")
    reply = await sync(nats_url)

    assert lots(held) == [(D(3), D(210), D(630))]
    assert (held.avg_cost, held.cost_basis, held.realized_pl) == (D(210), D(630), D(220))
    assert held.broker_avg_entry_price == D("203.333333")
    assert await out_of_step(nats_url, reply, "JPM") == []


async def test_sync_when_a_position_is_opened_at_the_broker_outside_tradebus_then_one_drift_is_adopted_and_next_is_clean(
        stack):
    nats_url, broker_url = stack["nats_url"], stack["broker_url"]
    await pin(broker_url, "KO", "59.98", "60.00")
    broker = TradingClient("outside-key", "outside-secret", paper=True, url_override=broker_url)
    order = await asyncio.to_thread(broker.submit_order, MarketOrderRequest(
        symbol="KO", qty=7, side=OrderSide.BUY, time_in_force=TimeInForce.DAY))
    await asyncio.to_thread(wait_filled, broker, order.id)

    first = await sync(nats_url)
    drifts = await stored_at_least(nats_url, "positions.drift", "KO", 1)
    reconciled = await stored_at_least(nats_url, "positions.reconciled", "KO", 1)
    second = await sync(nats_url)
    held = position(await ledger(nats_url), "KO")

    assert first.ok and first.drifts == ["KO"], first
    assert first.started_at <= drifts[0].detected_at <= first.finished_at
    assert [(d.ledger_qty, d.broker_qty, d.qty_diff, d.broker_cost_basis, d.policy, d.severity) for d in drifts] == \
        [(D(0), D(7), D(7), D(420), "adopt", "critical")]
    assert [(r.qty, r.cost_basis, r.resolution, r.drift_event_id) for r in reconciled] == \
        [(D(7), D(420), "adopted_broker_qty", drifts[0].event_id)]
    assert clean(second), second
    assert await stored(nats_url, "positions.drift", "KO") == drifts  # still the one: the next sync found nothing
    assert held is not None and (held.qty, held.cost_basis, held.realized_pl) == (D(7), D(420), D(0))


async def test_ledger_when_split_4_for_1_then_reverse_1_for_20_then_lots_scale_with_basis_kept_and_sync_is_clean(
        stack):
    nats_url, broker_url = stack["nats_url"], stack["broker_url"]
    await wait_for_reference_data(nats_url, "XOM")
    for bid, ask_price, qty in (("99.98", "100.00", "10"), ("119.98", "120.00", "6")):
        await pin(broker_url, "XOM", bid, ask_price)
        await trade(nats_url, "XOM", "buy", qty)
    await ledger_holds(nats_url, "XOM", "16")

    forward = await corporate_action(broker_url, type="split", symbol="XOM", new_rate="4", old_rate="1")
    after_forward = await ledger_holds(nats_url, "XOM", "64")
    reverse = await corporate_action(broker_url, type="split", symbol="XOM", new_rate="1", old_rate="20")
    after_reverse = await ledger_holds(nats_url, "XOM", "3.2")
    reply = await sync(nats_url)
    applied = await stored_at_least(nats_url, "positions.corporate_action", "XOM", 2)

    assert (forward["position_qty"], reverse["position_qty"]) == ("64", "3.2")
    # 10 @ 100 and 6 @ 120 (basis 1000 + 720): × 4 → 40 @ 25 and 24 @ 30; ÷ 20 → 2 @ 500 and 1.2 @ 600
    assert lots(after_forward) == [(D(40), D(25), D(1000)), (D(24), D(30), D(720))]
    assert lots(after_reverse) == [(D(2), D(500), D(1000)), (D("1.2"), D(600), D(720))]
    assert (after_reverse.cost_basis, after_reverse.broker_avg_entry_price) == (D(1720), D("537.5"))
    assert [(a.action, a.ratio, a.qty_before, a.qty_after, a.cost_basis_before, a.cost_basis_after) for a in applied] \
        == [("split", D(4), D(16), D(64), D(1720), D(1720)), ("split", D("0.05"), D(64), D("3.2"), D(1720), D(1720))]
    assert await out_of_step(nats_url, reply, "XOM") == []


async def test_income_when_a_cash_dividend_is_paid_at_the_broker_then_it_lands_in_the_income_ledger(stack):
    nats_url, broker_url = stack["nats_url"], stack["broker_url"]
    await open_position(stack, "PFE", "27.98", "28.00", "buy", "40")
    dividends_before = (await ledger(nats_url)).totals.dividends

    paid = await corporate_action(broker_url, type="dividend", symbol="PFE", rate="0.43")

    async def dividend_booked() -> LedgerPositionsReply | None:
        reply = await ledger(nats_url)
        return reply if reply.totals.dividends != dividends_before else None

    after = await eventually(dividend_booked, "the dividend in the income ledger")
    applied = await stored_at_least(nats_url, "positions.corporate_action", "PFE", 1)
    held = position(after, "PFE")

    assert D(paid["net_amount"]) == D("17.20")  # 40 × 0.43
    assert after.totals.dividends - dividends_before == D("17.20")
    assert [(a.action, a.cash_per_share, a.cash_amount, a.qty_before, a.qty_after) for a in applied] == \
        [("dividend", D("0.43"), D("17.20"), D(40), D(40))]
    assert held is not None and (held.qty, held.cost_basis, held.realized_pl) == (D(40), D(1120), D(0))
    assert clean(await sync(nats_url))


async def test_ledger_when_a_short_position_splits_2_for_1_then_its_lots_scale_with_basis_kept_and_sync_is_clean(
        stack):
    nats_url, broker_url = stack["nats_url"], stack["broker_url"]
    await open_position(stack, "F", "11.00", "11.02", "sell", "10")

    await corporate_action(broker_url, type="split", symbol="F", new_rate="2", old_rate="1")
    after = await ledger_holds(nats_url, "F", "-20")
    reply = await sync(nats_url)
    applied = await stored_at_least(nats_url, "positions.corporate_action", "F", 1)

    # short 10 @ 11.00 (basis −110) → short 20 @ 5.50, basis −110
    assert lots(after) == [(D(-20), D("5.5"), D(-110))]
    assert [(a.ratio, a.qty_before, a.qty_after, a.cost_basis_before, a.cost_basis_after) for a in applied] == \
        [(D(2), D(-10), D(-20), D(-110), D(-110))]
    assert await out_of_step(nats_url, reply, "F") == []


async def test_ledger_when_a_short_position_changes_its_symbol_then_its_lots_move_to_the_new_symbol_and_sync_is_clean(
        stack):
    nats_url, broker_url = stack["nats_url"], stack["broker_url"]
    await open_position(stack, "BAC", "40.00", "40.02", "sell", "10")

    await corporate_action(broker_url, type="name_change", symbol="BAC", new_symbol="BACX")

    async def applied_on_either() -> list[Any]:  # the event is published once the ledger has changed
        return [e for s in ("BAC", "BACX") for e in await stored(nats_url, "positions.corporate_action", s)]

    applied = await eventually(applied_on_either, "the CorporateActionApplied of the symbol change")
    after = await ledger(nats_url)
    reply = await sync(nats_url)

    assert [(a.symbol, a.new_symbol, a.qty_before, a.qty_after) for a in applied] == [("BAC", "BACX", D(-10), D(-10))]
    assert position(after, "BAC") is None
    moved = position(after, "BACX")
    assert moved is not None and lots(moved) == [(D(-10), D(40), D(-400))]
    assert clean(reply), reply


def tradectl_sync(stack: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`tradectl sync` against this stack, as an operator runs it."""
    return subprocess.run([TRADECTL, "sync", *args, "--home", stack["home"]], capture_output=True, text=True,
                          timeout=60)


async def test_rebuild_when_run_twice_through_tradectl_then_the_same_lots_and_the_second_changes_nothing(stack):
    nats_url, broker_url = stack["nats_url"], stack["broker_url"]
    await wait_for_reference_data(nats_url, "WMT")
    # buy 6 @ 80, buy 4 @ 82, sell 5 @ 85: FIFO leaves 1 @ 80 and 4 @ 82, realized 5 × 5 = 25
    for bid, ask_price, side, qty in (("79.98", "80.00", "buy", "6"), ("81.98", "82.00", "buy", "4"),
                                      ("85.00", "85.02", "sell", "5")):
        await pin(broker_url, "WMT", bid, ask_price)
        await trade(nats_url, "WMT", side, qty)
    await ledger_holds(nats_url, "WMT", "5")
    before = await ledger(nats_url)

    once = await asyncio.to_thread(tradectl_sync, stack, "--rebuild")
    after_once = await ledger(nats_url)
    twice = await asyncio.to_thread(tradectl_sync, stack, "--rebuild")
    after_twice = await ledger(nats_url)

    assert (once.returncode, twice.returncode) == (0, 0), (once.stdout + once.stderr, twice.stdout + twice.stderr)
    wmt = position(after_once, "WMT")
    assert wmt is not None and lots(wmt) == [(D(1), D(80), D(80)), (D(4), D(82), D(328))] and wmt.realized_pl == D(25)
    assert figures(after_once, exact_lots=False) == figures(before, exact_lots=False)  # every symbol the module
    assert figures(after_twice, exact_lots=True) == figures(after_once, exact_lots=True)  # traded, not only WMT
    assert after_twice.totals.dividends == after_once.totals.dividends == before.totals.dividends
    assert not any(p.drift for p in after_twice.positions)
