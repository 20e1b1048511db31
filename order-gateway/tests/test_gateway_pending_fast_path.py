"""The submit path's one-statement writes (store.insert_new_pending, store.confirm_pending) against a real
PostgreSQL: a new order's pending row and its approval seen in one statement, none where the order has a row; the
confirmation, its audit row and its events in one statement, and nothing at all once anything else touched the row."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from order_gateway import store
from order_gateway.model import BrokerCall, SubmitState
from tradebus_contracts import OrderStatusChanged, client_order_id_for, signed_order
from tradebus_runtime.bus import Bus, connect
from tradebus_runtime.db import open_database
from tradebus_runtime.outbox import Outbox, ensure_outbox

from .builders import approval

pytestmark = pytest.mark.integration


@pytest.fixture
async def parts(nats_url, database_url):
    nc = await connect(nats_url, "test")
    pool = await open_database(database_url, "gateway-fast-path", "order_gateway")
    async with pool.acquire() as conn:
        await ensure_outbox(conn)
    yield pool, Outbox(pool, Bus(nc, "order-gateway"))
    await pool.close()
    await nc.close()


async def new_pending(conn, approved):
    return await store.insert_new_pending(
        conn, approved.order_id, client_order_id_for(approved.order_id), approved.approval_id, approved.symbol,
        signed_order(approved).model_dump(mode="json"), approved.expires_at,
        seen=(approved.event_id, "accepted", None))


def status_event(order_id):
    return OrderStatusChanged(producer="order-gateway", order_id=order_id, correlation_id=str(order_id),
                              client_order_id=client_order_id_for(order_id), broker_order_id="b-1", symbol="AAPL",
                              status="new", filled_qty=Decimal(0), source="lookup")


async def confirm(conn, outbox, pending, events):
    return await store.confirm_pending(conn, pending, "b-1", "new", Decimal(0), Decimal(0), BrokerCall("submit", 200),
                                       outbox.insert_claimed(events, first=9, only_if="EXISTS (SELECT 1 FROM upd)"))


async def test_fast_path_when_the_order_is_new_then_pending_and_seen_in_one_statement_and_confirmed_with_its_events(
        parts):
    pool, outbox = parts
    approved = approval()
    events = (status_event(approved.order_id), status_event(approved.order_id))

    async with pool.acquire() as conn:
        pending = await new_pending(conn, approved)
        seen = await conn.fetchval("SELECT outcome FROM approvals_seen WHERE event_id = $1", approved.event_id)
        written = await confirm(conn, outbox, pending, events)

    row = await store.get_order(pool, approved.order_id)
    assert pending.row.state == SubmitState.PENDING and pending.row.approval_id == approved.approval_id
    assert seen == "accepted" and written is True
    assert (row.state, row.broker_order_id, row.broker_status) == (SubmitState.SUBMITTED, "b-1", "new")
    assert [tuple(r) for r in await pool.fetch("SELECT call, http_status FROM broker_calls WHERE order_id = $1",
                                                approved.order_id)] == [("submit", 200)]
    outboxed = await pool.fetch("SELECT event_id, claimed_by FROM outbox WHERE event_id = ANY($1::uuid[]) ORDER BY id",
                                [e.event_id for e in events])
    assert [r["event_id"] for r in outboxed] == [e.event_id for e in events]
    assert all(r["claimed_by"] and r["claimed_by"].startswith("order-gateway@") for r in outboxed)


async def test_fast_path_when_anything_touched_the_row_since_then_the_confirmation_writes_nothing(parts):
    pool, outbox = parts
    approved = approval()
    events = (status_event(approved.order_id),)

    async with pool.acquire() as conn:
        pending = await new_pending(conn, approved)
        await store.mark_cancel_requested(conn, approved.order_id, datetime.now(UTC))  # a cancel came meanwhile
        written = await confirm(conn, outbox, pending, events)

    row = await store.get_order(pool, approved.order_id)
    assert written is False and row.state == SubmitState.PENDING and row.broker_order_id is None
    assert await pool.fetchval("SELECT count(*) FROM broker_calls WHERE order_id = $1", approved.order_id) == 0
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE event_id = $1", events[0].event_id) == 0


async def test_fast_path_when_the_order_has_a_row_already_then_nothing_is_written_and_none_is_returned(parts):
    pool, _ = parts
    approved = approval()

    async with pool.acquire() as conn:
        await store.insert_canceled_before_submit(conn, approved.order_id, client_order_id_for(approved.order_id),
                                                  "AAPL", datetime.now(UTC) - timedelta(seconds=1))
        pending = await new_pending(conn, approved)
        seen = await conn.fetchval("SELECT count(*) FROM approvals_seen WHERE event_id = $1", approved.event_id)

    row = await store.get_order(pool, approved.order_id)
    assert pending is None and seen == 0
    assert row.state == SubmitState.CANCELED_BEFORE_SUBMIT and row.approval_id is None
