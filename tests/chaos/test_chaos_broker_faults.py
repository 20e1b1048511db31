"""The broker misbehaving while orders flow: 503 before the order is stored, 504 after it is stored, 500 on the
lookups by client_order_id, 429 without headers (/admin/faults) and 429 with Retry-After (Alpaca's throttle), and
POSTs held past the gateway's timeout, which the broker still carries out afterwards. Proves every ambiguous answer
is resolved by asking the broker before sending again: exactly one broker order per approval, nothing pending,
every execution counted once, and nothing submitted after a halt sent meanwhile."""

import pytest

pytestmark = pytest.mark.integration

TIMEOUT_S = 2  # the gateway's broker timeout in this storm; POSTs are held past it
HELD_MS = TIMEOUT_S * 1000 + 500


@pytest.fixture
def gateway_env():
    """Both replicas give up on a broker call after TIMEOUT_S."""
    return {"GATEWAY_BROKER_TIMEOUT_S": str(TIMEOUT_S)}


async def test_orders_when_the_broker_answers_5xx_429_and_times_out_then_each_approval_is_one_broker_order(
        rig, new_storm, chaos_orders):
    storm = new_storm("broker 5xx/429/timeouts", rig)

    async def faults(storm, duration):
        for moment in storm.moments(max(1, round(duration / 8)), duration):
            await storm.at(moment)
            await storm.broker_fault("503 before the effect", method="POST", path="/v2/orders", status=503, times=2)
            await storm.broker_fault("504 after the effect", method="POST", path="/v2/orders", status=504,
                                     after_effect=True, times=2)
            await storm.broker_fault("500 on lookups", method="GET", path="/v2/orders:by_client_order_id",
                                     status=500, times=1)
            await storm.broker_fault("429 without headers", method="POST", path="/v2/orders", status=429, times=1)
            await storm.broker_fault("POST timeout (held past it, done after)", method="POST", path="/v2/orders",
                                     delay_ms=HELD_MS, times=2)
            storm.throttle(refusals=3, retry_after_s=1)

    await storm.run(chaos_orders, faults)

    storm.assert_guarantees(await storm.verdict())
