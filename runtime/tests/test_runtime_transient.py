"""Transient is not poison: a message whose handler fails because a dependency is away waits for it, however long,
and is never dead-lettered for that; bad input still is, after the allowed attempts."""

import asyncio

import asyncpg
import nats.errors
import nats.js.errors
import pytest
import requests

from tradebus_runtime.bus import (
    Ack,
    Bury,
    Consumer,
    ConsumerSpec,
    PoisonMessage,
    Retry,
    Tally,
    settle,
)
from tradebus_runtime.faults import DependencyUnavailable, is_transient
from tradebus_runtime.health import Degraded

SPEC = ConsumerSpec(stream="ORDERS", durable="t", filter_subjects=("orders.requested.*",), max_deliver=3,
                    backoff_s=(1.0, 5.0, 15.0, 60.0), transient_retry_max_s=5.0)


# --- which errors are a dependency away ----------------------------------------------------------------------


@pytest.mark.parametrize("exc", [
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
    asyncpg.exceptions.SerializationError("could not serialize access"),
    asyncpg.InterfaceError("cannot perform operation: connection is closed"),
    ConnectionRefusedError(111, "Connection refused"),
    TimeoutError(),
    nats.errors.NoRespondersError(),
    nats.errors.TimeoutError(),
    nats.errors.ConnectionClosedError(),
    nats.js.errors.ServiceUnavailableError(),
    DependencyUnavailable("broker answered 503"),
    requests.ConnectionError("broker unreachable"),
], ids=lambda e: type(e).__name__)
def test_is_transient_when_a_dependency_is_away_then_true(exc):
    assert is_transient(exc)


@pytest.mark.parametrize("exc", [
    ValueError("qty must be positive"),
    RuntimeError("handler bug"),
    KeyError("symbol"),
    asyncpg.exceptions.UniqueViolationError("duplicate key"),
    asyncpg.exceptions.DataError("invalid input syntax"),
    asyncpg.exceptions._base.DataError("invalid input for query argument $1"),  # InterfaceError subclass: misuse
    nats.js.errors.NotFoundError(),
    requests.HTTPError("422 Unprocessable", response=type("R", (), {"status_code": 422})()),
], ids=lambda e: type(e).__name__)
def test_is_transient_when_the_input_or_the_code_is_wrong_then_false(exc):
    assert not is_transient(exc)


def test_is_transient_when_raised_from_a_transient_error_then_true():
    try:
        try:
            raise ConnectionResetError("reset by peer")
        except OSError as cause:
            raise RuntimeError("could not record the fill") from cause
    except RuntimeError as exc:
        assert is_transient(exc)


# --- how one delivery is settled (pure) ----------------------------------------------------------------------


def test_settle_when_transient_failures_outnumber_max_deliver_then_it_is_still_retried_within_the_cap():
    tally, verdicts = None, []
    for delivered in range(1, 11):
        tally, verdict = settle(OSError("refused"), delivered, tally, SPEC)
        verdicts.append(verdict)

    assert all(isinstance(v, Retry) and v.transient and v.failures == 0 for v in verdicts)
    assert [v.delay_s for v in verdicts[:4]] == [1.0, 5.0, 5.0, 5.0]  # the backoff, capped at 5 s
    assert tally == Tally(baseline=0, transient=10)


def test_settle_when_a_bad_message_fails_after_an_outage_then_only_its_own_failures_count():
    tally = Tally(baseline=0, transient=7)  # seven deliveries failed while PostgreSQL was away

    tally, first = settle(RuntimeError("bug"), 8, tally, SPEC)
    tally, second = settle(RuntimeError("bug"), 9, tally, SPEC)
    tally, third = settle(RuntimeError("bug"), 10, tally, SPEC)

    assert first == Retry(1.0, transient=False, failures=1) and second == Retry(5.0, transient=False, failures=2)
    assert third == Bury("handler failed 3 times: RuntimeError: bug")


def test_settle_when_first_seen_after_a_restart_then_earlier_deliveries_are_not_held_against_it():
    _, verdict = settle(RuntimeError("bug"), 40, None, SPEC)

    assert verdict == Retry(1.0, transient=False, failures=1)


def test_settle_when_poison_or_done_then_buried_at_once_or_acked():
    assert settle(PoisonMessage("unknown symbol"), 1, None, SPEC)[1] == Bury("poison: unknown symbol")
    assert settle(None, 3, Tally(0, 2), SPEC)[1] == Ack()


def test_consumer_spec_when_configured_then_the_server_never_gives_up_on_a_message_by_itself():
    assert SPEC.config().max_deliver == -1


# --- with real NATS ------------------------------------------------------------------------------------------


@pytest.mark.integration
async def test_consumer_when_the_dependency_is_away_longer_than_max_deliver_then_the_message_waits_and_is_acked(
    bus, order_requested, wait_for
):
    outage = asyncio.Event()
    deliveries = []

    async def handler(event, msg):
        deliveries.append(msg.metadata.num_delivered)
        if not outage.is_set():
            raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")

    spec = ConsumerSpec(stream="ORDERS", durable="waits", filter_subjects=("orders.requested.*",), max_deliver=3,
                        backoff_s=(0.05,), transient_retry_max_s=0.05)
    consumer = Consumer(bus, spec, handler)
    await consumer.start()
    await bus.publish(order_requested())

    await wait_for(lambda: len(deliveries) >= 3 * spec.max_deliver, timeout=10)  # three times what bad input is allowed
    waiting = consumer.health()
    outage.set()  # PostgreSQL is back
    await wait_for(lambda: consumer.processed == 1, timeout=10)
    recovered = consumer.health()
    await consumer.stop()
    info = await bus.js.consumer_info("ORDERS", "waits")
    dlq = await bus.js.stream_info("DLQ")

    assert consumer.dead_lettered == 0 and dlq.state.messages == 0
    assert info.num_ack_pending == 0 and info.num_pending == 0 and info.ack_floor.stream_seq == 1
    assert deliveries == list(range(1, len(deliveries) + 1))  # the same message, delivered again and again
    assert isinstance(waiting, Degraded) and "waits waiting for a dependency: ConnectionDoesNotExistError" in \
        waiting.reason
    assert recovered is True


@pytest.mark.integration
async def test_batch_consumer_when_the_whole_batch_fails_transiently_then_nothing_is_dead_lettered(
    bus, order_requested, wait_for
):
    calls = []

    async def batch(items):
        calls.append(len(items))
        if len(calls) <= 6:
            raise OSError("connection refused")
        return [None] * len(items)

    spec = ConsumerSpec(stream="ORDERS", durable="waits-batch", filter_subjects=("orders.requested.*",),
                        max_deliver=2, backoff_s=(0.05,), transient_retry_max_s=0.05)
    for _ in range(3):
        await bus.publish(order_requested())
    consumer = Consumer(bus, spec, batch_handler=batch)
    await consumer.start()

    await wait_for(lambda: consumer.processed == 3, timeout=10)
    await consumer.stop()

    assert consumer.dead_lettered == 0 and (await bus.js.stream_info("DLQ")).state.messages == 0
