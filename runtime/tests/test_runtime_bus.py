import asyncio
import json

import pytest

from tradebus_contracts import FillReported, decode_event
from tradebus_runtime.bus import Consumer, ConsumerSpec, PoisonMessage, ensure_streams, expect

pytestmark = pytest.mark.integration


async def next_dead_letter(js, service, timeout=5.0):
    sub = await js.pull_subscribe(f"dlq.{service}", stream="DLQ")
    msgs = await sub.fetch(1, timeout=timeout)
    await msgs[0].ack()
    return decode_event(msgs[0].data)


def spec(**kw):
    base = dict(stream="ORDERS", durable="test-consumer", filter_subjects=("orders.requested.*",),
                backoff_s=(0.1, 0.1, 0.1), max_deliver=3)
    base.update(kw)
    return ConsumerSpec(**base)


async def test_ensure_streams_when_run_then_all_nine_exist_with_audit_sourcing_the_domain_streams(bus):
    await ensure_streams(bus.js)  # twice: idempotent

    names = {s.config.name for s in await bus.js.streams_info()}
    audit = await bus.js.stream_info("AUDIT")

    assert names == {"ORDERS", "RISK", "FILLS", "POSITIONS", "CONTROL", "DLQ", "BROKER", "AUDIT", "AUDIT_CHECKPOINTS"}
    assert {s.name for s in audit.config.sources} == {"ORDERS", "RISK", "FILLS", "POSITIONS", "CONTROL", "DLQ",
                                                      "BROKER"}
    assert audit.config.storage == "file"  # StorageType is a str enum


async def test_publish_when_same_event_twice_then_stream_keeps_one(bus, order_requested):
    event = order_requested()

    first = await bus.publish(event)
    second = await bus.publish(event)

    assert second.duplicate is True and first.seq == second.seq
    assert (await bus.js.stream_info("ORDERS")).state.messages == 1


async def test_consumer_when_valid_event_then_handler_gets_typed_event_and_message_is_acked(
        bus, order_requested, wait_for):
    seen = []

    async def handler(event, msg):
        seen.append(event)

    consumer = Consumer(bus, spec(), handler)
    await consumer.start()
    event = order_requested(symbol="BRK.B")
    await bus.publish(event)

    await wait_for(lambda: consumer.processed == 1)
    await consumer.stop()
    info = await bus.js.consumer_info("ORDERS", "test-consumer")

    assert seen == [event]
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_consumer_when_message_is_garbage_then_it_goes_to_dlq_with_reason_and_consumer_keeps_going(
    bus, order_requested, wait_for
):
    seen = []

    async def handler(event, msg):
        seen.append(event)

    consumer = Consumer(bus, spec(), handler)
    await consumer.start()
    await bus.js.publish("orders.requested.AAPL", b"\xff\xfenot json{", headers={"Nats-Msg-Id": "garbage-1"})
    await bus.js.publish("orders.requested.AAPL", json.dumps({"event_type": "OrderRequested"}).encode())
    await bus.publish(order_requested())

    await wait_for(lambda: consumer.processed == 1 and consumer.dead_lettered == 2)
    await consumer.stop()
    letter = await next_dead_letter(bus.js, "test-service")

    assert letter.reason.startswith("undecodable:")
    assert letter.original_subject == "orders.requested.AAPL"
    assert letter.payload_encoding == "base64"  # non-UTF-8 garbage kept losslessly
    assert len(seen) == 1


async def test_consumer_when_handler_keeps_failing_then_retried_up_to_max_deliver_then_dead_lettered(
    bus, order_requested, wait_for
):
    attempts = []

    async def handler(event, msg):
        attempts.append(msg.metadata.num_delivered)
        raise RuntimeError("database unavailable")

    consumer = Consumer(bus, spec(), handler)
    await consumer.start()
    await bus.publish(order_requested())

    await wait_for(lambda: consumer.dead_lettered == 1, timeout=10)
    await consumer.stop()
    letter = await next_dead_letter(bus.js, "test-service")

    assert attempts == [1, 2, 3]
    assert "handler failed 3 times" in letter.reason


async def test_consumer_when_handler_declares_poison_then_dead_lettered_at_once(bus, order_requested, wait_for):
    async def handler(event, msg):
        raise PoisonMessage("symbol unknown to this handler")

    consumer = Consumer(bus, spec(), handler)
    await consumer.start()
    await bus.publish(order_requested())

    await wait_for(lambda: consumer.dead_lettered == 1)
    await consumer.stop()

    assert "poison: symbol unknown" in (await next_dead_letter(bus.js, "test-service")).reason


async def test_consumer_when_the_subject_carries_another_event_type_then_expect_dead_letters_it(
        bus, order_requested, wait_for):
    taken = []

    async def fills_only(envelope, msg):
        taken.append(expect(FillReported, envelope, msg))

    consumer = Consumer(bus, spec(), fills_only)
    await consumer.start()
    await bus.publish(order_requested(symbol="MSFT"))

    await wait_for(lambda: consumer.dead_lettered == 1)
    await consumer.stop()

    assert taken == []
    assert ("OrderRequested on orders.requested.MSFT: only FillReported belongs there"
            in (await next_dead_letter(bus.js, "test-service")).reason)


async def test_consumer_when_restarted_then_unacked_work_is_redelivered_not_lost(bus, order_requested, wait_for):
    first_run = []

    async def slow(event, msg):
        first_run.append(event)
        await asyncio.sleep(30)

    consumer = Consumer(bus, spec(ack_wait_s=0.3), slow)
    await consumer.start()
    await bus.publish(order_requested())
    await wait_for(lambda: len(first_run) == 1)
    consumer._task.cancel()  # the process dies mid-handler: no ack
    await asyncio.sleep(0)

    second_run = []

    async def fast(event, msg):
        second_run.append(event)

    again = Consumer(bus, spec(ack_wait_s=0.3), fast)
    await again.start()
    await wait_for(lambda: again.processed == 1)
    await again.stop()

    assert second_run == first_run


async def test_consumer_when_handler_outlasts_ack_wait_then_message_is_not_redelivered_meanwhile(
    bus, order_requested, wait_for
):
    deliveries = []

    async def slow(event, msg):
        deliveries.append(msg.metadata.num_delivered)
        await asyncio.sleep(1.5)  # five ack_waits: only the consumer's in-progress word keeps it in hand

    consumer = Consumer(bus, spec(ack_wait_s=0.3), slow)
    other_replica = Consumer(bus, spec(ack_wait_s=0.3), slow)
    await consumer.start()
    await other_replica.start()
    await bus.publish(order_requested())
    await wait_for(lambda: consumer.processed + other_replica.processed == 1, timeout=10)
    await asyncio.sleep(0.6)
    await consumer.stop()
    await other_replica.stop()

    assert deliveries == [1]


async def test_batch_consumer_when_outcomes_differ_then_each_message_is_settled_its_own_way(
        bus, order_requested, wait_for):
    ok, poison, flaky = order_requested(), order_requested(), order_requested()
    calls = []

    async def batch(items):
        calls.append([e.order_id for e, _ in items])
        outcomes = []
        for event, msg in items:
            if event.order_id == poison.order_id:
                outcomes.append(PoisonMessage("bad order"))
            elif event.order_id == flaky.order_id and msg.metadata.num_delivered == 1:
                outcomes.append(RuntimeError("try again"))
            else:
                outcomes.append(None)
        return outcomes

    for event in (ok, poison, flaky):
        await bus.publish(event)
    consumer = Consumer(bus, spec(), batch_handler=batch)
    await consumer.start()

    await wait_for(lambda: consumer.processed == 2 and consumer.dead_lettered == 1)
    await consumer.stop()

    assert calls[0] == [ok.order_id, poison.order_id, flaky.order_id]  # one call for the fetched batch
    assert [flaky.order_id] in calls[1:]  # only the failed one came back


def test_consumer_when_given_both_or_neither_handler_then_refused(bus):
    async def h(event, msg):
        pass

    with pytest.raises(ValueError):
        Consumer(bus, spec())
    with pytest.raises(ValueError):
        Consumer(bus, spec(), h, batch_handler=h)


async def test_consumer_when_concurrency_is_4_then_four_handlers_overlap_and_every_message_is_acked(
        bus, order_requested, wait_for):
    running, most = 0, 0
    done = []

    async def slow(event, msg):
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.2)
        running -= 1
        done.append(event.order_id)

    consumer = Consumer(bus, spec(concurrency=4), slow)
    events = [order_requested() for _ in range(10)]
    for event in events:
        await bus.publish(event)
    await consumer.start()
    try:
        await wait_for(lambda: len(done) == 10)
    finally:
        await consumer.stop()
    for _ in range(100):  # acks are sent without waiting for the server: let them land
        info = await bus.js.consumer_info("ORDERS", "test-consumer")
        if info.num_ack_pending == 0:
            break
        await asyncio.sleep(0.05)

    assert most == 4  # never more than the bound, and really at once
    assert sorted(map(str, done)) == sorted(str(e.order_id) for e in events)
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_consumer_when_concurrent_and_one_message_is_slow_then_later_ones_are_handled_meanwhile(
        bus, order_requested, wait_for):
    release = asyncio.Event()
    slow_one, later = order_requested(), [order_requested() for _ in range(5)]
    done = []

    async def handler(event, msg):
        if event.order_id == slow_one.order_id:
            await release.wait()  # e.g. a broker call held for seconds
        done.append(event.order_id)

    consumer = Consumer(bus, spec(concurrency=2), handler)
    await consumer.start()
    try:
        await bus.publish(slow_one)
        await asyncio.sleep(0.3)
        for event in later:  # each fetched into the free slot while the slow one still runs
            await bus.publish(event)
        await wait_for(lambda: len(done) == 5)
        handled_while_slow = list(done)
        release.set()
        await wait_for(lambda: len(done) == 6)
    finally:
        await consumer.stop()

    assert set(handled_while_slow) == {e.order_id for e in later}
    assert done[-1] == slow_one.order_id


def test_consumer_when_concurrent_with_a_batch_handler_then_refused(bus):
    async def batch(items):
        return [None] * len(items)

    with pytest.raises(ValueError, match="concurrency"):
        Consumer(bus, spec(concurrency=2), batch_handler=batch)
