"""DecisionStore against a real PostgreSQL: the submitted marks of a fetched batch of order outcomes, written in one
statement, change each row exactly as one statement per event did — only an order's first OrderSubmitted counts, a
row closed by a failed submission opens again, a refusal and an order already submitted stay as they are."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from risk_service.store import DecisionStore
from tradebus_runtime.db import open_database

pytestmark = pytest.mark.integration
T0 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


async def decided(pool, *, approved: bool = True, submitted_at: datetime | None = None,
                  closed_by_failure: bool = False) -> UUID:
    order_id = uuid4()
    await pool.execute(
        """INSERT INTO decisions (order_id, request_event_id, symbol, approved, order_fields, decision_event,
                                  decided_at, expires_at, submitted_at, closed_at, closed_by_failure)
           VALUES ($1, $2, 'AAPL', $3, '{}', $4, $5, $6, $7, $8, $9)""",
        order_id, uuid4(), approved, json.dumps({"order_id": str(order_id)}), T0, T0 + timedelta(seconds=30),
        submitted_at, T0 if closed_by_failure else None, closed_by_failure)
    return order_id


async def row(pool, order_id: UUID) -> dict:
    return dict(await pool.fetchrow("SELECT submitted_at, closed_at, closed_by_failure FROM decisions "
                                    "WHERE order_id = $1", order_id))


async def test_mark_submitted_when_a_batch_repeats_reopens_and_refuses_then_each_row_as_one_by_one(database_url):
    pool = await open_database(database_url, "risk-service", "risk_service")
    try:
        store = DecisionStore(pool)
        fresh, failed, refused = await decided(pool), await decided(pool, closed_by_failure=True), \
            await decided(pool, approved=False)
        already = await decided(pool, submitted_at=T0)
        at = [T0 + timedelta(seconds=s) for s in range(1, 6)]

        await store.mark_submitted([(fresh, at[0]), (failed, at[1]), (refused, at[2]), (already, at[3]),
                                    (fresh, at[4])])  # the last: a redelivery, later

        assert await row(pool, fresh) == {"submitted_at": at[0], "closed_at": None, "closed_by_failure": False}
        assert await row(pool, failed) == {"submitted_at": at[1], "closed_at": None, "closed_by_failure": False}
        assert (await row(pool, refused))["submitted_at"] is None
        assert (await row(pool, already))["submitted_at"] == T0
        await store.mark_submitted([])  # nothing to write: no statement
    finally:
        await pool.close()
