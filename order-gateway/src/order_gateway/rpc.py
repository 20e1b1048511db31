"""The gateway's answers to requests for broker data (core NATS request/reply, outside every stream): the services
without credentials ask here (DESIGN §5.5).

* ``rpc.order-gateway.positions`` (`subjects.GATEWAY_POSITIONS`) → `rpc.BrokerPositionsReply`: the broker's
  positions read when asked, never the REFDATA copy. A failed read raises, and the service shell answers
  ``{"error": ...}``: "the broker did not answer" must never read as "flat".
* ``rpc.order-gateway.fills-history`` (`rpc.GATEWAY_FILLS_HISTORY`): `rpc.FillsHistoryRequest` →
  `rpc.FillsHistoryReply`, every FILL activity of the account, oldest first, a page at a time, raw as Alpaca sent
  them: what position-sync rebuilds its ledger from. page_size 1–500 (default 500; more is served 500, so a reply
  stays far under NATS's 1 MB); ask again with ``next_page_token`` until ``complete``. A refused request or a failed
  read raises, and the shell answers ``{"error": ...}``.

Every broker call takes a rate-limiter token (broker.py); a fills-history page of 500 is five broker calls.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from tradebus_contracts.rpc import (
    BrokerPosition,
    BrokerPositionsReply,
    FillsHistoryReply,
    FillsHistoryRequest,
)
from tradebus_runtime import get_logger

from .activities import PAGE_SIZE
from .broker import Broker, dec

log = get_logger(__name__)




class BrokerReads:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    async def positions(self, data: bytes) -> BrokerPositionsReply:
        as_of = datetime.now(UTC)  # stamped when asked: whatever filled before this is in the answer
        raw = await self.broker.positions()
        positions = []
        for p in raw:
            try:
                positions.append(broker_position(p))
            except (ValidationError, KeyError) as exc:  # a position our contracts cannot carry (not an equity)
                log.warning("gateway.position_not_representable", symbol=str(p.get("symbol")), error=str(exc)[:300])
        return BrokerPositionsReply(positions=positions, as_of=as_of)

    async def fills_history(self, data: bytes) -> FillsHistoryReply:
        request = FillsHistoryRequest.model_validate_json(data or b"{}")  # page_size 0 refused, > 500 served 500
        size = request.page_size
        token, fills, complete = request.page_token, [], False
        while len(fills) < size:
            ask = min(PAGE_SIZE, size - len(fills))
            page = await self.broker.activities({"activity_types": "FILL", "direction": "asc", "page_size": ask,
                                                 **({"page_token": token} if token else {})})
            fills.extend(page)
            if len(page) < ask or not page:
                complete = True
                break
            token = str(page[-1]["id"])
        return FillsHistoryReply(activities=fills, complete=complete, next_page_token=None if complete else token)


def broker_position(p: dict[str, Any]) -> BrokerPosition:
    """Alpaca's position, quantity signed (a short's is negative whichever way the broker wrote it)."""
    qty = dec(p.get("qty")) or Decimal(0)
    if str(p.get("side", "long")) == "short" and qty > 0:
        qty = -qty
    return BrokerPosition(symbol=str(p["symbol"]), qty=qty, avg_entry_price=dec(p.get("avg_entry_price")) or Decimal(0),
                          cost_basis=dec(p.get("cost_basis")) or Decimal(0), market_value=dec(p.get("market_value")),
                          current_price=dec(p.get("current_price")))
