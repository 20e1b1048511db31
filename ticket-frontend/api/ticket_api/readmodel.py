"""The read model in PostgreSQL (schema ``ticket_api``): what the blotter and the order view read.

Three durable consumers (one per stream: ORDERS, RISK, FILLS) feed `ReadModel.handle`. Each event is taken in
one transaction: record it in ``order_events`` (primary key event_id: a redelivery or a re-publish is
skipped), lock the order (an advisory lock, because its row may not exist yet and the three consumers run
concurrently), fold the event into the order's state with the pure `reducer.reduce`, write the row back. The
row keeps the order's fields in columns of their own (null until an event carrying them arrives); `_state` and
`_row_values` translate between a row and an `OrderState` holding the contract's ``OrderFields``.
"""

from __future__ import annotations

import json
from typing import Any, Literal
from uuid import UUID

import asyncpg
from nats.aio.msg import Msg

from tradebus_contracts import CancelOutcome, OrderFields, encode_event
from tradebus_contracts.consumers import TICKET_FILLS, TICKET_ORDERS, TICKET_RISK
from tradebus_contracts.envelope import Envelope
from tradebus_contracts.orders import FINAL_PROGRESS, OPEN_PROGRESS, OrderProgress
from tradebus_runtime import ConsumerSpec, get_logger

from .reducer import ORDER_EVENTS, OrderState, reduce, starts_an_order, summarize

log = get_logger(__name__)

StatusFilter = Literal["open", "closed", "all"]

_FIELD_COLUMNS = tuple(name for name in OrderFields.model_fields if name != "symbol")
_STATE_COLUMNS = (
    "order_id", "symbol", *_FIELD_COLUMNS, "status", "filled_qty", "filled_avg_price", "reject_reasons",
    "cancel_outcome", "created_at", "updated_at",
)
_UPSERT = (
    f"INSERT INTO orders ({', '.join(_STATE_COLUMNS)}) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(_STATE_COLUMNS) + 1))}) "
    "ON CONFLICT (order_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _STATE_COLUMNS[1:])
)


def consumer_specs() -> list[ConsumerSpec]:
    """The read model's durable consumers: every event about an order, from each stream that carries one."""
    return [ConsumerSpec.of(durable) for durable in (TICKET_ORDERS, TICKET_RISK, TICKET_FILLS)]


class ReadModel:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def handle(self, event: Envelope, _: Msg | None = None) -> None:
        """Consumer handler: apply the event (anything not about an order is acknowledged and ignored)."""
        if isinstance(event, ORDER_EVENTS):
            await self.apply(event)

    async def apply(self, event: Envelope) -> bool:
        """Fold one event in; False when it was already applied."""
        order_id: UUID = event.order_id  # type: ignore[attr-defined]
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"ticket-order:{order_id}")
            inserted = await conn.fetchval(
                """INSERT INTO order_events (event_id, order_id, event_type, occurred_at, summary, payload)
                   VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (event_id) DO NOTHING RETURNING true""",
                event.event_id, order_id, event.event_type, event.occurred_at, summarize(event),
                encode_event(event).decode(),
            )
            if not inserted:
                return False
            row = await conn.fetchrow("SELECT * FROM orders WHERE order_id = $1", order_id)
            if row is None and not starts_an_order(event):
                log.info("ticket.event_for_unknown_order", order_id=str(order_id), event_type=event.event_type)
                return True
            state = reduce(None if row is None else _state(row), event)
            await conn.execute(_UPSERT, *_row_values(state))
        log.info("ticket.order_event", order_id=str(order_id), event_type=event.event_type, status=state.status)
        return True

    async def order(self, order_id: UUID) -> OrderState | None:
        row = await self._pool.fetchrow("SELECT * FROM orders WHERE order_id = $1", order_id)
        return None if row is None else _state(row)

    async def timeline(self, order_id: UUID) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT event_type, occurred_at, summary, payload FROM order_events WHERE order_id = $1 "
            "ORDER BY occurred_at, seq", order_id)
        return [{"event_type": r["event_type"], "occurred_at": r["occurred_at"], "summary": r["summary"],
                 "event": json.loads(r["payload"])} for r in rows]

    async def count_events(self, order_id: UUID, event_type: str) -> int:
        return await self._pool.fetchval(
            "SELECT count(*) FROM order_events WHERE order_id = $1 AND event_type = $2", order_id, event_type)

    async def orders(self, status: StatusFilter = "all", limit: int = 50) -> list[OrderState]:
        wanted = {"open": OPEN_PROGRESS, "closed": FINAL_PROGRESS, "all": set(OrderProgress)}[status]
        rows = await self._pool.fetch(
            "SELECT * FROM orders WHERE status = ANY($1::text[]) ORDER BY created_at DESC, order_id LIMIT $2",
            sorted(str(s) for s in wanted), limit)
        return [_state(r) for r in rows]


def _state(row: asyncpg.Record) -> OrderState:
    reasons = row["reject_reasons"]
    return OrderState(
        order_id=row["order_id"], symbol=row["symbol"], status=OrderProgress(row["status"]),
        created_at=row["created_at"], updated_at=row["updated_at"],
        fields=None if row["type"] is None else OrderFields.model_validate(
            {"symbol": row["symbol"], **{c: row[c] for c in _FIELD_COLUMNS}}),
        filled_qty=row["filled_qty"], filled_avg_price=row["filled_avg_price"],
        reject_reasons=tuple(json.loads(reasons) if isinstance(reasons, str) else reasons),
        cancel_outcome=None if row["cancel_outcome"] is None else CancelOutcome(row["cancel_outcome"]),
    )


def _row_values(state: OrderState) -> list[Any]:
    fields = dict.fromkeys(_FIELD_COLUMNS) if state.fields is None else state.fields.model_dump()
    values = {**fields, "order_id": state.order_id, "symbol": state.symbol, "status": str(state.status),
              "filled_qty": state.filled_qty, "filled_avg_price": state.filled_avg_price,
              "reject_reasons": json.dumps(list(state.reject_reasons)), "cancel_outcome": state.cancel_outcome,
              "created_at": state.created_at, "updated_at": state.updated_at}
    return [values[c] for c in _STATE_COLUMNS]
