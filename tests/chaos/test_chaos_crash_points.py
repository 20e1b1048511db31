"""kill -9 at the gateway's three hardest moments, every few orders, in both replicas: with the pending row
committed and nothing sent (``gateway.before_post``), with the broker holding the order and nothing recorded
(``gateway.after_post``), and with everything recorded but the approval not acked (``gateway.before_ack``) — and risk between storing its decisions and publishing them
(``risk.before_publish``), runtime/crashpoints.py, armed through ``TRADEBUS_CRASH_POINTS``. Proves each is picked up by a redelivery (to
either replica) that asks the broker before sending: exactly one broker order per approval, nothing pending,
every execution counted once, and a halt sent meanwhile stopping every submit after it."""

import pytest

from tradebus_runtime.crashpoints import CRASH_POINTS_ENV

pytestmark = pytest.mark.integration

GATEWAY_POINTS = {"gateway.before_post": 7, "gateway.after_post": 9, "gateway.before_ack": 11}
RISK_POINTS = {"risk.before_publish": 13}


def armed(points: dict[str, int]) -> dict[str, str]:
    """The process dies (SIGKILL to itself) at each point, every N-th pass of it in a life."""
    return {CRASH_POINTS_ENV: ",".join(f"{name}:{every}" for name, every in points.items())}


@pytest.fixture
def gateway_env():
    return armed(GATEWAY_POINTS)


@pytest.fixture
def risk_env():
    return armed(RISK_POINTS)


async def test_orders_when_a_gateway_dies_before_the_post_after_it_and_before_the_ack_then_each_approval_is_one_broker_order(
        rig, new_storm, chaos_orders):
    storm = new_storm("kill -9 at fixed points", rig)

    async def faults(storm, duration):
        return None  # the crash points are the faults

    await storm.run(chaos_orders, faults)
    verdict = await storm.verdict()

    storm.assert_guarantees(verdict)
    crashed = rig.supervisor.crash_point_deaths()
    assert crashed >= 3, f"the crash points struck {crashed} times: the storm proved little"
