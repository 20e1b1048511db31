"""The thin I/O behind `intake`'s ports: PostgreSQL remembers webhook-ids, NATS JetStream takes the events.

Both turn their client's failures into `intake.Unavailable`, which the intake answers with 503 + ``Retry-After``.
Concurrent webhooks share their database round trips (`batching.Batcher`); each still waits for its own answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import TypeVar

import asyncpg
from nats.errors import Error as NatsError

from tradebus_contracts import Envelope
from tradebus_runtime import Bus

from .batching import Batcher
from .intake import Delivery, Unavailable

_DATABASE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
QUERY_TIMEOUT_S = 5.0  # PostgreSQL slow or gone: answer 503 rather than keep the sender waiting
T = TypeVar("T")


class PostgresDeliveries:
    """The ``deliveries`` table (migration 0001): one row per webhook-id, never deleted. Concurrent webhooks share
    round trips (`Batcher`): one ``= ANY`` look-up and one multi-row insert (one commit) per batch."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._lookups: Batcher[str, bool] = Batcher(self._seen_among)
        self._writes: Batcher[Delivery, None] = Batcher(self._insert)

    async def seen(self, webhook_id: str) -> bool:
        return await _or_unavailable(self._lookups.submit(webhook_id))

    async def remember(self, delivery: Delivery) -> None:
        await _or_unavailable(self._writes.submit(delivery))

    async def _seen_among(self, webhook_ids: Sequence[str]) -> list[bool]:
        rows = await self._pool.fetch("SELECT webhook_id FROM deliveries WHERE webhook_id = ANY($1::text[])",
                                      list(webhook_ids), timeout=QUERY_TIMEOUT_S)
        known = {row["webhook_id"] for row in rows}
        return [webhook_id in known for webhook_id in webhook_ids]

    async def _insert(self, deliveries: Sequence[Delivery]) -> list[None]:
        await self._pool.execute(
            "INSERT INTO deliveries (webhook_id, outcome, event_id, subject, reason, signed_at) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::timestamptz[]) "
            "ON CONFLICT (webhook_id) DO NOTHING",
            [d.webhook_id for d in deliveries], [d.outcome for d in deliveries], [d.event_id for d in deliveries],
            [d.subject for d in deliveries], [d.reason for d in deliveries], [d.signed_at for d in deliveries],
            timeout=QUERY_TIMEOUT_S,
        )
        return [None] * len(deliveries)


async def _or_unavailable(call: Awaitable[T]) -> T:
    try:
        return await call
    except _DATABASE_ERRORS as exc:
        raise Unavailable(f"PostgreSQL: {type(exc).__name__}") from exc


class BusPublisher:
    """Publishes with ``Nats-Msg-Id`` = ``event_id`` and waits for the PubAck; refuses at once while disconnected
    (a publish buffered for a reconnect would be answered 503 and still go out later)."""

    def __init__(self, bus: Bus, timeout_s: float) -> None:
        self._bus = bus
        self._timeout_s = timeout_s

    async def publish(self, event: Envelope) -> None:
        if not self._bus.nc.is_connected:
            raise Unavailable("NATS: not connected")
        try:
            await self._bus.publish(event, timeout=self._timeout_s)
        except (TimeoutError, NatsError, OSError) as exc:
            raise Unavailable(f"NATS: {type(exc).__name__}") from exc
