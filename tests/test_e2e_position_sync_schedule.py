"""position-sync's own schedule through the whole stack as `make up` runs it (real NATS, PostgreSQL, the gateway talking
to alpaca-sim, position-sync-service), with a sync interval of 2 s and the simulator's clock read every second: while
the market is open a sync runs every interval; closed at the simulator, one after-close sync and then none; reopened,
they resume. A kill -9 of position-sync while its sync waits for the broker, and the restart `tradectl up` makes,
change nothing in the ledger and leave nothing to reconcile; a replay of the whole broker-activity feed (every message
on `broker.activities.>` published again) changes nothing either (issue 12, "Done when").

Apart from tests/test_e2e_positions.py, whose tests ask for each sync themselves and would race a periodic one (its
drift test must see its drift in the sync it asks for): here syncs run on their own, and each test trades its own
symbol. Policy `alert`: a drift would be published and nothing adopted, so a restart or a replay that moved the
ledger shows in its figures, not hidden by an adjustment.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import nats
import psutil
import pytest
from nats.js.errors import NotFoundError

from tradebus_contracts.consumers import LEDGER_ACTIVITIES
from tradebus_contracts.subjects import ACTIVITIES, GATEWAY_POSITIONS
from tradectl.testing import (
    corporate_action,
    eventually,
    figures,
    ledger,
    ledger_holds,
    open_position,
    out_of_step,
    pin,
    positions_stack,
    set_market,
    simulator_admin,
    stored,
    stored_at_least,
    sync,
    synced,
    trade,
)

pytestmark = pytest.mark.integration
D = Decimal
INTERVAL_S = 2.0
STACK_ENV = {
    "POSITION_SYNC_INTERVAL_S": str(INTERVAL_S),
    # a split reaches the ledger a second or two after the broker's position (the gateway reads activities every
    # second): a sync in between suspects it, and the confirming read 3 s later finds the two agreeing
    "POSITION_SYNC_MIN_GAP_S": "3",
    "POSITION_SYNC_TICK_S": "0.2",
    "POSITION_HISTORY_RETRY_S": "1",
    "GATEWAY_ACTIVITY_INTERVAL_S": "1",
    "GATEWAY_CLOCK_INTERVAL_S": "1",  # the simulator's clock reaches REFDATA within a second (default 60)
}
BROKER_READ_DELAY_MS = 4000  # position-sync waits this long for the broker's positions (it gives up after 10 s)


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, str]]:
    """One `tradectl up` for the module, its services started with ``STACK_ENV``; yields endpoints.json."""
    with positions_stack(STACK_ENV) as endpoints:
        yield endpoints


# --- watching position-sync --------------------------------------------------------------------------------------


def reasons(home: str, since: int) -> list[str]:
    """Why each sync logged after the first ``since`` ran (``interval``, ``after_close``, ``start``, ``on_demand``)."""
    return [e["reason"] for e in synced(home)[since:]]


async def syncs_for(home: str, since: int, reason: str, count: int, timeout: float) -> list[dict[str, Any]]:
    """The log's ``positions.synced`` events after the first ``since``, once ``count`` of them ran for ``reason``."""
    async def probe() -> list[dict[str, Any]]:
        events = synced(home)[since:]
        return events if sum(e["reason"] == reason for e in events) >= count else []

    return await eventually(probe, f"{count} sync(s) for {reason!r} (so far {reasons(home, since)})", timeout)


def spacing(events: list[dict[str, Any]]) -> list[float]:
    """Seconds between consecutive log events."""
    times = [datetime.fromisoformat(e["timestamp"]) for e in events]
    return [(later - earlier).total_seconds() for earlier, later in zip(times, times[1:])]


def position_sync_process(stack: dict[str, str]) -> psutil.Process:
    """This stack's position-sync-service: the child of its own `tradectl up` (the runner restarts it under a new
    pid), never another stack's."""
    children = psutil.Process(int(stack["up_pid"])).children(recursive=True)
    found = [p for p in children if any(part.endswith("/position-sync-service") for part in p.cmdline())]
    assert len(found) == 1, f"position-sync-service processes of this stack: {found}"
    return found[0]


async def restarted(stack: dict[str, str], old_pid: int, since: int) -> dict[str, Any]:
    """The ``start`` sync of the position-sync that `tradectl up` started again after ``old_pid`` died."""
    async def probe() -> dict[str, Any] | None:
        starts = [e for e in synced(stack["home"])[since:] if e["reason"] == "start"]
        return starts[0] if starts and position_sync_process(stack).pid != old_pid else None

    return await eventually(probe, "position-sync restarted and its start sync", 30)


async def broker_read_asked(nats_url: str, ready: asyncio.Event, asked: asyncio.Event, done: asyncio.Event) -> None:
    """Sets ``asked`` whenever position-sync asks the gateway for the broker's positions (its sync then waits for the
    answer), until ``done``; ``ready`` once listening. It keeps listening after an ask: the caller clears ``asked`` to
    wait for the next one (stopping at the first let a sync that came before the clear end the listening)."""
    nc = await nats.connect(nats_url)
    try:
        async def on(_msg) -> None:
            asked.set()

        await nc.subscribe(GATEWAY_POSITIONS, cb=on)
        await nc.flush()
        ready.set()
        await done.wait()
    finally:
        await nc.drain()


# --- the activity feed -------------------------------------------------------------------------------------------


async def republish_activities(nats_url: str) -> tuple[list[str], int]:
    """Publish every message stored on ``broker.activities.>`` again, byte for byte with its headers, under a new
    ``Nats-Msg-Id`` each (the same one would be dropped by JetStream as a duplicate). Returns the subjects replayed
    and the stream sequence of the last copy."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        last = (await js.stream_info(LEDGER_ACTIVITIES.stream)).state.last_seq
        originals, seq = [], 0
        while True:  # all of them first: the copies land after ``last`` and are not read again
            try:
                msg = await js.get_msg(LEDGER_ACTIVITIES.stream, seq=seq + 1, subject=f"{ACTIVITIES}.>", next=True)
            except NotFoundError:
                break
            if msg.seq > last:
                break
            originals.append(msg)
            seq = msg.seq
        copy_seq = 0
        for msg in originals:
            headers = {**(msg.headers or {}), "Nats-Msg-Id": str(uuid.uuid4())}
            copy_seq = (await js.publish(msg.subject, msg.data, headers=headers)).seq
        return [m.subject for m in originals], copy_seq
    finally:
        await nc.drain()


async def activities_handled(nats_url: str, through_seq: int) -> None:
    """Until position-sync's activity consumer has acknowledged everything up to ``through_seq``."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()

        async def probe() -> bool:
            info = await js.consumer_info(LEDGER_ACTIVITIES.stream, LEDGER_ACTIVITIES.name)
            return info.num_pending == 0 and info.num_ack_pending == 0 and info.ack_floor.stream_seq >= through_seq

        await eventually(probe, "position-sync to take in the replayed activities")
    finally:
        await nc.drain()


# --- the scenarios -----------------------------------------------------------------------------------------------


async def test_schedule_when_open_then_a_sync_every_interval_closed_one_after_close_then_none_reopened_they_resume(
        stack):
    home, broker_url = stack["home"], stack["broker_url"]
    open_at = len(synced(home))
    while_open = await syncs_for(home, open_at, "interval", 3, timeout=4 * INTERVAL_S)

    try:
        await set_market(broker_url, False)
        closed_at = len(synced(home))
        closing = await syncs_for(home, closed_at, "after_close", 1, timeout=5)
        await asyncio.sleep(3 * INTERVAL_S + 0.5)  # three intervals, and 30 of the scheduler's looks at the clock
        while_closed = reasons(home, closed_at)
    finally:
        await set_market(broker_url, True)
    reopened_at = len(synced(home))
    reopened = await syncs_for(home, reopened_at, "interval", 2, timeout=3 * INTERVAL_S + 1)

    interval_syncs = [e for e in while_open if e["reason"] == "interval"]
    assert all(INTERVAL_S - 0.3 <= gap <= INTERVAL_S + 1 for gap in spacing(interval_syncs)), spacing(interval_syncs)
    # the close reaches position-sync by the gateway's next clock read: an interval sync may run before it does
    before_close = [e["reason"] for e in closing[:-1]]
    assert before_close in ([], ["interval"]), closing
    assert while_closed == [*before_close, "after_close"]  # and nothing for three intervals after it
    assert reasons(home, reopened_at)[:2] == ["interval", "interval"], reopened


async def test_sync_when_position_sync_is_killed_while_it_waits_for_the_broker_then_its_restart_changes_nothing(stack):
    nats_url, broker_url, home = stack["nats_url"], stack["broker_url"], stack["home"]
    await open_position(stack, "DIS", "99.98", "100.00", "buy", "10")
    await pin(broker_url, "DIS", "105.00", "105.02")
    await trade(nats_url, "DIS", "sell", "4")
    held = await ledger_holds(nats_url, "DIS", "6")
    before = await ledger(nats_url)
    old = position_sync_process(stack)

    ready, asked, done = asyncio.Event(), asyncio.Event(), asyncio.Event()
    listening = asyncio.create_task(broker_read_asked(nats_url, ready, asked, done))
    try:
        await ready.wait()
        await simulator_admin(broker_url, "POST", "/admin/faults",
                              {"method": "GET", "path": "/v2/positions", "delay_ms": BROKER_READ_DELAY_MS, "times": 0})
        await asyncio.sleep(0.1)
        asked.clear()  # a read asked before the broker became slow is not the one to kill in
        await asyncio.wait_for(asked.wait(), 3 * INTERVAL_S)  # the next interval sync, now waiting for the broker
        killed_at = len(synced(home))
        old.kill()
        await asyncio.to_thread(old.wait, 5)
    finally:
        done.set()
        await listening
        await simulator_admin(broker_url, "DELETE", "/admin/faults")
    start = await restarted(stack, old.pid, killed_at)
    after = await ledger(nats_url)
    next_sync = await sync(nats_url)

    assert (held.realized_pl, [(lot.qty, lot.price) for lot in held.lots]) == (D(20), [(D(6), D(100))])  # 4 × 5
    assert figures(after, exact_lots=True) == figures(before, exact_lots=True)  # every symbol, lot ids and times too
    assert after.totals.dividends == before.totals.dividends
    assert (start["ok"], start["mismatched"], start["drifts"]) == (True, [], [])
    assert await out_of_step(nats_url, next_sync, "DIS") == []


async def test_replay_when_the_whole_activity_feed_is_published_again_then_the_ledger_and_the_next_sync_are_unchanged(
        stack):
    nats_url, broker_url = stack["nats_url"], stack["broker_url"]
    await open_position(stack, "INTC", "19.98", "20.00", "buy", "10")
    await corporate_action(broker_url, type="dividend", symbol="INTC", rate="0.77")
    await corporate_action(broker_url, type="split", symbol="INTC", new_rate="2", old_rate="1")
    await ledger_holds(nats_url, "INTC", "20")
    applied = await stored_at_least(nats_url, "positions.corporate_action", "INTC", 2)
    before = await ledger(nats_url)

    replayed, through_seq = await republish_activities(nats_url)
    await activities_handled(nats_url, through_seq)
    after = await ledger(nats_url)
    reply = await sync(nats_url)

    assert {s for s in replayed if s.endswith(".INTC")} >= {f"{ACTIVITIES}.DIV.INTC", f"{ACTIVITIES}.SPLIT.INTC"}
    assert [(a.action, a.qty_before, a.qty_after, a.cash_amount) for a in applied] == \
        [("dividend", D(10), D(10), D("7.70")), ("split", D(10), D(20), None)]
    assert figures(after, exact_lots=True) == figures(before, exact_lots=True)
    assert after.totals.dividends == before.totals.dividends
    assert await stored(nats_url, "positions.corporate_action", "INTC") == applied  # each action applied once
    assert await out_of_step(nats_url, reply, "INTC") == []
