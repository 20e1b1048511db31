"""kill -9 storms: a gateway replica and the risk service die at random moments while orders flow, and come back
within a second as a supervisor brings them back. Proves that a crash anywhere — risk between its decision and its
publish, a gateway between its pending row and the POST, or after the POST before it recorded the answer — leaves
exactly one broker order per approval, no order pending, every execution counted once, and that a halt sent
meanwhile stops every submit after it."""

import asyncio

import pytest

pytestmark = pytest.mark.integration


async def test_orders_when_gateway_replicas_and_risk_are_killed_mid_storm_then_each_approval_is_one_broker_order(
        rig, new_storm, chaos_orders):
    storm = new_storm("kill -9", rig)

    async def faults(storm, duration):
        kills = max(2, round(duration / 5))
        await asyncio.gather(
            storm.each(storm.moments(kills, duration), lambda i: storm.kill9(rig.gateways[i % 2])),
            storm.each(storm.moments(max(1, kills // 2), duration), lambda i: storm.kill9(rig.risk)),
        )

    await storm.run(chaos_orders, faults)

    storm.assert_guarantees(await storm.verdict())
