"""The broker lease (store.broker_lease) against a real PostgreSQL: one replica at a time talks to the broker about
an order; a replica that lets go, or whose database connection dies with it, frees the order at once."""

import asyncio
from uuid import uuid4

import asyncpg
import pytest

from order_gateway.store import broker_lease

pytestmark = pytest.mark.integration


@pytest.fixture
async def pools(database_url):
    """Two replicas' pools on the same database."""
    first, second = await asyncpg.create_pool(database_url), await asyncpg.create_pool(database_url)
    yield first, second
    await first.close()
    await second.close()


async def test_lease_when_one_replica_holds_an_order_then_the_other_is_refused_until_it_lets_go(pools):
    replica_a, replica_b = pools
    order_id, other_order = uuid4(), uuid4()

    async with broker_lease(replica_a, order_id) as a_holds:
        async with broker_lease(replica_b, order_id) as b_holds_too, broker_lease(replica_b, other_order) as b_other:
            assert (a_holds, b_holds_too, b_other) == (True, False, True)
    async with broker_lease(replica_b, order_id) as b_holds_after:
        assert b_holds_after


async def test_lease_when_the_holder_dies_mid_call_then_the_order_is_free_at_once(pools, database_url):
    replica_a, replica_b = pools
    order_id = uuid4()

    async with broker_lease(replica_a, order_id) as a_holds:
        assert a_holds
        holder = await replica_b.fetchval(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = hashtext($1)::oid",
            f"order-gateway-broker:{order_id}")
        assert holder is not None
        killer = await asyncpg.connect(database_url)
        await killer.execute("SELECT pg_terminate_backend($1)", holder)  # kill -9 of the replica, as PG sees it
        for _ in range(200):  # terminating is asynchronous: the backend is gone a moment later
            if not await killer.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", holder):
                break
            await asyncio.sleep(0.01)
        await killer.close()
        async with broker_lease(replica_b, order_id) as b_holds:
            assert b_holds
