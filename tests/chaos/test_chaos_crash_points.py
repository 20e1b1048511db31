"""kill -9 at the gateway's three hardest moments, in both replicas: with the pending row committed and nothing sent
(``gateway.before_post``), with the broker holding the order and nothing recorded (``gateway.after_post``), and with
everything recorded but the approval not acked (``gateway.before_ack``) — and risk between storing its decisions and
publishing them (``risk.before_publish``); runtime/crashpoints.py, armed through ``TRADEBUS_CRASH_POINTS``. Proves
each is picked up by a redelivery (to either replica) that asks the broker before sending: exactly one broker order
per approval, nothing pending, every execution counted once, and a halt sent meanwhile stopping every submit after it.

A point counts its passes per life, and within one life the three gateway points are passed in step (every order
passes before_post, then after_post, then before_ack): armed together, only the first to reach its count would ever
strike. So each life of a gateway replica is armed at one point, the next in turn for every new life of either
replica, and dies at its ``STRIKE_AT``-th pass; the storm must have struck at each of the three. Three points need a
third life to die, and a restarted replica takes seconds to be ready on a busy machine: the halt waits until each
point has struck (the orders flowing on meanwhile, bounded: `Storm.run`), since after it nothing passes a point.
Each death is counted by the point it names as it dies (runtime/crashpoints.py), and the summary lists them."""

import itertools

import pytest

from tradebus_runtime.crashpoints import CRASH_POINTS_ENV

pytestmark = pytest.mark.integration

GATEWAY_POINTS = ("gateway.before_post", "gateway.after_post", "gateway.before_ack")
STRIKE_AT = 5  # a life dies at its 5th pass: about the 5th order a replica handles
RISK_POINTS = {"risk.before_publish": 13}


def armed(points: dict[str, int]) -> str:
    """The process dies (SIGKILL to itself) at each point, every N-th pass of it in a life."""
    return ",".join(f"{name}:{every}" for name, every in points.items())


@pytest.fixture
def gateway_arming():
    turn = itertools.cycle(GATEWAY_POINTS)
    return lambda: armed({next(turn): STRIKE_AT})


@pytest.fixture
def risk_env():
    return {CRASH_POINTS_ENV: armed(RISK_POINTS)}


async def test_orders_when_a_gateway_dies_before_the_post_after_it_and_before_the_ack_then_each_approval_is_one_broker_order(
        rig, new_storm, chaos_orders):
    storm = new_storm("kill -9 at fixed points", rig)

    async def faults(storm, duration):
        return None  # the crash points are the faults

    def every_point_struck() -> bool:
        deaths = rig.supervisor.crash_point_deaths()
        return all(deaths[point] for point in GATEWAY_POINTS)

    await storm.run(chaos_orders, faults, halt_once=every_point_struck)
    verdict = await storm.verdict()

    storm.assert_guarantees(verdict)
    deaths = rig.supervisor.crash_point_deaths()
    assert every_point_struck(), f"not every gateway point struck before the halt: {dict(deaths)}"
