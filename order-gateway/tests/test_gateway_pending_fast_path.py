"""The submit path's one-statement writes against a real PostgreSQL: the broker lease and a new order's pending row
(store.submit_lease), none where the order has a row or another replica holds the lease; the confirmation, its
audit row, its events and the end of the lease (store.confirm_pending), and nothing at all once anything else
touched the row."""

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
    """One replica's pool and outbox, and a second replica's pool on the same schema."""
    nc = await connect(nats_url, "test")
    pool = await open_database(database_url, "gateway-fast-path", "order_gateway")
    other = await open_database(database_url, "gateway-fast-path", "order_gateway")
    async with pool.acquire() as conn:
        await ensure_outbox(conn)
    yield pool, Outbox(pool, Bus(nc, "order-gateway")), other
    await pool.close()
    await other.close()
    await nc.close()


def new_order(approved):
    return store.PendingOrder(approved.order_id, client_order_id_for(approved.order_id), approved.approval_id,
                              approved.symbol, signed_order(approved).model_dump(mode="json"), approved.expires_at,
                              seen=(approved.event_id, "accepted", None))


def status_event(order_id):
    return OrderStatusChanged(producer="order-gateway", order_id=order_id, correlation_id=str(order_id),
                              client_order_id=client_order_id_for(order_id), broker_order_id="b-1", symbol="AAPL",
                              status="new", filled_qty=Decimal(0), source="lookup")


async def confirm(lease, outbox, events):
    return await store.confirm_pending(lease, lease.pending, "b-1", "new", Decimal(0), Decimal(0),
                                       BrokerCall("submit", 200),
                                       outbox.insert_claimed(events, first=10, only_if="EXISTS (SELECT 1 FROM upd)"))


async def lease_free(pool, order_id):
    async with store.broker_lease(pool, order_id) as held:
        return held


async def test_fast_path_when_the_order_is_new_then_lease_and_pending_in_one_statement_and_the_confirmation_ends_it(
        parts):
    pool, outbox, other = parts
    approved = approval()
    events = (status_event(approved.order_id), status_event(approved.order_id))

    async with store.submit_lease(pool, approved.order_id, new_order(approved)) as lease:
        seen = await pool.fetchval("SELECT outcome FROM approvals_seen WHERE event_id = $1", approved.event_id)
        taken_meanwhile = await lease_free(other, approved.order_id)
        written = await confirm(lease, outbox, events)
        free_after_confirm = await lease_free(other, approved.order_id)

    row = await store.get_order(pool, approved.order_id)
    assert lease.held and lease.pending.row.state == SubmitState.PENDING and seen == "accepted"
    assert taken_meanwhile is False and written is True and lease.released and free_after_confirm is True
    assert (row.state, row.broker_order_id, row.broker_status) == (SubmitState.SUBMITTED, "b-1", "new")
    assert [tuple(r) for r in await pool.fetch("SELECT call, http_status FROM broker_calls WHERE order_id = $1",
                                                approved.order_id)] == [("submit", 200)]
    outboxed = await pool.fetch("SELECT event_id, claimed_by FROM outbox WHERE event_id = ANY($1::uuid[]) ORDER BY id",
                                [e.event_id for e in events])
    assert [r["event_id"] for r in outboxed] == [e.event_id for e in events]
    assert all(r["claimed_by"] and r["claimed_by"].startswith("order-gateway@") for r in outboxed)


async def test_fast_path_when_anything_touched_the_row_since_then_the_confirmation_writes_nothing_and_keeps_the_lease(
        parts):
    pool, outbox, other = parts
    approved = approval()
    events = (status_event(approved.order_id),)

    async with store.submit_lease(pool, approved.order_id, new_order(approved)) as lease:
        await store.mark_cancel_requested(pool, approved.order_id, datetime.now(UTC))  # a cancel came meanwhile
        written = await confirm(lease, outbox, events)
        still_ours = not await lease_free(other, approved.order_id)
    free_after = await lease_free(other, approved.order_id)

    row = await store.get_order(pool, approved.order_id)
    assert written is False and not lease.released and still_ours and free_after
    assert row.state == SubmitState.PENDING and row.broker_order_id is None
    assert await pool.fetchval("SELECT count(*) FROM broker_calls WHERE order_id = $1", approved.order_id) == 0
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE event_id = $1", events[0].event_id) == 0


async def test_fast_path_when_the_order_has_a_row_already_then_the_lease_is_held_and_nothing_is_written(parts):
    pool, _, _ = parts
    approved = approval()
    async with pool.acquire() as conn:
        await store.insert_canceled_before_submit(conn, approved.order_id, client_order_id_for(approved.order_id),
                                                  "AAPL", datetime.now(UTC) - timedelta(seconds=1))

    async with store.submit_lease(pool, approved.order_id, new_order(approved)) as lease:
        held, pending = lease.held, lease.pending

    row = await store.get_order(pool, approved.order_id)
    seen = await pool.fetchval("SELECT count(*) FROM approvals_seen WHERE event_id = $1", approved.event_id)
    assert held is True and pending is None and seen == 0
    assert row.state == SubmitState.CANCELED_BEFORE_SUBMIT and row.approval_id is None


async def test_fast_path_when_another_replica_holds_the_lease_then_no_row_is_written(parts):
    pool, _, other = parts
    approved = approval()

    async with store.broker_lease(other, approved.order_id) as other_holds:
        async with store.submit_lease(pool, approved.order_id, new_order(approved)) as lease:
            held, pending = lease.held, lease.pending

    assert other_holds is True and held is False and pending is None
    assert await store.get_order(pool, approved.order_id) is None
    assert await pool.fetchval("SELECT count(*) FROM approvals_seen WHERE event_id = $1", approved.event_id) == 0
