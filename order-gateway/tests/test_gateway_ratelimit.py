"""The broker rate limiter: background calls (polling, reference data) leave a reserve to urgent ones (submits,
cancels), so an order never queues behind a busy poller; with tokens to spare, both go at once."""

import asyncio

import pytest

from order_gateway.ratelimit import RateLimiter


async def test_acquire_when_background_calls_reach_the_reserve_then_they_wait_and_an_urgent_call_still_goes():
    limiter = RateLimiter(6, reserve=0.5)  # 6 tokens, 3 kept for urgent calls, one more every 10 s
    for _ in range(3):
        await limiter.acquire()

    background = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.05)
    assert not background.done()  # only the reserve is left: polling waits for the refill

    await asyncio.wait_for(limiter.acquire(urgent=True), timeout=0.05)  # a submit does not
    background.cancel()


async def test_acquire_when_every_token_is_spent_then_even_an_urgent_call_waits_for_the_refill():
    limiter = RateLimiter(600, reserve=0.25)  # 10 tokens a second
    for _ in range(600):
        await limiter.acquire(urgent=True)

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(limiter.acquire(urgent=True), timeout=0.01)
    await asyncio.wait_for(limiter.acquire(urgent=True), timeout=1.0)


def test_limiter_when_configured_out_of_range_then_refused():
    with pytest.raises(ValueError):
        RateLimiter(0)
    with pytest.raises(ValueError):
        RateLimiter(60, reserve=1.0)
