import pytest

from tradebus_contracts import decode_event
from tradebus_runtime import outbox as outbox_mod
from tradebus_runtime.bus import Bus, connect, ensure_streams
from tradebus_runtime.db import open_database
from tradebus_runtime.outbox import Outbox

pytestmark = pytest.mark.integration


@pytest.fixture
async def parts(nats_url, database_url):
    nc = await connect(nats_url, "test")
    bus = Bus(nc, "svc")
    await ensure_streams(bus.js)
    pool = await open_database(database_url, "svc-outbox", None)
    async with pool.acquire() as conn:
        await outbox_mod.ensure_outbox(conn)
    yield bus, pool
    await pool.close()
    await nc.drain()


async def stream_order_ids(bus):
    sub = await bus.js.pull_subscribe("orders.requested.*", stream="ORDERS")
    msgs = await sub.fetch(10, timeout=2)
    return [decode_event(m.data).order_id for m in msgs]


async def unpublished(pool):
    return await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")


async def test_outbox_when_committed_then_published_in_commit_order_and_marked(parts, order_requested):
    bus, pool = parts
    box = Outbox(pool, bus)
    first, second = order_requested(), order_requested()
    async with pool.acquire() as conn, conn.transaction():
        await outbox_mod.add(conn, first)  # e.g. a crash left this one unpublished
    async with pool.acquire() as conn, conn.transaction():
        await outbox_mod.add(conn, second)

    await box.publish_now([second])  # not known to be clean: it flushes the table, oldest first

    assert await stream_order_ids(bus) == [first.order_id, second.order_id]
    assert await unpublished(pool) == 0


async def test_outbox_when_clean_then_new_events_are_published_without_reading_them_back(parts, order_requested):
    bus, pool = parts
    box = Outbox(pool, bus)
    await box.flush()  # nothing waiting: clean
    event = order_requested()
    async with pool.acquire() as conn, conn.transaction():
        await outbox_mod.add(conn, event)

    await box.publish_now([event])

    assert await stream_order_ids(bus) == [event.order_id]
    assert await unpublished(pool) == 0
