"""position-sync-service against a broker (played by the test) that agrees, disagrees, fails, or holds history: a sync
publishes a PositionSnapshot per symbol from each side whose figures moved; one drift after two reads at least the gap apart, adopted
once under ``adopt``, only advised under ``reduce``; a failed or empty read concludes nothing; a kill in the middle
of a sync changes nothing; no periodic sync while the market is closed; a rebuild from the broker's FILL history
gives the live path's lots and running it twice changes nothing."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

pytestmark = pytest.mark.integration
D = Decimal


def utc_now() -> datetime:
    return datetime.now(UTC)


async def holding_ten_aapl(harness, Fills) -> None:
    await harness.publish(*Fills().order("AAPL", "buy", ("10", "100")))
    await harness.settled(lambda r: harness.table(r).get("AAPL", (0,))[0] == D(10))


async def test_sync_when_ledger_and_broker_agree_then_one_snapshot_per_symbol_from_each_side_of_the_same_read(
        harness, Fills):
    harness.start()
    await harness.healthy()
    await harness.until(lambda: len(harness.gateway.reads) >= 1, what="the start sync")
    await harness.publish(*Fills().order("AAPL", "buy", ("10", "100")), *Fills().order("MSFT", "buy", ("4", "250.5")),
                          *Fills().order("MSFT", "buy", ("1", "252.5")))
    await harness.settled(lambda r: {s: q[0] for s, q in harness.table(r).items()} == {"AAPL": D(10), "MSFT": D(5)})
    harness.gateway.positions = {"AAPL": ("10", "100"), "MSFT": ("5", "250.9")}
    harness.events.clear()

    reply = await harness.sync()
    await asyncio.sleep(0.3)

    snapshots = harness.of_type("PositionSnapshot")
    assert (reply.ok, reply.symbols_checked, reply.mismatched) == (True, 2, [])
    assert sorted((s.source, s.symbol, s.qty, s.avg_entry_price, s.cost_basis) for s in snapshots) == [
        ("broker", "AAPL", D(10), D(100), D(1000)), ("broker", "MSFT", D(5), D("250.90"), D("1254.50")),
        ("ledger", "AAPL", D(10), D(100), D(1000)), ("ledger", "MSFT", D(5), D("250.90"), D("1254.50"))]
    assert len({s.correlation_id for s in snapshots}) == 1  # all four from the sync's one read
    assert all(s.as_of <= reply.finished_at for s in snapshots)

    harness.events.clear()
    assert (await harness.sync()).ok  # nothing moved: nothing published again
    harness.gateway.positions = {"AAPL": ("10", "100"), "MSFT": ("5", "251.1")}
    await harness.sync()  # the broker's MSFT average moved (a drift suspect, not yet a drift): that one only
    await asyncio.sleep(0.3)

    assert [(s.source, s.symbol, s.avg_entry_price) for s in harness.of_type("PositionSnapshot")] == [
        ("broker", "MSFT", D("251.10"))]


async def test_drift_when_the_broker_holds_more_then_exactly_one_drift_after_two_reads_and_alert_changes_nothing(
        harness, Fills):
    harness.start()
    await harness.healthy()
    await holding_ten_aapl(harness, Fills)
    harness.gateway.positions = {"AAPL": ("12", "100")}

    reads_before = len(harness.gateway.reads)
    first = await harness.sync()
    second = await harness.sync()
    await asyncio.sleep(0.3)

    assert len(harness.gateway.reads) - reads_before == 3  # the first sync read twice, the gap apart
    assert (first.ok, first.mismatched, first.drifts) == (True, ["AAPL"], ["AAPL"])
    assert (second.ok, second.mismatched, second.drifts) == (True, ["AAPL"], [])
    [drift] = harness.of_type("PositionDrift")
    assert (drift.symbol, drift.severity, drift.ledger_qty, drift.broker_qty, drift.qty_diff, drift.policy) == (
        "AAPL", "warning", D(10), D(12), D(2), "alert")
    assert drift.first_seen_at < drift.detected_at - timedelta(seconds=0.9)
    reply = await harness.positions()
    assert harness.table(reply)["AAPL"][0] == D(10) and reply.positions[0].drift
    assert harness.of_type("PositionReconciled") == []
    assert harness.log_events("positions.drift")


async def test_drift_when_policy_is_adopt_then_reconciled_once_and_the_next_sync_is_clean(harness, Fills):
    harness.env["POSITION_SYNC_POLICY"] = "adopt"
    harness.start()
    await harness.healthy()
    await holding_ten_aapl(harness, Fills)
    harness.gateway.positions = {"AAPL": ("12", "100")}

    adopted = await harness.sync()
    clean = await harness.sync()
    await asyncio.sleep(0.3)

    assert adopted.drifts == ["AAPL"]
    assert (clean.ok, clean.mismatched, clean.drifts) == (True, [], [])
    [drift] = harness.of_type("PositionDrift")
    [reconciled] = harness.of_type("PositionReconciled")
    assert (drift.policy, reconciled.symbol, reconciled.qty, reconciled.cost_basis, reconciled.resolution) == (
        "adopt", "AAPL", D(12), D(1200), "adopted_broker_qty")
    assert reconciled.drift_event_id == drift.event_id
    reply = await harness.positions(lots=True)
    assert harness.table(reply)["AAPL"] == (D(12), D(100), D(1200), D(0))  # 2 shares at the broker's average, none realized
    assert not reply.positions[0].drift


async def test_drift_when_policy_is_reduce_then_an_advisory_alert_and_nothing_switches_trading(harness, Fills):
    harness.env["POSITION_SYNC_POLICY"] = "reduce"
    control: list[str] = []

    async def on_control(msg) -> None:
        control.append(msg.subject)

    await harness.nc.subscribe("control.>", cb=on_control)
    harness.start()
    await harness.healthy()
    await holding_ten_aapl(harness, Fills)
    harness.gateway.positions = {"AAPL": ("12", "100")}

    reply = await harness.sync()
    await asyncio.sleep(0.3)

    assert reply.drifts == ["AAPL"]
    [drift] = harness.of_type("PositionDrift")
    assert (drift.policy, drift.qty_diff) == ("reduce", D(2))
    [advised] = harness.log_events("positions.reduce_advised")
    assert (advised["symbol"], advised["advisory"], advised["recommendation"]) == (
        "AAPL", True, "tradectl halt --reducing")
    assert control == []  # position-sync switched nothing: the trading state is the operator's
    assert harness.table(await harness.positions())["AAPL"][0] == D(10) and harness.of_type("PositionReconciled") == []


async def test_read_when_the_broker_read_fails_or_lists_nothing_then_nothing_is_concluded(harness, Fills):
    harness.start()
    await harness.healthy()
    await holding_ten_aapl(harness, Fills)

    harness.gateway.positions = None
    failed = await harness.sync()
    harness.gateway.positions = {}
    empty = await harness.sync()
    await asyncio.sleep(1.2)
    empty_again = await harness.sync()
    reply = await harness.positions()

    assert (failed.ok, failed.drifts) == (False, []) and "broker unavailable" in failed.message
    assert (empty.ok, empty.drifts, empty_again.drifts) == (False, [], [])
    assert "never taken as flat" in empty.message
    assert harness.of_type("PositionDrift") == []
    assert harness.table(reply)["AAPL"][0] == D(10) and reply.last_sync_ok is False


async def test_sync_when_killed_in_the_middle_then_after_the_restart_one_drift_and_one_adoption(harness, Fills):
    harness.env.update({"POSITION_SYNC_POLICY": "adopt", "POSITION_SYNC_MIN_GAP_S": "3"})
    harness.gateway.positions = {"AAPL": ("12", "100")}
    await harness.publish(*Fills().order("AAPL", "buy", ("10", "100")))
    harness.start()  # the start sync reads, suspects AAPL and waits 3 s to read again: killed while it waits
    await harness.healthy()
    await harness.until(lambda: len(harness.gateway.reads) >= 1, what="the start sync's first read")
    await asyncio.sleep(0.5)
    assert harness.stop(signal.SIGKILL) == -signal.SIGKILL
    assert harness.of_type("PositionDrift") == []

    harness.start()
    await harness.healthy()
    await harness.until(lambda: harness.of_type("PositionReconciled"), timeout=10, what="the adoption")
    clean = await harness.sync()
    await harness.restart()
    after_restart = await harness.sync()
    await asyncio.sleep(0.3)

    assert len(harness.of_type("PositionDrift")) == 1 and len(harness.of_type("PositionReconciled")) == 1
    assert clean.drifts == after_restart.drifts == [] and after_restart.mismatched == []
    assert harness.table(await harness.positions())["AAPL"][:3] == (D(12), D(100), D(1200))


async def test_schedule_when_the_market_is_closed_then_only_the_start_sync_runs_and_open_it_syncs_on_interval(harness):
    harness.env["POSITION_SYNC_INTERVAL_S"] = "0.3"
    await harness.set_clock(is_open=False)
    harness.start()
    await harness.healthy()
    await harness.until(lambda: len(harness.gateway.reads) >= 1, what="the start sync")

    await asyncio.sleep(2.0)
    closed = len(harness.gateway.reads)
    await harness.set_clock(is_open=True)
    await asyncio.sleep(2.0)
    opened = len(harness.gateway.reads)
    await harness.set_clock(is_open=False)
    await asyncio.sleep(1.5)
    after_close = len(harness.gateway.reads)
    await asyncio.sleep(1.5)

    assert closed == 1
    assert opened - closed >= 4  # every 0.3 s while open
    assert after_close - opened <= 2  # at most one interval sync in flight, then the after-close one
    assert len(harness.gateway.reads) == after_close  # closed: nothing more
    reasons = [e["reason"] for e in harness.log_events("positions.synced")]
    assert reasons[0] == "start" and reasons[-1] == "after_close" and reasons.count("after_close") == 1


def fill_activity(activity_id: str, order_id: str, side: str, qty: str, price: str, cum_qty: str, when: datetime,
                  final: bool) -> dict:
    return {"id": f"{when:%Y%m%d%H%M%S%f}"[:17] + "::" + activity_id, "activity_type": "FILL",
            "transaction_time": when.isoformat(), "type": "fill" if final else "partial_fill", "price": price,
            "qty": qty, "side": side, "symbol": "AAPL", "leaves_qty": "0", "order_id": order_id, "cum_qty": cum_qty,
            "order_status": "filled" if final else "partially_filled"}


async def test_rebuild_when_first_started_then_lots_from_fill_history_equal_the_live_path_and_twice_changes_nothing(
        harness, Fills):
    day = utc_now() - timedelta(days=2)
    harness.gateway.history = [  # newest first, as Alpaca pages them; pages of two
        fill_activity("e-sell", "b-sell", "sell", "50", "12", "50", day + timedelta(hours=2), True),
        fill_activity("e-buy-2", "b-buy", "buy", "40", "10.50", "100", day + timedelta(minutes=1), True),
        fill_activity("e-buy-1", "b-buy", "buy", "60", "10", "60", day, False)]
    harness.start()
    await harness.healthy()
    rebuilt = await harness.settled(lambda r: harness.table(r).get("AAPL", (0,))[0] == D(50))

    # the same executions by the live path: the buy as one merged polling fill, the sell under its trade id
    live = Fills(day)
    merged = live.order("AAPL", "buy", ("100", "10.20"), broker_order_id="b-buy")
    sell = live.order("AAPL", "sell", ("50", "12"), broker_order_id="b-sell")
    await harness.publish(merged[0].model_copy(update={"execution_id": "b-buy:cum:100"}),
                          sell[0].model_copy(update={"execution_id": "e-sell"}))
    await harness.publish(*Fills().order("AAPL", "buy", ("5", "13"), broker_order_id="b-new"))  # not in the history
    live_after = await harness.settled(lambda r: harness.table(r)["AAPL"][0] == D(55))
    once = await harness.sync(rebuild=True)
    after_once = await harness.positions(lots=True)
    twice = await harness.sync(rebuild=True)
    after_twice = await harness.positions(lots=True)

    assert [(lot.lot_id, lot.qty, lot.price) for lot in rebuilt.positions[0].lots] == [
        ("e-buy-1", D(10), D(10)), ("e-buy-2", D(40), D("10.5"))]  # FIFO: the sell of 50 closed 50 of the first 60
    assert harness.table(rebuilt)["AAPL"][3] == D(100)  # 50 × (12 − 10)
    qty, _, basis, realized = harness.table(live_after)["AAPL"]
    assert (qty, basis, realized) == (D(55), D(585), D(100))  # the live repeats added nothing, the new buy did
    assert once.rebuilt and twice.rebuilt
    assert after_once.positions == after_twice.positions == live_after.positions
    assert len(harness.gateway.history_requests) == 2 * 3  # two pages, three rebuilds
