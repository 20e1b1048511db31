"""PostgreSQL persistence of risk decisions (schema ``risk_service``).

A decision is inserted *before* it is published, in one statement per batch (``ON CONFLICT DO NOTHING``: the
first decision of an order_id wins). An order_id that was already decided is only looked up when the insert
says so; its stored decision is published again unchanged (same event_id: the stream's duplicate window drops
it if it is recent; a later copy is the same fact again, never a new approval).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from tradebus_contracts import RiskApproved, RiskRejected, decode_event, encode_event

from .batch import NewDecision, StoredDecision
from .book import Exposure

OPEN_CONDITION = "approved AND closed_at IS NULL AND (submitted_at IS NOT NULL OR expires_at > $1)"


class DecisionStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def find(self, order_ids: Sequence[UUID]) -> dict[UUID, StoredDecision]:
        rows = await self._pool.fetch(
            "SELECT order_id, order_fields, decision_event FROM decisions WHERE order_id = ANY($1::uuid[])",
            list(order_ids),
        )
        return {r["order_id"]: _stored(r) for r in rows}

    async def insert(self, decisions: Sequence[NewDecision]) -> set[UUID]:
        """Insert all in one round trip; returns the order_ids actually inserted (others were already decided)."""
        if not decisions:
            return set()
        rows = await self._pool.fetch(
            """INSERT INTO decisions (order_id, request_event_id, symbol, approved, order_fields, estimated_cost,
                                      decision_event, decided_at, expires_at)
               SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::boolean[], $5::jsonb[], $6::numeric[],
                                    $7::jsonb[], $8::timestamptz[], $9::timestamptz[])
               ON CONFLICT (order_id) DO NOTHING
               RETURNING order_id""",
            [d.event.order_id for d in decisions],
            [d.request_event_id for d in decisions],
            [d.event.symbol for d in decisions],
            [isinstance(d.event, RiskApproved) for d in decisions],
            [json.dumps(d.order_fields) for d in decisions],
            [d.estimated_cost for d in decisions],
            [encode_event(d.event).decode() for d in decisions],
            [d.event.occurred_at for d in decisions],
            [d.event.expires_at if isinstance(d.event, RiskApproved) else None for d in decisions],
        )
        return {r["order_id"] for r in rows}

    async def mark_submitted(self, order_id: UUID, at: datetime) -> None:
        await self._pool.execute(
            "UPDATE decisions SET submitted_at = $2 WHERE order_id = $1 AND approved AND submitted_at IS NULL",
            order_id,
            at,
        )

    async def mark_closed(self, order_id: UUID, at: datetime) -> bool:
        closed = await self._pool.fetchval(
            "UPDATE decisions SET closed_at = $2 WHERE order_id = $1 AND approved AND closed_at IS NULL "
            "RETURNING true",
            order_id,
            at,
        )
        return bool(closed)

    async def exposure(self, now: datetime, day_start: datetime) -> Exposure:
        open_rows = await self._pool.fetch(
            f"SELECT symbol, count(*) AS n FROM decisions WHERE {OPEN_CONDITION} GROUP BY symbol", now
        )
        daily_rows = await self._pool.fetch(
            "SELECT symbol, sum(estimated_cost) AS notional FROM decisions "
            "WHERE approved AND decided_at >= $1 AND estimated_cost IS NOT NULL GROUP BY symbol",
            day_start,
        )
        return Exposure(
            open_by_symbol={r["symbol"]: r["n"] for r in open_rows},
            daily_notional_by_symbol={r["symbol"]: r["notional"] for r in daily_rows},
        )


def _stored(row: asyncpg.Record) -> StoredDecision:
    event = decode_event(row["decision_event"])
    if not isinstance(event, (RiskApproved, RiskRejected)):
        raise TypeError(f"the stored decision of {row['order_id']} is a {event.event_type}, not a risk decision")
    fields = row["order_fields"]
    return StoredDecision(row["order_id"], json.loads(fields) if isinstance(fields, str) else fields, event)
