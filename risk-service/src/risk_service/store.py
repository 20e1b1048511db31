"""PostgreSQL persistence of risk decisions (schema ``risk_service``).

A decision is inserted *before* it is published, in one statement per batch (``ON CONFLICT DO NOTHING``: the
first decision of an order_id wins). An order_id that was already decided is only looked up when the insert
says so; its stored decision is published again unchanged (same event_id: the stream's duplicate window drops
it if it is recent; a later copy is the same fact again, never a new approval).

The book (book.py) is loaded from here at start and as a safety net: every approved order that still matters —
open (submitted, or unexpired), approved today, or ended recently — with what its fills add up to, and the fills
the settled positions may not have yet.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

import asyncpg

from tradebus_contracts import OrderSide, RiskApproved, RiskRejected, decode_event, encode_event

from .batch import NewDecision, StoredDecision
from .booking import BookedOrder, BookState, FillSeen

ENDED_KEPT = timedelta(days=1)  # an ended order whose fills have not all arrived stays in the book this long


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
                                      decision_event, decided_at, expires_at, side, shares)
               SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::boolean[], $5::jsonb[], $6::numeric[],
                                    $7::jsonb[], $8::timestamptz[], $9::timestamptz[], $10::text[], $11::numeric[])
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
            [d.event.side.value if isinstance(d.event, RiskApproved) else None for d in decisions],
            [d.shares for d in decisions],
        )
        return {r["order_id"] for r in rows}

    async def mark_submitted(self, submitted: Sequence[tuple[UUID, datetime]]) -> None:
        """The broker has these orders (order_id, when), all in one statement. One the gateway had given up on (closed
        by a failed submission: a POST that landed late, adopted) is open again. Idempotent: only an order's first
        OrderSubmitted changes its row (the first of the same order_id in ``submitted``, too)."""
        first = dict(reversed(submitted))  # an order_id given twice: its first time wins, as row by row
        if not first:
            return
        await self._pool.execute(
            """UPDATE decisions SET submitted_at = m.at,
                      closed_at = CASE WHEN closed_by_failure THEN NULL ELSE closed_at END,
                      filled_at_close = CASE WHEN closed_by_failure THEN 0 ELSE filled_at_close END,
                      closed_by_failure = false
               FROM unnest($1::uuid[], $2::timestamptz[]) AS m(order_id, at)
               WHERE decisions.order_id = m.order_id AND approved AND submitted_at IS NULL""",
            list(first),
            list(first.values()),
        )

    async def mark_closed(self, order_id: UUID, at: datetime, filled_qty: Decimal, *, failed: bool = False) -> None:
        """The order ended (``failed``: its submission failed). A failed submission of an order the broker is known
        to hold is stale (a redelivery behind its adoption) and changes nothing."""
        await self._pool.execute(
            "UPDATE decisions SET closed_at = $2, filled_at_close = $3, closed_by_failure = $4 WHERE order_id = $1 "
            "AND approved AND closed_at IS NULL AND NOT ($4 AND submitted_at IS NOT NULL)",
            order_id, at, filled_qty, failed,
        )

    async def insert_fill(self, fill: FillSeen) -> bool:
        """Keep one execution; False when it was kept already (a redelivery)."""
        inserted = await self._pool.fetchval(
            """INSERT INTO fills (execution_id, order_id, symbol, side, qty, price, recorded_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (execution_id) DO NOTHING RETURNING true""",
            fill.execution_id, fill.order_id, fill.symbol, fill.side.value, fill.qty, fill.price, fill.recorded_at,
        )
        return bool(inserted)

    async def book_state(self, now: datetime, day_start: datetime, fills_since: datetime) -> BookState:
        """The approved orders that still matter and the fills recorded after ``fills_since``."""
        orders = await self._pool.fetch(
            """WITH chosen AS (
                    SELECT order_id FROM decisions
                    WHERE approved AND closed_at IS NULL AND (submitted_at IS NOT NULL OR expires_at > $1)
                    UNION SELECT order_id FROM decisions WHERE approved AND decided_at >= $2
                    UNION SELECT order_id FROM decisions WHERE approved AND closed_at >= $3)
                SELECT d.order_id, d.symbol, d.side, d.shares, d.estimated_cost, d.expires_at,
                       d.decided_at >= $2 AS today, d.submitted_at IS NOT NULL AS submitted, d.submitted_at,
                       d.closed_at IS NOT NULL AS closed, d.filled_at_close, d.closed_by_failure,
                       COALESCE(f.qty, 0) AS seen_qty, COALESCE(f.notional, 0) AS seen_notional
                FROM chosen JOIN decisions d USING (order_id)
                LEFT JOIN LATERAL (SELECT sum(qty) AS qty, sum(qty * price) AS notional
                                   FROM fills WHERE fills.order_id = d.order_id) f ON true""",
            now, day_start, now - ENDED_KEPT,
        )
        fills = await self._pool.fetch(
            "SELECT execution_id, order_id, symbol, side, qty, price, recorded_at FROM fills WHERE recorded_at >= $1",
            fills_since,
        )
        return BookState(
            orders=tuple(BookedOrder(r["order_id"], r["symbol"], OrderSide(r["side"]), r["shares"],
                                     r["estimated_cost"], r["expires_at"], today=r["today"], submitted=r["submitted"],
                                     closed=r["closed"], filled_at_close=r["filled_at_close"],
                                     closed_by_failure=r["closed_by_failure"],
                                     seen_qty=r["seen_qty"], seen_notional=r["seen_notional"],
                                     submitted_at=r["submitted_at"]) for r in orders),
            fills=tuple(FillSeen(r["execution_id"], r["order_id"], r["symbol"], OrderSide(r["side"]), r["qty"],
                                 r["price"], r["recorded_at"]) for r in fills),
        )


def _stored(row: asyncpg.Record) -> StoredDecision:
    event = decode_event(row["decision_event"])
    if not isinstance(event, (RiskApproved, RiskRejected)):
        raise TypeError(f"the stored decision of {row['order_id']} is a {event.event_type}, not a risk decision")
    fields = row["order_fields"]
    return StoredDecision(row["order_id"], json.loads(fields) if isinstance(fields, str) else fields, event)
