"""The broker rate limiter: background calls (polling, reference data) leave a reserve to urgent ones (submits,
cancels), so an order never queues behind a busy poller; with tokens to spare, both go at once."""

import asyncio

import pytest

from order_gateway.broker import Broker
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


async def test_broker_when_background_reads_spend_the_budget_then_the_next_read_waits_and_an_order_lookup_goes():
    """The adapter takes a token for every call: no HTTP here (the SDK's methods are replaced), only the budget."""
    broker = Broker("key", "secret", "http://127.0.0.1:9", paper=True, requests_per_min=60)  # 1 token a second
    calls: list[str] = []
    broker._client.get_account = lambda: calls.append("account") or {"id": "acct"}
    broker._client.get_order_by_client_id = lambda cid: calls.append(cid) or {"client_order_id": cid}
    try:
        for _ in range(45):  # the background share of 60 tokens: 15 stay for urgent calls
            await broker.account()

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(broker.account(), timeout=0.1)
        assert (await asyncio.wait_for(broker.order_by_client_id("tb-1"), timeout=0.1))["client_order_id"] == "tb-1"
        assert calls == ["account"] * 45 + ["tb-1"]
    finally:
        broker.close()
