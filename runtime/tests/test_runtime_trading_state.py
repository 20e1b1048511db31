"""The kill switch across a NATS restart: while NATS is away the state cannot be confirmed (callers wait), and right
after the reconnect a halt published meanwhile is what `current` answers — not the state from before the restart,
which the ordered consumer would keep for seconds."""

import asyncio
import uuid
from datetime import timedelta

import pytest

from tradebus_contracts import TradingState, TradingStateChanged, encode_event
from tradebus_runtime.bus import connect, ensure_streams
from tradebus_runtime.faults import is_transient
from tradebus_runtime.trading_state import TradingStateFollower, TradingStateUnknown
from tradectl.control import set_trading_state

pytestmark = pytest.mark.integration


@pytest.fixture
async def following(own_nats):
    """A started TradingStateFollower on its own connection to ``own_nats``: (connection, follower)."""
    nc = await connect(own_nats.url, "follower")
    await ensure_streams(nc.jetstream())
    follower = TradingStateFollower()
    await follower.start(nc)
    yield nc, follower
    await follower.stop()
    await nc.close()


async def test_current_when_nats_restarts_then_unknown_while_away_and_a_halt_sent_meanwhile_is_read_at_once(
        own_nats, following, wait_for):
    nc, follower = following
    assert await follower.current() is TradingState.ACTIVE

    own_nats.stop()
    await wait_for(lambda: not nc.is_connected, timeout=10)
    with pytest.raises(TradingStateUnknown) as away:
        await follower.current()
    own_nats.start()
    await set_trading_state(own_nats.url, TradingState.HALTED, "halted during the outage")  # another client
    await wait_for(lambda: nc.is_connected, timeout=10)

    assert is_transient(away.value)  # a message that needs the state waits; it is never dead-lettered
    assert await follower.current() is TradingState.HALTED


async def test_follower_when_a_halt_is_published_just_after_the_reconnect_then_it_is_applied_at_once(
        own_nats, following, wait_for):
    nc, follower = following
    own_nats.stop()
    await wait_for(lambda: not nc.is_connected, timeout=10)
    own_nats.start()
    await wait_for(lambda: nc.is_connected, timeout=10)
    assert await follower.current() is TradingState.ACTIVE  # read again after the reconnect: still active

    await asyncio.sleep(1.0)
    await set_trading_state(own_nats.url, TradingState.HALTED, "halted after the restart")

    # the ordered consumer took ~18 s to notice the restart and would have answered ACTIVE all that time
    await wait_for(lambda: follower.state is TradingState.HALTED, timeout=3.0)
    assert await follower.current() is TradingState.HALTED


def test_apply_when_an_older_change_arrives_after_a_newer_one_then_the_newer_stands():
    halt = TradingStateChanged(producer="tradectl", correlation_id="c", state=TradingState.HALTED, reason="halt",
                               changed_by="op")
    older = halt.model_copy(update={"event_id": uuid.uuid4(), "state": TradingState.ACTIVE,
                                    "occurred_at": halt.occurred_at - timedelta(seconds=1)})
    follower = TradingStateFollower()
    follower.apply(encode_event(halt))
    follower.apply(encode_event(older))  # e.g. a stream read answered after the subscription delivered the halt
    assert follower.state is TradingState.HALTED
