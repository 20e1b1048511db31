"""The polling budget (issue 11, finding 7: polling spent ~30 calls a minute per resting order): one list call covers
every open order, at the resting interval once all rest and at the poll interval while one is fresh; no lookup of an
order the list holds. So what polling costs does not grow with the number of resting orders. A fake broker counts
the calls; a fake clock makes a minute pass at once."""

from dataclasses import replace
from datetime import timedelta

import pytest

from order_gateway import followers
from order_gateway.context import Context
from order_gateway.followers import Poller

from .builders import order_row
from .fakes import START, FakeBroker, FakeClock, alpaca_order

POLL_S, RESTING_S = 2.0, 15.0


def resting_orders(broker: FakeBroker, n: int, *, submitted_ago: timedelta) -> list:
    """``n`` submitted orders the broker holds open, unfilled, as our rows record them."""
    rows = []
    for _ in range(n):
        row = order_row()
        row = replace(row, broker_order_id=f"b-{row.order_id}", created_at=START - submitted_ago)
        broker.holds(alpaca_order(row.client_order_id, broker_order_id=row.broker_order_id, status="new"))
        rows.append(row)
    return rows


def a_poller(broker: FakeBroker, clock: FakeClock, rows: list, monkeypatch) -> Poller:
    """A poller whose store holds ``rows`` (none failed or pending) and nothing else."""
    async def orders_to_track(pool):
        return rows

    async def not_submitted(pool, failed_within_s):
        return []

    monkeypatch.setattr(followers.store, "orders_to_track", orders_to_track)
    monkeypatch.setattr(followers.store, "not_submitted", not_submitted)
    ctx = Context(pool=None, broker=broker, outbox=None, clock=clock, group=None)  # type: ignore[arg-type]
    return Poller(ctx, POLL_S, fresh_for_s=30, sweep_after_s=10, landing_window_s=40, resting_interval_s=RESTING_S)


async def a_minute_of_polls(poller: Poller, clock: FakeClock) -> None:
    for _ in range(int(60 / POLL_S)):
        clock.moment += timedelta(seconds=POLL_S)
        await poller.poll_once()


@pytest.mark.parametrize("resting", [1, 4, 40])
async def test_poll_when_every_order_rests_then_one_list_call_per_resting_interval_whatever_their_number(
        broker, clock, monkeypatch, resting):
    poller = a_poller(broker, clock, resting_orders(broker, resting, submitted_ago=timedelta(hours=1)), monkeypatch)

    await a_minute_of_polls(poller, clock)

    assert broker.calls == ["open_orders"] * 4  # at 2 s, 18 s, 34 s and 50 s: 60 / 15, and no lookup by id


async def test_poll_when_an_order_is_fresh_then_one_list_call_per_poll_interval_and_no_lookups(
        broker, clock, monkeypatch):
    rows = resting_orders(broker, 40, submitted_ago=timedelta(hours=1))
    rows += resting_orders(broker, 1, submitted_ago=timedelta(seconds=-60))  # stays fresh through the minute
    poller = a_poller(broker, clock, rows, monkeypatch)

    await a_minute_of_polls(poller, clock)

    assert broker.calls == ["open_orders"] * int(60 / POLL_S)


async def test_poll_when_a_tracked_order_left_the_open_list_then_only_that_one_is_looked_up(
        broker, clock, monkeypatch):
    rows = resting_orders(broker, 40, submitted_ago=timedelta(hours=1))
    broker.orders[rows[0].client_order_id]["status"] = "canceled"  # ended while we were not told
    poller = a_poller(broker, clock, rows, monkeypatch)
    followed = []

    async def follow(ctx, raw, source, execution=None, position_qty=None, row=None):
        followed.append((raw["status"], row.order_id))

    monkeypatch.setattr(followers, "follow", follow)

    await poller.poll_once()

    assert broker.calls == ["open_orders", "order"]
    assert followed[0] == ("canceled", rows[0].order_id) and len(followed) == len(rows)
