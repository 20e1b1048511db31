"""A durable consumer after a NATS restart handles new messages within about a second. The pull request sent before
the restart is still served by the new server, and a fetch that got a message on it waits for the rest of its batch
until the request expires: with the old 5 s fetch, risk decided nothing for seconds after a restart (the chaos
suite's NATS storm saw every order of that window rejected by a halt sent later)."""

import asyncio

import pytest

from tradebus_runtime.bus import Bus, Consumer, ConsumerSpec, connect, ensure_streams

pytestmark = pytest.mark.integration


async def test_consumer_when_nats_restarts_then_a_message_published_after_the_reconnect_is_handled_at_once(
        own_nats, order_requested, wait_for):
    nc = await connect(own_nats.url, "consumer")
    bus = Bus(nc, "test-service")
    await ensure_streams(bus.js)
    seen = []

    async def handler(event, msg):
        seen.append(event.order_id)

    consumer = Consumer(bus, ConsumerSpec(stream="ORDERS", durable="reconnect", filter_subjects=("orders.requested.*",)),
                        handler)
    await consumer.start()
    try:
        first = order_requested()
        await bus.publish(first)
        await wait_for(lambda: first.order_id in seen, timeout=5)  # handled: a fresh pull request is out now

        own_nats.stop()
        await wait_for(lambda: not nc.is_connected, timeout=5)
        own_nats.start()
        await wait_for(lambda: nc.is_connected, timeout=10)
        second = order_requested()
        await bus.publish(second)
        loop = asyncio.get_running_loop()
        published = loop.time()
        await wait_for(lambda: second.order_id in seen, timeout=10)

        assert loop.time() - published < 2.5, "the consumer sat on its pull request from before the restart"
    finally:
        await consumer.stop()
        await nc.close()
