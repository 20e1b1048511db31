"""The broker lease (store.broker_lease) against a real PostgreSQL: one replica at a time talks to the broker about
an order; a replica that lets go, or whose database connection dies with it, frees the order at once."""

import asyncio
from uuid import uuid4

import asyncpg
import pytest

from order_gateway.store import _unlock, broker_lease
from tradebus_runtime.db import create_pool

pytestmark = pytest.mark.integration


@pytest.fixture
async def pools(database_url):
    """Two replicas' pools on the same database, made as the services make them (no reset query on release)."""
    first, second = await create_pool(database_url, "public"), await create_pool(database_url, "public")
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


async def test_lease_when_let_go_then_the_pooled_connection_keeps_no_lock(database_url):
    pool = await create_pool(database_url, "public", max_size=1)  # the lease's connection comes back next
    try:
        async with broker_lease(pool, uuid4()) as held:
            assert held
        async with pool.acquire() as conn:
            assert await conn.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()") == 0
    finally:
        await pool.close()


class _Connection:
    def __init__(self, error: BaseException) -> None:
        self.error, self.terminated = error, False

    async def execute(self, *_):
        raise self.error

    def terminate(self) -> None:
        self.terminated = True


@pytest.mark.parametrize("error", [asyncpg.InterfaceError("connection lost"), OSError("reset")])
async def test_lease_when_the_unlock_fails_then_its_connection_ends(error):
    conn = _Connection(error)
    await _unlock(conn, "order-gateway-broker:x")
    assert conn.terminated


async def test_lease_when_the_unlock_is_cancelled_then_its_connection_ends_and_the_cancel_goes_on():
    conn = _Connection(asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        await _unlock(conn, "order-gateway-broker:x")
    assert conn.terminated
