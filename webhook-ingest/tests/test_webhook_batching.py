"""Opportunistic batching with a fake round trip: a lone call goes at once, calls that arrive during a round trip share
the next one, each caller gets its own result or the failure of its own batch."""

from __future__ import annotations

import asyncio

import pytest

from webhook_ingest.batching import Batcher


class FakeRoundTrip:
    """Answers each item doubled; holds every flush until `release`; can fail the next flush."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.fail_next = False

    async def flush(self, items):
        self.batches.append(list(items))
        await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise ConnectionResetError("database went away")
        return [item * 2 for item in items]


async def test_submit_when_alone_then_flushed_at_once_as_a_batch_of_one():
    trip = FakeRoundTrip()
    trip.gate.set()

    assert await Batcher(trip.flush).submit(21) == 42
    assert trip.batches == [[21]]


async def test_submit_when_calls_arrive_during_a_round_trip_then_they_share_the_next_one_in_order():
    trip = FakeRoundTrip()
    batcher = Batcher(trip.flush)
    first = asyncio.create_task(batcher.submit(1))
    await asyncio.sleep(0)  # the first flush is now in flight
    later = [asyncio.create_task(batcher.submit(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0)

    trip.gate.set()

    assert [await first, *[await task for task in later]] == [2, 4, 6, 8]
    assert trip.batches == [[1], [2, 3, 4]]


async def test_submit_when_more_wait_than_a_batch_holds_then_split_at_the_maximum():
    trip = FakeRoundTrip()
    batcher = Batcher(trip.flush, max_batch=2)
    tasks = [asyncio.create_task(batcher.submit(n)) for n in range(5)]
    trip.gate.set()

    assert await asyncio.gather(*tasks) == [0, 2, 4, 6, 8]
    assert trip.batches == [[0, 1], [2, 3], [4]]


async def test_submit_when_a_round_trip_fails_then_its_callers_get_the_error_and_the_next_batch_still_runs():
    trip = FakeRoundTrip()
    batcher = Batcher(trip.flush)
    trip.fail_next = True
    doomed = asyncio.create_task(batcher.submit(1))
    await asyncio.sleep(0)
    fine = asyncio.create_task(batcher.submit(2))
    trip.gate.set()

    with pytest.raises(ConnectionResetError):
        await doomed
    assert await fine == 4


async def test_submit_when_the_batcher_is_cancelled_mid_flush_then_no_caller_waits_forever():
    trip = FakeRoundTrip()
    batcher = Batcher(trip.flush)
    waiting = [asyncio.create_task(batcher.submit(n)) for n in (1, 2)]
    await asyncio.sleep(0)

    batcher._running.cancel()  # what the event loop's shutdown does to a running task

    for task in waiting:
        with pytest.raises(ConnectionAbortedError):
            await task


async def test_submit_when_the_round_trip_answers_the_wrong_number_of_results_then_callers_fail_and_it_recovers():
    answers = [[1, 2, 3], [8]]

    async def broken_then_fine(items):
        return answers.pop(0)

    batcher = Batcher(broken_then_fine)

    with pytest.raises(RuntimeError, match="3 results for 1 items"):
        await batcher.submit(1)
    assert await batcher.submit(4) == 8
