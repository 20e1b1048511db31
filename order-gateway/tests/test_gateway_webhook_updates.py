"""The running gateway's consumer of webhook trade updates (BrokerTradeUpdate on the BROKER stream): an update it
cannot apply is kept as a dead letter with the reason, never dropped. (That a webhook's fill is applied once, source
webhook, is shown across the real processes in tests/test_webhook_fills_delivery.py; the reading is unit-tested in
test_gateway_trade_updates.py.)"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from tradebus_contracts import client_order_id_for
from tradebus_contracts.events import BrokerTradeUpdate

from .conftest import GatewayHarness

pytestmark = pytest.mark.integration


async def dead_letters(gateway: GatewayHarness, n: int) -> list:
    for _ in range(200):
        if (await gateway.js.stream_info("DLQ")).state.messages >= n:
            break
        await asyncio.sleep(0.05)
    return await gateway.dead_letters(n)


def as_webhook(update: dict, delivery_id: str | None = None) -> BrokerTradeUpdate:
    """What webhook-ingest publishes for a verified trade update."""
    order = update["order"]
    return BrokerTradeUpdate(
        producer="webhook-ingest", correlation_id=order["id"], symbol=order["symbol"],
        delivery_id=delivery_id or f"msg_{uuid.uuid4().hex}", update=update["event"],
        client_order_id=order["client_order_id"], broker_order_id=order["id"],
        execution_id=update.get("execution_id"), received_at=datetime.now(UTC), trade_update=update)


async def test_webhook_update_when_the_order_is_unknown_or_foreign_then_dead_lettered_with_the_reason(gateway):
    stranger = uuid.uuid4()
    order = {"id": "b-404", "client_order_id": client_order_id_for(stranger), "symbol": "AAPL", "side": "buy",
             "qty": "1", "status": "filled", "filled_qty": "1", "filled_avg_price": "187.30"}
    fill = {"event": "fill", "timestamp": "2026-01-05T15:00:00Z", "execution_id": "ex-404", "qty": "1",
            "price": "187.30", "order": order}

    await gateway.publish(as_webhook(fill))
    await gateway.publish(as_webhook({**fill, "order": {**order, "client_order_id": "by-hand-1"}}))
    letters = await dead_letters(gateway, 2)

    assert [letter.original_subject for letter in letters] == ["broker.trade_updates.AAPL"] * 2
    assert f"order {stranger}" in letters[0].reason and "not known to the gateway" in letters[0].reason
    assert "'by-hand-1' was not placed by tradebus" in letters[1].reason
    assert not [e for e in gateway.events if e.event_type == "FillReported"]
    assert "gateway.webhook_update_not_applied" in gateway.log_text()
