"""NATS or PostgreSQL restarted mid-storm: the test's own server stopped (NATS: SIGTERM; PostgreSQL: fast shutdown,
every connection cut, the broker leases with them) and started again on the same port and store while orders flow.
Proves the services ride out the outage — their consumers, the kill switch read again after the reconnect, the
outbox — with exactly one broker order per approval, nothing pending, every execution counted once, and a halt
sent after the restart still stopping every submit."""

import pytest

pytestmark = pytest.mark.integration

DOWN_S = 1.0


async def storm_with_restarts(storm, orders, what, server):
    async def faults(storm, duration):
        await storm.each(storm.moments(max(1, round(duration / 20)), duration),
                         lambda i: storm.restart_server(what, server, DOWN_S))

    await storm.run(orders, faults)
    storm.assert_guarantees(await storm.verdict())


async def test_orders_when_nats_restarts_mid_storm_then_each_approval_is_one_broker_order(
        rig_own_nats, own_nats, new_storm, chaos_orders):
    await storm_with_restarts(new_storm("NATS restart", rig_own_nats), chaos_orders, "nats", own_nats)


async def test_orders_when_postgres_restarts_mid_storm_then_each_approval_is_one_broker_order(
        rig_own_postgres, own_postgres, new_storm, chaos_orders):
    await storm_with_restarts(new_storm("PostgreSQL restart", rig_own_postgres), chaos_orders, "postgres",
                              own_postgres)
