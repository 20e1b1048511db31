"""Only signed approvals, exactly once: forged, tampered, expired, replayed and unsigned approvals submit nothing;
an ambiguous submit or a crash mid-submit leaves exactly one broker order; a silent stream is covered by polling."""

import asyncio
import signal
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import asyncpg
import pytest

from tradebus_contracts import OrderStatus, client_order_id_for
from tradebus_contracts.signing import generate_private_key

pytestmark = pytest.mark.integration


async def assert_never_submitted(gateway, request, reason_fragment):
    letters = await gateway.dead_letters()
    await asyncio.sleep(1.0)  # give a wrong gateway every chance to submit
    assert await gateway.broker_orders(client_order_id_for(request.order_id)) == []
    assert not gateway.of(request.order_id, "OrderSubmitted")
    assert reason_fragment in letters[0].reason


async def test_approval_when_signed_by_an_untrusted_key_then_nothing_is_submitted(gateway):
    request = gateway.request()

    await gateway.publish(gateway.approve(request, key=generate_private_key()))

    await assert_never_submitted(gateway, request, "UNKNOWN_KEY_ID")


async def test_approval_when_a_field_is_changed_after_signing_then_nothing_is_submitted(gateway):
    request = gateway.request(qty=Decimal("1"))
    tampered = gateway.approve(request).model_copy(update={"qty": Decimal("100")})

    await gateway.publish(tampered)

    await assert_never_submitted(gateway, request, "BAD_SIGNATURE")


async def test_approval_when_expired_then_nothing_is_submitted_and_the_order_ends_failed(gateway):
    """Issue 11, finding 8: an approval that expired while the gateway was down ended as a dead letter with no event
    on the order (left "approved" forever, its exposure never released). Now it ends with SubmissionFailed."""
    request = gateway.request()
    stale = gateway.approve(request, issued_at=datetime.now(UTC) - timedelta(minutes=5), ttl=timedelta(seconds=30))

    await gateway.publish(stale)

    assert "EXPIRED" in (await gateway.submission_failed(request.order_id)).message
    await asyncio.sleep(1.0)  # give a wrong gateway every chance to submit
    assert await gateway.broker_orders(client_order_id_for(request.order_id)) == []
    assert not gateway.of(request.order_id, "OrderSubmitted")
    await gateway.publish(stale.model_copy(update={"event_id": uuid4()}))  # the same approval again: nothing more
    await asyncio.sleep(0.5)
    assert len(gateway.of(request.order_id, "SubmissionFailed")) == 1


async def test_approval_when_unsigned_then_nothing_is_submitted(gateway):
    request = gateway.request()
    unsigned = gateway.approve(request).model_copy(update={"signature": ""})

    await gateway.publish(unsigned)

    await assert_never_submitted(gateway, request, "approval refused")


async def test_approval_when_replayed_as_a_new_message_then_the_broker_still_has_one_order(gateway):
    request = gateway.request()
    approval = gateway.approve(request)
    replay = approval.model_copy(update={"event_id": __import__("uuid").uuid4()})  # new message, same approval

    await gateway.publish(approval)
    await gateway.final_status(request.order_id)
    await gateway.publish(replay)
    await asyncio.sleep(1.5)

    assert len(await gateway.broker_orders(client_order_id_for(request.order_id))) == 1
    assert len(gateway.of(request.order_id, "OrderSubmitted")) == 1


async def test_approval_when_a_second_approval_targets_the_same_order_then_it_is_refused(gateway):
    request = gateway.request()
    await gateway.publish(gateway.approve(request))
    await gateway.final_status(request.order_id)

    await gateway.publish(gateway.approve(request))  # another approval_id for the same order_id

    await assert_never_submitted_twice(gateway, request)


async def assert_never_submitted_twice(gateway, request):
    letters = await gateway.dead_letters()
    assert "DUPLICATE_ORDER" in letters[0].reason
    assert len(await gateway.broker_orders(client_order_id_for(request.order_id))) == 1
    conn = await asyncpg.connect(gateway.database_url)
    try:
        seen = await conn.fetch("SELECT outcome, reason FROM order_gateway.approvals_seen WHERE order_id = $1 "
                                "ORDER BY seen_at", request.order_id)
    finally:
        await conn.close()
    assert [r["outcome"] for r in seen] == ["accepted", "refused"]  # the audit keeps the refusal and why
    assert "DUPLICATE_ORDER" in seen[1]["reason"]


async def test_submit_when_broker_stores_the_order_but_answers_504_then_exactly_one_broker_order(gateway):
    await gateway.admin("/admin/faults", {"method": "POST", "path": "/v2/orders", "status": 504, "times": 1,
                                          "after_effect": True})
    request = gateway.request()

    await gateway.publish(gateway.approve(request))
    final = await gateway.final_status(request.order_id)

    assert final.status == OrderStatus.FILLED
    assert len(await gateway.broker_orders(client_order_id_for(request.order_id))) == 1
    assert len(gateway.of(request.order_id, "OrderSubmitted")) == 1


async def test_submit_when_the_gateway_dies_mid_submit_then_after_restart_exactly_one_broker_order(gateway):
    # the broker takes the order and then sits on the answer; we kill -9 the gateway while it waits
    await gateway.admin("/admin/faults", {"method": "POST", "path": "/v2/orders", "delay_ms": 3000, "times": 1})
    request = gateway.request()

    await gateway.publish(gateway.approve(request))
    await asyncio.sleep(1.5)
    gateway.stop(signal.SIGKILL)
    gateway.start()
    await gateway.healthy()
    final = await gateway.final_status(request.order_id, timeout=30)

    assert final.status == OrderStatus.FILLED
    assert len(await gateway.broker_orders(client_order_id_for(request.order_id))) == 1
    assert len(gateway.of(request.order_id, "OrderSubmitted")) == 1


async def test_fills_when_the_stream_goes_silent_then_polling_reports_them_once(gateway):
    await gateway.admin("/admin/faults", {"method": "GET", "path": "/stream", "status": 503, "times": 0,
                                          "after_effect": True})
    await asyncio.sleep(0.5)
    await gateway.admin("/admin/liquidity", {"symbol": "AAPL", "max_fill_qty": "2"})
    request = gateway.request(qty=Decimal("4"))

    await gateway.publish(gateway.approve(request))
    final = await gateway.final_status(request.order_id, timeout=30)
    fills = gateway.of(request.order_id, "FillReported")

    assert final.status == OrderStatus.FILLED
    assert sum(f.qty for f in fills) == Decimal("4")
    assert len({f.execution_id for f in fills}) == len(fills)
    assert {f.source for f in fills} == {"poll"}  # the stream said nothing: polling found every fill


async def test_approval_when_trading_is_halted_then_the_gateway_refuses_it_too(gateway):
    from tradebus_contracts import TradingState
    from tradectl.control import set_trading_state

    await set_trading_state(gateway.nats_url, TradingState.HALTED, "test")
    await asyncio.sleep(0.5)
    request = gateway.request()

    await gateway.publish(gateway.approve(request))

    assert "TRADING_HALTED" in (await gateway.submission_failed(request.order_id)).message
    await asyncio.sleep(1.0)  # give a wrong gateway every chance to submit
    assert await gateway.broker_orders(client_order_id_for(request.order_id)) == []


async def land_late(gateway, request):
    """The POST we gave up on lands after all: the broker gets the order with its client_order_id."""
    landed = await gateway.http.post(
        "/v2/orders", headers={"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"},
        json={"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day",
              "client_order_id": client_order_id_for(request.order_id)})
    assert landed.status_code == 200, landed.text


@pytest.fixture
def short_landing_window(monkeypatch):
    """Asked for before ``gateway``: broker calls time out after 1 s, and a POST may land up to 2 s after that."""
    monkeypatch.setenv("GATEWAY_BROKER_TIMEOUT_S", "1")
    monkeypatch.setenv("GATEWAY_LANDING_MARGIN_S", "2")


async def test_submit_when_every_post_fails_until_expiry_then_pending_through_the_landing_window_and_late_order_adopted(
        short_landing_window, gateway):
    """Issue 11, finding 1: a POST that failed ambiguously, then "not found" after the approval expired, was recorded
    failed at once — and the broker's order, when the POST landed after all, was ignored (no fill counted). Now the
    order stays pending until the landing window has passed; and a late order is adopted, never dropped."""
    await gateway.admin("/admin/faults", {"method": "POST", "path": "/v2/orders", "status": 504, "times": 0})
    request = gateway.request()
    approval = gateway.approve(request, ttl=timedelta(seconds=1))

    await gateway.publish(approval)
    await asyncio.sleep((approval.expires_at - datetime.now(UTC)).total_seconds() + 0.5)
    assert not gateway.of(request.order_id, "SubmissionFailed")  # not found proves nothing yet
    failed = await gateway.submission_failed(request.order_id, timeout=20)
    assert "could have been sent" in failed.message
    assert datetime.now(UTC) - approval.expires_at >= timedelta(seconds=2)  # at least the margin after the last POST

    await gateway.admin("/admin/faults", method="DELETE")
    await land_late(gateway, request)
    final = await gateway.final_status(request.order_id, timeout=20)

    assert final.status == OrderStatus.FILLED and len(gateway.of(request.order_id, "OrderSubmitted")) == 1
    assert sum(f.qty for f in gateway.of(request.order_id, "FillReported")) == Decimal(1)
    assert "gateway.late_order_adopted" in gateway.log_text()


async def test_late_order_when_the_stream_is_silent_then_polling_finds_it_adopts_it_and_counts_its_fill(
        short_landing_window, gateway):
    """Issue 11: a POST that landed after its order was recorded failed was adopted only when the stream or a webhook
    reported it — polling followed submitted rows alone. Now polling matches the broker's recent orders against the
    rows it has not seen there (pending, or failed lately)."""
    await gateway.admin("/admin/faults", {"method": "POST", "path": "/v2/orders", "status": 504, "times": 0})
    request = gateway.request()
    await gateway.publish(gateway.approve(request, ttl=timedelta(seconds=1)))
    await gateway.submission_failed(request.order_id, timeout=20)
    await gateway.admin("/admin/faults", method="DELETE")
    await gateway.admin("/admin/faults", {"method": "GET", "path": "/stream", "status": 503, "times": 0,
                                          "after_effect": True})  # the stream stays connected and says nothing

    await land_late(gateway, request)
    final = await gateway.final_status(request.order_id, timeout=20)
    fills = gateway.of(request.order_id, "FillReported")

    assert final.status == OrderStatus.FILLED and final.source == "poll"
    assert len(gateway.of(request.order_id, "OrderSubmitted")) == 1
    assert sum(f.qty for f in fills) == Decimal(1) and {f.source for f in fills} == {"poll"}
    assert "gateway.late_order_adopted" in gateway.log_text()
