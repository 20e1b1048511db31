"""The gateway's reference data after a restart: nothing the broker no longer says survives in REFDATA."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tradebus_contracts.refdata import REFDATA_BUCKET, PositionRef, position_key
from tradebus_runtime.bus import ensure_kv

from .conftest import GatewayHarness

pytestmark = pytest.mark.integration


async def test_first_account_refresh_when_a_position_closed_while_the_gateway_was_down_then_its_entry_goes(
    nats_url, database_url, tmp_path, sim
):
    harness = GatewayHarness(nats_url, database_url, tmp_path, sim)
    await harness.open()
    kv = await ensure_kv(harness.js, REFDATA_BUCKET)
    stale = PositionRef(symbol="MSFT", qty=Decimal(5), avg_entry_price=Decimal("400"), market_value=Decimal("2000"),
                        as_of=datetime(2026, 11, 27, 15, tzinfo=UTC))
    await kv.put(position_key("MSFT"), stale.model_dump_json().encode())  # written by a gateway that then stopped

    harness.start()
    await harness.healthy()
    try:
        for _ in range(100):
            keys = set(await kv.keys())
            if position_key("MSFT") not in keys and "account" in keys:
                break
            await asyncio.sleep(0.1)
    finally:
        await harness.close()

    assert position_key("MSFT") not in keys and "account" in keys  # the simulator holds no MSFT
