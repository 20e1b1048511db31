"""What webhook-ingest's tests share: secrets, trade_update bodies, headers signed with the official
`standardwebhooks` library (the same code a sender would run), and the running process (``ingest``)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tradebus_contracts import client_order_id_for
from tradectl.embedded import free_port
from webhook_ingest.testing import WebhookIngestProcess, new_secret
from webhook_ingest.testing import signed_headers as sign

SECRET = new_secret()
OTHER_SECRET = new_secret()


def trade_update(event: str = "fill", *, symbol: str = "AAPL", order_id: uuid.UUID | None = None,
                 execution_id: str | None = None, qty: str = "1", price: str = "187.30", **order: Any) -> dict:
    """An Alpaca trade_update object as alpaca-sim and Alpaca send it (the ``data`` of a stream message)."""
    order_id = order_id or uuid.uuid4()
    filled = event in ("fill", "partial_fill")
    body: dict[str, Any] = {
        "event": event,
        "timestamp": "2026-11-24T15:30:00.123456789Z",
        "order": {"id": str(uuid.uuid4()), "client_order_id": client_order_id_for(order_id), "symbol": symbol,
                  "side": "buy", "type": "market", "qty": qty, "status": "filled" if event == "fill" else "new",
                  "filled_qty": qty if filled else "0", "filled_avg_price": price if filled else None,
                  "updated_at": "2026-11-24T15:30:00.123456Z", **order},
    }
    if filled:
        body.update(execution_id=execution_id or str(uuid.uuid4()), qty=qty, price=price, position_qty=qty)
    return body


def encoded(body: Any) -> bytes:
    return json.dumps(body).encode()


def signed_headers(body: bytes, *, secret: str = SECRET, webhook_id: str | None = None,
                   timestamp: int | None = None) -> dict[str, str]:
    return sign(body, secret, webhook_id=webhook_id, timestamp=timestamp)


@pytest.fixture
async def ingest(nats_url, database_url, tmp_path):
    """The real webhook-ingest process on the test's NATS and database, with both rotation secrets configured."""
    process = WebhookIngestProcess(nats_url, database_url, free_port(), tmp_path / "webhook-ingest.log",
                                   [SECRET, OTHER_SECRET]).start()
    try:
        await process.healthy()
        yield process
    finally:
        process.stop()
