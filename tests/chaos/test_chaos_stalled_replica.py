"""A replica frozen in the middle of a POST: the broker holds the POST (alpaca-sim's /admin/faults delay) and the
replica that sent it is SIGSTOPped for longer than the approvals consumer's ack_wait, so NATS hands its approvals to
the other replica, then it is SIGCONTed. Proves the per-order broker lease (order_gateway/store.py broker_lease)
keeps the other replica from posting those orders a second time — not even a POST the broker refuses as a duplicate
client_order_id (422) — besides the four guarantees of every storm."""

import pytest

from order_gateway.app import APPROVALS

pytestmark = pytest.mark.integration

HELD_MS = 3000  # the broker holds these POSTs this long (under the gateway's 10 s timeout: the answer still comes)
STALL_S = APPROVALS.ack_wait_s + 3  # frozen past ack_wait: the approvals in its hands are redelivered meanwhile


async def test_orders_when_a_replica_stalls_mid_post_past_ack_wait_then_the_other_replica_never_posts_them_again(
        rig, new_storm, chaos_orders):
    storm = new_storm("SIGSTOP past ack_wait", rig)
    stalled = []

    async def faults(storm, duration):
        for moment in storm.moments(max(1, round(duration / 20)), duration, end=0.3):
            await storm.at(moment)
            await storm.broker_fault("POST held 3 s", method="POST", path="/v2/orders", delay_ms=HELD_MS, times=2)
            holder = await storm.lease_holder()
            if holder is None:
                storm.notes.append("no replica was caught holding a broker lease: stall skipped")
                continue
            await storm.pause(holder, STALL_S)
            stalled.append(holder)

    await storm.run(chaos_orders, faults)
    verdict = await storm.verdict()

    storm.assert_guarantees(verdict, extra=[
        f"(lease) 422 duplicate client_order_id answers recorded in broker_calls: {row}"
        for row in verdict.duplicate_422])
    assert stalled, "no replica was ever stalled mid-POST: the storm proved nothing about the lease"
