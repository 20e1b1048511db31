"""PostgreSQL persistence of the gateway (schema ``order_gateway``): orders, fills, approvals seen, broker calls.

Every state change happens in a transaction that also writes its events to the outbox (tradebus_runtime.outbox),
so the database and the bus never disagree after a crash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import asyncpg

from tradebus_contracts.orders import FINAL_STATUSES


@dataclass(frozen=True, slots=True)
class OrderRow:
    order_id: UUID
    client_order_id: str
    approval_id: UUID | None
    symbol: str
    order_fields: dict[str, object] | None
    state: str
    broker_order_id: str | None
    broker_status: str | None
    filled_qty: Decimal
    filled_notional: Decimal
    cancel_requested_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: asyncpg.Record) -> OrderRow:
        fields = row["order_fields"]
        return cls(
            order_id=row["order_id"],
            client_order_id=row["client_order_id"],
            approval_id=row["approval_id"],
            symbol=row["symbol"],
            order_fields=json.loads(fields) if isinstance(fields, str) else fields,
            state=row["state"],
            broker_order_id=row["broker_order_id"],
            broker_status=row["broker_status"],
            filled_qty=row["filled_qty"],
            filled_notional=row["filled_notional"],
            cancel_requested_at=row["cancel_requested_at"],
            created_at=row["created_at"],
        )


async def lock_order(conn: asyncpg.Connection, order_id: UUID) -> OrderRow | None:
    row = await conn.fetchrow("SELECT * FROM orders WHERE order_id = $1 FOR UPDATE", order_id)
    return OrderRow.of(row) if row else None


async def get_order(conn: asyncpg.Connection | asyncpg.Pool, order_id: UUID) -> OrderRow | None:
    row = await conn.fetchrow("SELECT * FROM orders WHERE order_id = $1", order_id)
    return OrderRow.of(row) if row else None


async def get_by_broker_id(conn: asyncpg.Connection, broker_order_id: str) -> OrderRow | None:
    row = await conn.fetchrow("SELECT * FROM orders WHERE broker_order_id = $1 FOR UPDATE", broker_order_id)
    return OrderRow.of(row) if row else None


async def get_by_client_id(conn: asyncpg.Connection, client_order_id: str) -> OrderRow | None:
    row = await conn.fetchrow("SELECT * FROM orders WHERE client_order_id = $1 FOR UPDATE", client_order_id)
    return OrderRow.of(row) if row else None


async def insert_pending(conn: asyncpg.Connection, order_id: UUID, client_order_id: str, approval_id: UUID,
                         symbol: str, order_fields: dict[str, object]) -> None:
    await conn.execute(
        """INSERT INTO orders (order_id, client_order_id, approval_id, symbol, order_fields, state)
           VALUES ($1, $2, $3, $4, $5::jsonb, 'pending')""",
        order_id, client_order_id, approval_id, symbol, json.dumps(order_fields),
    )


async def insert_canceled_before_submit(conn: asyncpg.Connection, order_id: UUID, client_order_id: str,
                                        symbol: str, at: datetime) -> None:
    await conn.execute(
        """INSERT INTO orders (order_id, client_order_id, symbol, state, cancel_requested_at)
           VALUES ($1, $2, $3, 'canceled_before_submit', $4)""",
        order_id, client_order_id, symbol, at,
    )


async def set_state(conn: asyncpg.Connection, order_id: UUID, state: str, *, broker_order_id: str | None = None,
                    broker_status: str | None = None) -> None:
    await conn.execute(
        """UPDATE orders SET state = $2, broker_order_id = COALESCE($3, broker_order_id),
                             broker_status = COALESCE($4, broker_status), updated_at = now(),
                             broker_seen_at = CASE WHEN $3::text IS NULL THEN broker_seen_at ELSE now() END
           WHERE order_id = $1""",
        order_id, state, broker_order_id, broker_status,
    )


async def mark_cancel_requested(conn: asyncpg.Connection, order_id: UUID, at: datetime) -> None:
    await conn.execute("UPDATE orders SET cancel_requested_at = COALESCE(cancel_requested_at, $2) WHERE order_id = $1",
                       order_id, at)


async def record_broker_report(conn: asyncpg.Connection, order_id: UUID, status: str | None,
                               filled_qty: Decimal, filled_notional: Decimal) -> None:
    await conn.execute(
        """UPDATE orders SET broker_status = COALESCE($2, broker_status), filled_qty = $3, filled_notional = $4,
                             updated_at = now(), broker_seen_at = now()
           WHERE order_id = $1""",
        order_id, status, filled_qty, filled_notional,
    )


async def touch(conn: asyncpg.Connection | asyncpg.Pool, order_id: UUID) -> None:
    await conn.execute("UPDATE orders SET broker_seen_at = now() WHERE order_id = $1", order_id)


async def execution_seen(conn: asyncpg.Connection, execution_id: str) -> bool:
    return bool(await conn.fetchval("SELECT true FROM fills WHERE execution_id = $1", execution_id))


async def insert_fill(conn: asyncpg.Connection, execution_id: str, order_id: UUID, qty: Decimal, price: Decimal,
                      cum_qty: Decimal, source: str, executed_at: datetime | None) -> None:
    await conn.execute(
        """INSERT INTO fills (execution_id, order_id, qty, price, cum_qty, source, executed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        execution_id, order_id, qty, price, cum_qty, source, executed_at,
    )


async def record_approval_seen(conn: asyncpg.Connection | asyncpg.Pool, event_id: UUID, approval_id: UUID | None,
                               order_id: UUID | None, outcome: str, reason: str | None) -> None:
    await conn.execute(
        """INSERT INTO approvals_seen (event_id, approval_id, order_id, outcome, reason)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING""",
        event_id, approval_id, order_id, outcome, reason,
    )


async def record_broker_call(conn: asyncpg.Connection | asyncpg.Pool, order_id: UUID | None, call: str,
                             http_status: int | None, code: int | None, message: str | None) -> None:
    await conn.execute(
        "INSERT INTO broker_calls (order_id, call, http_status, code, message) VALUES ($1, $2, $3, $4, $5)",
        order_id, call, http_status, code, (message or "")[:1000] or None,
    )


async def orders_to_track(pool: asyncpg.Pool) -> list[OrderRow]:
    """Submitted orders whose broker status is not final yet."""
    rows = await pool.fetch(
        "SELECT * FROM orders WHERE state = 'submitted' AND (broker_status IS NULL OR broker_status <> ALL($1::text[]))",
        sorted(FINAL_STATUSES),
    )
    return [OrderRow.of(r) for r in rows]


async def pending_older_than(pool: asyncpg.Pool, seconds: float) -> list[OrderRow]:
    rows = await pool.fetch(
        "SELECT * FROM orders WHERE state = 'pending' AND updated_at < now() - make_interval(secs => $1)", seconds
    )
    return [OrderRow.of(r) for r in rows]
