import asyncio

import pytest

from tradebus_contracts import decode_event, encode_event, subject_for
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
    await box.marked()

    assert await stream_order_ids(bus) == [event.order_id]
    assert await unpublished(pool) == 0


async def test_outbox_when_added_claimed_then_sent_from_memory_and_a_flush_first_keeps_commit_order(
    parts, order_requested
):
    """`Outbox.add` rows are this process's from the start: no other publisher takes them while they are being sent,
    and a flush of this process that runs before their `publish_now` publishes them in commit order, once."""
    bus, pool = parts
    seen, sub = await count_on_core_nats(bus)
    box, replica = Outbox(pool, bus), Outbox(pool, bus)
    await box.flush()
    first, second, third = order_requested(), order_requested(), order_requested()
    for event in (first, second):
        async with pool.acquire() as conn, conn.transaction():
            await box.add(conn, event)
    await add_committed(pool, [third])  # committed after them, by another writer of this process

    assert await replica.flush() == 1  # another publisher takes only the unclaimed row
    await box.flush()  # the process's own flush: its claimed rows, oldest first
    await box.publish_now([first])  # already out: nothing sent again
    async with pool.acquire() as conn, conn.transaction():
        await box.add(conn, fourth := order_requested())
    await box.publish_now([fourth])  # clean: from memory
    await box.marked()
    await bus.nc.flush()
    await asyncio.sleep(0.2)
    await sub.unsubscribe()

    assert await stream_order_ids(bus) == [third.order_id, first.order_id, second.order_id, fourth.order_id]
    assert set(seen.values()) == {1} and len(seen) == 4
    assert await unpublished(pool) == 0


async def add_committed(pool, events):
    async with pool.acquire() as conn, conn.transaction():
        await outbox_mod.add(conn, *events)


async def count_on_core_nats(bus, subject="orders.>"):
    """A core-NATS subscriber (like `tradectl tail`): counts every copy of every event it is sent."""
    seen: dict[str, int] = {}

    async def on_msg(msg):
        event_id = str(decode_event(msg.data).event_id)
        seen[event_id] = seen.get(event_id, 0) + 1

    sub = await bus.nc.subscribe(subject, cb=on_msg)
    await bus.nc.flush()
    return seen, sub


async def test_outbox_when_publish_now_and_flushes_race_over_many_rows_then_core_nats_sees_each_event_once(
    parts, order_requested
):
    bus, pool = parts
    seen, sub = await count_on_core_nats(bus)
    writer, relay, replica = Outbox(pool, bus), Outbox(pool, bus), Outbox(pool, bus)  # two processes' worth
    await writer.flush()  # clean: publish_now publishes without reading back
    events = [order_requested() for _ in range(300)]

    async def write_and_publish():
        for start in range(0, len(events), 3):
            chunk = events[start:start + 3]
            await add_committed(pool, chunk)
            await writer.publish_now(chunk)

    async def keep_flushing(box):
        while len(seen) < len(events):
            await box.flush()
            await asyncio.sleep(0)

    await asyncio.wait_for(asyncio.gather(write_and_publish(), keep_flushing(relay), keep_flushing(replica)), 60)
    await writer.marked()
    await bus.nc.flush()
    await asyncio.sleep(0.2)
    await sub.unsubscribe()

    assert set(seen) == {str(e.event_id) for e in events}
    assert {n for n in seen.values()} == {1}, {k: n for k, n in seen.items() if n > 1}
    assert await unpublished(pool) == 0


async def test_outbox_when_a_publisher_died_holding_claims_then_its_rows_go_out_once_the_claim_expires(
    parts, order_requested
):
    bus, pool = parts
    event = order_requested()
    await add_committed(pool, [event])
    await pool.execute("UPDATE outbox SET claimed_until = now() + interval '1 second', claimed_by = 'dead@host:1'")
    box = Outbox(pool, bus)

    held = await box.flush()
    await asyncio.sleep(1.1)
    after_expiry = await box.flush()

    assert (held, after_expiry) == (0, 1)
    assert await stream_order_ids(bus) == [event.order_id]


async def test_outbox_when_a_publish_fails_midway_then_what_went_out_is_marked_and_the_rest_released(
    parts, order_requested
):
    bus, pool = parts
    events = [order_requested() for _ in range(3)]
    await add_committed(pool, events)

    class FailsOnThird:
        service = "svc"

        def __init__(self):
            self.sent = []

        async def publish_encoded(self, subject, payload, event_id, **_):
            if len(self.sent) == 2:
                raise TimeoutError("nats: timeout")
            self.sent.append(event_id)
            return await bus.publish_encoded(subject, payload, event_id)

    flaky = FailsOnThird()
    with pytest.raises(TimeoutError):
        await Outbox(pool, flaky).flush()
    rows = await pool.fetch("SELECT event_id, published_at IS NOT NULL AS published, claimed_until FROM outbox "
                            "ORDER BY id")
    again = await Outbox(pool, bus).flush()  # no need to wait for a lease: the claim was given back

    assert [r["published"] for r in rows] == [True, True, False] and rows[2]["claimed_until"] is None
    assert again == 1
    assert await stream_order_ids(bus) == [e.order_id for e in events]


async def test_ensure_outbox_when_the_table_is_from_before_claims_then_columns_are_added_and_old_rows_publish(
    parts, order_requested
):
    bus, pool = parts
    event = order_requested()
    await pool.execute("DROP TABLE outbox")
    await pool.execute("""CREATE TABLE outbox (id bigserial PRIMARY KEY, event_id uuid NOT NULL UNIQUE,
                          subject text NOT NULL, payload bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
                          published_at timestamptz)""")  # the first version of the table
    await add_committed(pool, [event])

    async with pool.acquire() as conn:
        await outbox_mod.ensure_outbox(conn)
        await outbox_mod.ensure_outbox(conn)  # idempotent
    published = await Outbox(pool, bus).flush()

    assert published == 1
    assert await stream_order_ids(bus) == [event.order_id]


async def test_outbox_when_a_publish_hangs_then_a_handler_does_not_wait_behind_it_and_its_rows_go_out_after(
    parts, order_requested
):
    """A publish in flight when NATS restarts is never answered and holds the lock until its timeout: the handler
    that commits next must not wait that long (the gateway's submits stalled for 5 s after a NATS restart)."""
    bus, pool = parts
    stuck, mine = order_requested(), order_requested()
    release = asyncio.Event()

    class HangsOnce:
        service = "svc"

        def __init__(self):
            self.hung = False

        async def publish_encoded(self, subject, payload, event_id, **_):
            if not self.hung:
                self.hung = True
                await release.wait()  # e.g. the PubAck of a publish lost in a NATS restart
            return await bus.publish_encoded(subject, payload, event_id)

        async def publish(self, event, **_):
            return await self.publish_encoded(subject_for(event), encode_event(event), event.event_id)

    box = Outbox(pool, HangsOnce())
    await add_committed(pool, [stuck])
    relay = asyncio.create_task(box.flush(patient=True))  # the relay, now stuck on its publish
    await asyncio.sleep(0.1)
    await add_committed(pool, [mine])

    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(box.publish_now([mine]), 2)  # the handler's publish: handed off, not waited out
    handed_off_after = loop.time() - started
    release.set()
    await relay
    await box.flush(patient=True)  # the relay's next round

    assert handed_off_after < 1.0
    assert await stream_order_ids(bus) == [stuck.order_id, mine.order_id]  # in commit order, each once
    assert await unpublished(pool) == 0
