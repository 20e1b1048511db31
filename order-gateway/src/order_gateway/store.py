"""The gateway's SQL (schema ``order_gateway``, migrations/): orders, fills, approvals seen, broker calls.

One statement a function, on the connection the caller gives. The transactions that put these together with
their events in the outbox, so that the database and the bus never disagree after a crash, are in recording.py
and the handlers (approvals.py, cancels.py).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import asyncpg

from tradebus_contracts.orders import FINAL_STATUSES, OrderSide
from tradebus_contracts.projection import Working, remaining

from .model import BrokerCall, OrderRow, SubmitState


@dataclass(frozen=True, slots=True)
class PendingOrder:
    """What an approved order's ``pending`` row holds, and its approval's `record_approval_seen` row (``seen``:
    event_id, outcome, reason)."""

    order_id: UUID
    client_order_id: str
    approval_id: UUID
    symbol: str
    order_fields: dict[str, object]
    expires_at: datetime
    seen: tuple[UUID, str, str | None]

    def args(self) -> tuple[object, ...]:
        """Parameters $1-$9 of the statements that write it."""
        return (self.order_id, self.client_order_id, self.approval_id, self.symbol, json.dumps(self.order_fields),
                self.expires_at, *self.seen)


@dataclass(frozen=True, slots=True)
class Pending:
    """A ``pending`` row as `submit_lease` wrote it, with its row version (PostgreSQL's ``xmin``): any later write to
    the row — a cancel, a broker report, a sweep — gives it another."""

    row: OrderRow
    version: int


@dataclass(slots=True)
class Lease:
    """The broker lease on one order (`submit_lease`): whether this replica holds it, the connection holding it, the
    ``pending`` row written with it (if any), and whether it was let go before the end of the ``async with``."""

    conn: asyncpg.Connection
    key: str
    held: bool = False
    pending: Pending | None = None
    released: bool = False


@contextlib.asynccontextmanager
async def broker_lease(pool: asyncpg.Pool, order_id: UUID) -> AsyncIterator[bool]:
    """Whether this replica may talk to the broker about ``order_id`` now (True) or another one is (False)."""
    async with submit_lease(pool, order_id) as lease:
        yield lease.held


# the lease and a new order's pending row (with its approval seen) in one statement: the row only if the lease is
# held and the order has no row yet; the lease CTE is read twice, so it runs once
_LEASE_AND_PENDING = """
WITH lease AS MATERIALIZED (SELECT pg_try_advisory_lock(hashtext($10)) AS held),
     ins AS (INSERT INTO orders (order_id, client_order_id, approval_id, symbol, order_fields, state, expires_at)
             SELECT $1, $2, $3, $4, $5::jsonb, 'pending', $6 FROM lease WHERE held
             ON CONFLICT (order_id) DO NOTHING RETURNING *, xmin::text::bigint AS version),
     seen AS (INSERT INTO approvals_seen (event_id, approval_id, order_id, outcome, reason)
              SELECT $7, $3, $1, $8, $9 FROM ins ON CONFLICT (event_id) DO NOTHING)
SELECT lease.held, ins.* FROM lease LEFT JOIN ins ON true
"""


@contextlib.asynccontextmanager
async def submit_lease(pool: asyncpg.Pool, order_id: UUID, new: PendingOrder | None = None) -> AsyncIterator[Lease]:
    """The broker lease on ``order_id``: this replica talks to the broker about it only while ``lease.held``.

    A PostgreSQL session advisory lock on a connection of its own, held for as long as the talk lasts: a replica
    that dies — or loses its database connection — lets go at once, without a timeout to wait out. (A database
    restart mid-call also lets go; the next holder asks the broker before it sends anything, as on any redelivery.)
    With ``new``, the same statement writes the order's ``pending`` row where it has none yet (``lease.pending``;
    None: the order has a row, or the lease is another replica's): the submit path's one round trip before the
    POST. `confirm_pending` may let go of the lease in its own statement (``lease.released``).
    """
    async with pool.acquire() as conn:
        lease = Lease(conn, f"order-gateway-broker:{order_id}")
        try:
            if new is None:
                lease.held = bool(await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", lease.key))
            else:
                row = await conn.fetchrow(_LEASE_AND_PENDING, *new.args(), lease.key)
                lease.held = bool(row["held"])
                lease.pending = Pending(OrderRow.of(row), row["version"]) if row["order_id"] is not None else None
        except BaseException:
            _end(conn)  # cancelled or failed after the server may have granted it: the lock goes with it
            raise
        try:
            yield lease
        finally:
            if lease.held and not lease.released:
                await _unlock(conn, lease.key)


async def _unlock(conn: asyncpg.Connection, key: str) -> None:
    """The pool does not reset sessions (`tradebus_runtime.db.create_pool`): a lease that cannot be unlocked — an
    error, a cancellation — ends its connection, and PostgreSQL lets go of the lock with the session."""
    try:
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", key)
    except BaseException as exc:
        _end(conn)
        if not isinstance(exc, (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
            raise


def _end(conn: asyncpg.Connection) -> None:
    with contextlib.suppress(asyncpg.InterfaceError):  # lost already: closed and handed back to the pool
        conn.terminate()


async def lock_order(conn: asyncpg.Connection, order_id: UUID) -> OrderRow | None:
    row = await conn.fetchrow("SELECT * FROM orders WHERE order_id = $1 FOR UPDATE", order_id)
    return OrderRow.of(row) if row else None


async def get_order(conn: asyncpg.Connection | asyncpg.Pool, order_id: UUID) -> OrderRow | None:
    row = await conn.fetchrow("SELECT * FROM orders WHERE order_id = $1", order_id)
    return OrderRow.of(row) if row else None


async def insert_pending(conn: asyncpg.Connection, order: PendingOrder) -> None:
    """The ``pending`` row and its approval's `record_approval_seen` row, in one statement, inside the caller's
    transaction (which holds the order's row lock)."""
    await conn.execute(
        """WITH seen AS (INSERT INTO approvals_seen (event_id, approval_id, order_id, outcome, reason)
                         SELECT $7, $3, $1, $8, $9 ON CONFLICT (event_id) DO NOTHING)
           INSERT INTO orders (order_id, client_order_id, approval_id, symbol, order_fields, state, expires_at)
           VALUES ($1, $2, $3, $4, $5::jsonb, 'pending', $6)""",
        *order.args(),
    )


async def confirm_pending(lease: Lease, pending: Pending, broker_order_id: str, status: str | None,
                          filled_qty: Decimal, filled_notional: Decimal, call: BrokerCall,
                          events: tuple[str, list[object]]) -> bool:
    """`record_submitted` for the row ``lease`` wrote (``pending``), while it is still exactly as written, with the
    audit row of the ``call`` and the events (``events``: `Outbox.insert_claimed` numbered from $10, guarded by
    ``EXISTS (SELECT 1 FROM upd)``), in one statement that commits by itself and lets go of the lease (the broker has
    the order: the talk is over). False — nothing written, the lease kept — when anything has touched the row since:
    the caller takes the locked path."""
    events_sql, events_args = events
    written = await lease.conn.fetchval(
        f"""WITH upd AS (UPDATE orders SET state = 'submitted', broker_order_id = $3, broker_status = $4,
                                           filled_qty = $5, filled_notional = $6, updated_at = now(),
                                           broker_seen_at = now()
                         WHERE order_id = $1 AND state = 'pending' AND xmin::text::bigint = $2 RETURNING order_id),
                 call AS (INSERT INTO broker_calls (order_id, call, http_status) SELECT order_id, $7, $8 FROM upd),
                 events AS ({events_sql}),
                 written AS (SELECT count(*) AS n FROM upd)
            SELECT CASE WHEN n > 0 THEN pg_advisory_unlock(hashtext($9)) ELSE false END FROM written""",
        pending.row.order_id, pending.version, broker_order_id, status, filled_qty, filled_notional, call.call,
        call.http_status, lease.key, *events_args,
    )
    lease.released = bool(written)
    return lease.released


async def insert_canceled_before_submit(conn: asyncpg.Connection, order_id: UUID, client_order_id: str,
                                        symbol: str, at: datetime) -> None:
    await conn.execute(
        """INSERT INTO orders (order_id, client_order_id, symbol, state, cancel_requested_at)
           VALUES ($1, $2, $3, 'canceled_before_submit', $4)""",
        order_id, client_order_id, symbol, at,
    )


async def set_state(conn: asyncpg.Connection, order_id: UUID, state: SubmitState, *,
                    broker_order_id: str | None = None) -> None:
    await conn.execute(
        """UPDATE orders SET state = $2, broker_order_id = COALESCE($3, broker_order_id), updated_at = now(),
                             broker_seen_at = CASE WHEN $3::text IS NULL THEN broker_seen_at ELSE now() END
           WHERE order_id = $1""",
        order_id, state.value, broker_order_id,
    )


async def record_submitted(conn: asyncpg.Connection, order_id: UUID, broker_order_id: str, status: str | None,
                           filled_qty: Decimal, filled_notional: Decimal, call: BrokerCall | None) -> None:
    """pending -> submitted with the broker's first report, and the audit row of the ``call`` that told us, in one
    statement (the submit path's round trips are its latency)."""
    await conn.execute(
        """WITH call AS (INSERT INTO broker_calls (order_id, call, http_status) SELECT $1, $6, $7 WHERE $6::text IS NOT NULL)
           UPDATE orders SET state = 'submitted', broker_order_id = $2, broker_status = COALESCE($3, broker_status),
                             filled_qty = $4, filled_notional = $5, updated_at = now(), broker_seen_at = now()
           WHERE order_id = $1""",
        order_id, broker_order_id, status, filled_qty, filled_notional, call and call.call, call and call.http_status,
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


async def recorded_execution_ids(conn: asyncpg.Connection, execution_ids: Sequence[str]) -> frozenset[str]:
    """Which of these execution ids are counted already (in any order: an execution id is the broker's, unique)."""
    if not execution_ids:
        return frozenset()
    rows = await conn.fetch("SELECT execution_id FROM fills WHERE execution_id = ANY($1::text[])", list(execution_ids))
    return frozenset(r["execution_id"] for r in rows)


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


async def record_broker_call(conn: asyncpg.Connection | asyncpg.Pool, order_id: UUID, call: BrokerCall) -> None:
    await conn.execute(
        "INSERT INTO broker_calls (order_id, call, http_status, code, message) VALUES ($1, $2, $3, $4, $5)",
        order_id, call.call, call.http_status, call.code, (call.message or "")[:1000] or None,
    )


async def orders_to_track(pool: asyncpg.Pool) -> list[OrderRow]:
    """Submitted orders whose broker status is not final yet."""
    rows = await pool.fetch(
        "SELECT * FROM orders WHERE state = 'submitted' AND (broker_status IS NULL OR broker_status <> ALL($1::text[]))",
        sorted(FINAL_STATUSES),
    )
    return [OrderRow.of(r) for r in rows]


async def not_submitted(pool: asyncpg.Pool, failed_within_s: float) -> list[OrderRow]:
    """Approved rows the broker has not been seen to hold: pending, or failed within the last ``failed_within_s``
    — a POST we gave up on may still land. The poller matches them against the broker's recent orders."""
    rows = await pool.fetch(
        """SELECT * FROM orders WHERE approval_id IS NOT NULL
             AND (state = 'pending' OR (state = 'failed' AND updated_at > now() - make_interval(secs => $1)))""",
        failed_within_s,
    )
    return [OrderRow.of(r) for r in rows]


async def pending_older_than(pool: asyncpg.Pool, seconds: float) -> list[tuple[OrderRow, datetime]]:
    """Pending rows not touched for ``seconds``, each with the last moment a POST for it could have been sent: its
    last recorded submit call (recorded when the call ended), else when the row was last written."""
    rows = await pool.fetch(
        """SELECT o.*, GREATEST(o.updated_at, (SELECT max(b.at) FROM broker_calls b
                                               WHERE b.order_id = o.order_id AND b.call = 'submit')) AS last_post_at
           FROM orders o WHERE o.state = 'pending' AND o.updated_at < now() - make_interval(secs => $1)""",
        seconds,
    )
    return [(OrderRow.of(r), r["last_post_at"]) for r in rows]


async def working_in(conn: asyncpg.Connection, symbol: str, excluding: UUID) -> list[Working]:
    """What the gateway's own orders in ``symbol`` may still buy or sell (``tradebus_contracts.projection``): every
    order not final yet — pending, or submitted with no final broker status — by its remainder, qty − filled (a
    notional order's is unknown). ``excluding`` is the order being decided (its own row, on a redelivery)."""
    rows = await conn.fetch(
        """SELECT order_fields->>'side' AS side, (order_fields->>'qty')::numeric AS qty, filled_qty FROM orders
           WHERE symbol = $1 AND order_id <> $2
             AND (state = 'pending'
                  OR (state = 'submitted' AND (broker_status IS NULL OR broker_status <> ALL($3::text[]))))""",
        symbol, excluding, sorted(FINAL_STATUSES),
    )
    return [Working(OrderSide(r["side"]), remaining(r["qty"], r["filled_qty"])) for r in rows]


async def fills_recorded_since(conn: asyncpg.Connection, symbol: str,
                               since: datetime) -> list[tuple[Working, datetime]]:
    """The fills of ``symbol`` recorded at or after ``since``, with when they were recorded (candidates for fills the
    broker's settled position may not have yet)."""
    rows = await conn.fetch(
        """SELECT o.order_fields->>'side' AS side, f.qty, f.recorded_at FROM fills f JOIN orders o USING (order_id)
           WHERE o.symbol = $1 AND f.recorded_at >= $2""",
        symbol, since,
    )
    return [(Working(OrderSide(r["side"]), r["qty"]), r["recorded_at"]) for r in rows]
