"""A client-side token bucket: keeps the account under Alpaca's request limit (200/min by default), so a burst
waits here instead of drawing 429s. The broker adapter (broker.py) takes one token for every call it makes.

Two classes of call share the bucket. *Urgent* calls — submits, cancels and the lookups that decide them — may take
any token. *Background* calls — polling, reference data, activities — leave a reserve (a quarter of the bucket by
default) to the urgent ones: however busy the background loops get, an order never waits behind them for more than
the reserve's refill time, and a burst of orders never finds the bucket drained by polling.
"""

from __future__ import annotations

import asyncio
import time

DEFAULT_RESERVE = 0.25


class RateLimiter:
    def __init__(self, per_minute: int, *, reserve: float = DEFAULT_RESERVE) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        if not 0 <= reserve < 1:
            raise ValueError("reserve must be in [0, 1)")
        self._capacity = float(per_minute)
        self._tokens = float(per_minute)
        self._rate = per_minute / 60.0
        self._reserve = reserve * per_minute
        self._updated = time.monotonic()

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    async def acquire(self, *, urgent: bool = False) -> None:
        """Take a token, waiting for one; a background call waits until one is free beyond the urgent reserve.
        No await between the check and the take: no lock is needed, and no waiter blocks another class."""
        floor = 1.0 if urgent else 1.0 + self._reserve
        while True:
            self._refill()
            if self._tokens >= floor:
                self._tokens -= 1
                return
            await asyncio.sleep((floor - self._tokens) / self._rate)

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
