"""PostgreSQL (schema ``position_sync_service``, migrations in ``migrations/``): the journal and what sits beside it.
Plain SQL, one function per statement; transactions are the caller's."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from .journal import Input, Row, decode, encode

CHUNK = 20_000
_COLUMNS = ("kind", "input_id", "at", "symbol", "order_id", "side", "qty", "price", "cum_qty", "final", "body",
            "source")


async def journal_inputs(conn: asyncpg.Connection) -> AsyncIterator[list[Input]]:
    """The journal in booking order, in chunks (a restart folds a million fills without holding their rows)."""
    query = ("SELECT kind, input_id, at, symbol, order_id, side, qty, price, cum_qty, final, body::text AS body "
             "FROM journal ORDER BY seq")
    if conn.is_in_transaction():  # a cursor lives in a transaction: the caller's, or one of its own
        cursor = await conn.cursor(query)
        while rows := await cursor.fetch(CHUNK):
            yield [decode(row) for row in rows]
        return
    async with conn.transaction(readonly=True, isolation="repeatable_read"):
        cursor = await conn.cursor(query)
        while rows := await cursor.fetch(CHUNK):
            yield [decode(row) for row in rows]


async def append(conn: asyncpg.Connection, inputs: Sequence[Input], source: str) -> None:
    if inputs:
        await conn.executemany(
            f"INSERT INTO journal ({', '.join(_COLUMNS)}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            [_record(encode(item), source) for item in inputs])


async def replace_journal(conn: asyncpg.Connection, inputs: Iterable[Input], source: str) -> int:
    await conn.execute("DELETE FROM journal")
    records = [_record(encode(item), source) for item in inputs]
    await conn.copy_records_to_table("journal", records=records, columns=_COLUMNS)
    return len(records)


def _record(row: Row, source: str) -> tuple[Any, ...]:
    return (row.kind, row.input_id, row.at, row.symbol, row.order_id, row.side, row.qty, row.price, row.cum_qty,
            row.final, row.body, source)


async def journal_size(conn: asyncpg.Connection | asyncpg.Pool) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM journal"))


# --- legs waiting for their group ----------------------------------------------------------------------------


async def keep_leg(conn: asyncpg.Connection, leg_id: str, action_id: str, raw: Mapping[str, Any],
                   first_seen: datetime) -> None:
    await conn.execute("INSERT INTO pending_legs (leg_id, action_id, leg, first_seen) VALUES ($1, $2, $3, $4) "
                       "ON CONFLICT (leg_id) DO NOTHING", leg_id, action_id, json.dumps(raw), first_seen)


async def drop_legs(conn: asyncpg.Connection, action_id: str) -> None:
    await conn.execute("DELETE FROM pending_legs WHERE action_id = $1", action_id)


async def pending_legs(conn: asyncpg.Connection | asyncpg.Pool) -> list[tuple[dict[str, Any], datetime]]:
    rows = await conn.fetch("SELECT leg::text AS leg, first_seen FROM pending_legs ORDER BY first_seen, leg_id")
    return [(json.loads(r["leg"]), r["first_seen"]) for r in rows]


# --- the drift watch, syncs ------------------------------------------------------------------------------------


async def save_watches(conn: asyncpg.Connection, watches: Mapping[str, str]) -> None:
    await conn.execute("DELETE FROM drift_watch")
    if watches:
        await conn.executemany("INSERT INTO drift_watch (symbol, watch) VALUES ($1, $2)", list(watches.items()))


async def watches(conn: asyncpg.Connection | asyncpg.Pool) -> dict[str, str]:
    return {r["symbol"]: r["watch"] for r in await conn.fetch("SELECT symbol, watch::text AS watch FROM drift_watch")}


async def record_sync(conn: asyncpg.Connection, reason: str, started_at: datetime, finished_at: datetime, ok: bool,
                      checked: int, mismatched: Sequence[str], drifts: Sequence[str], message: str) -> None:
    await conn.execute("INSERT INTO syncs (reason, started_at, finished_at, ok, checked, mismatched, drifts, message) "
                       "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", reason, started_at, finished_at, ok, checked,
                       list(mismatched), list(drifts), message)


async def last_sync(conn: asyncpg.Connection | asyncpg.Pool) -> tuple[datetime, bool] | None:
    row = await conn.fetchrow("SELECT finished_at, ok FROM syncs ORDER BY id DESC LIMIT 1")
    return None if row is None else (row["finished_at"], row["ok"])


# --- closing prices ------------------------------------------------------------------------------------------


async def record_closes(conn: asyncpg.Connection, day: date, prices: Mapping[str, Decimal]) -> None:
    await conn.executemany("INSERT INTO closes (symbol, day, price) VALUES ($1, $2, $3) "
                           "ON CONFLICT (symbol, day) DO UPDATE SET price = EXCLUDED.price",
                           [(symbol, day, price) for symbol, price in prices.items()])


async def scale_closes(conn: asyncpg.Connection, symbol: str, before: date, ratio: Decimal,
                       new_symbol: str | None) -> None:
    """A split or merger effective ``before``: earlier closes ÷ ``ratio`` (and under the new symbol)."""
    await conn.execute("UPDATE closes SET price = price / $3 WHERE symbol = $1 AND day < $2", symbol, before, ratio)
    if new_symbol and new_symbol != symbol:
        await conn.execute("DELETE FROM closes WHERE symbol = $1 AND day IN (SELECT day FROM closes WHERE symbol = $2)",
                           new_symbol, symbol)
        await conn.execute("UPDATE closes SET symbol = $2 WHERE symbol = $1", symbol, new_symbol)


async def closes(conn: asyncpg.Connection | asyncpg.Pool) -> list[tuple[str, date, Decimal]]:
    return [(r["symbol"], r["day"], r["price"]) for r in await conn.fetch("SELECT symbol, day, price FROM closes")]


# --- facts about the ledger ----------------------------------------------------------------------------------


async def get_state(conn: asyncpg.Connection | asyncpg.Pool, key: str) -> Any:
    value = await conn.fetchval("SELECT value::text FROM ledger_state WHERE key = $1", key)
    return None if value is None else json.loads(value)


async def set_state(conn: asyncpg.Connection, key: str, value: Any) -> None:
    await conn.execute("INSERT INTO ledger_state (key, value) VALUES ($1, $2) "
                       "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", key, json.dumps(value))
