"""Fixtures of the runtime's tests (the repository's conftest starts the servers)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

Wait = Callable[..., Awaitable[None]]


@pytest.fixture
def wait_for() -> Wait:
    """``await wait_for(predicate, timeout=5.0)``: poll ``predicate()`` until it is true; AssertionError after
    ``timeout`` seconds (test modules cannot import conftest under importlib mode)."""
    async def wait(predicate: Callable[[], object], timeout: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError("condition not met in time")
            await asyncio.sleep(0.02)

    return wait
