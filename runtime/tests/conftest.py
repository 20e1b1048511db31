"""Fixtures shared by the runtime's integration tests (real NATS from the root conftest)."""

import pytest

from tradebus_runtime.bus import Bus, connect, ensure_streams


@pytest.fixture
async def bus(nats_url):
    """A Bus for the service ``test-service`` on a fresh connection, every domain stream declared."""
    nc = await connect(nats_url, "test")
    b = Bus(nc, "test-service")
    await ensure_streams(b.js)
    yield b
    await nc.drain()
