"""What the gateway's handlers share, built once in app.py (the one place I/O is wired)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tradebus_runtime.bus import Bus
from tradebus_runtime.outbox import Outbox
from tradebus_runtime.trading_state import TradingStateFollower

from .broker import Broker
from .ratelimit import RateLimiter


@dataclass
class Context:
    pool: asyncpg.Pool
    bus: Bus
    broker: Broker
    outbox: Outbox
    trading: TradingStateFollower
    trusted: Mapping[str, Ed25519PublicKey]
    limiter: RateLimiter
    positions: dict[str, Decimal] = field(default_factory=dict)  # symbol -> signed qty, from the broker
    positions_known: bool = False

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    def position_qty(self, symbol: str) -> Decimal | None:
        if not self.positions_known:
            return None
        return self.positions.get(symbol, Decimal(0))
