"""A cancel that arrives while its order is being submitted waits for the submit (as for a dependency) and then
ends with a CancelResult; it is never dead-lettered, however long the submit takes to resolve."""

import asyncio
from datetime import timedelta
from decimal import Decimal

import asyncpg
import pytest

from order_gateway.app import CANCELS
from order_gateway.cancels import SubmitInFlight
from tradebus_contracts import CancelOutcome, CancelRequested, OrderStatus
from tradebus_runtime.bus import Bury, Retry

from .builders import verdicts_on


def test_cancel_when_the_submit_stays_unresolved_delivery_after_delivery_then_it_waits_and_is_never_dead_lettered():
    """The cancel consumer's own settings and the runtime's verdict, delivery after delivery (as the consumer does)."""
    verdicts = verdicts_on(SubmitInFlight("order 1 is being submitted"), CANCELS)

    assert [v for v in verdicts if isinstance(v, Bury)] == []
    assert all(isinstance(v, Retry) and v.transient and v.delay_s <= CANCELS.transient_retry_max_s for v in verdicts)


async def pending(gateway, order_id, timeout=10.0):
    """Until the gateway has recorded the order pending (the POST is on its way)."""
    conn = await asyncpg.connect(gateway.database_url)
    try:
        for _ in range(int(timeout / 0.05)):
            state = await conn.fetchval("SELECT state FROM order_gateway.orders WHERE order_id = $1", order_id)
            if state == "pending":
                return
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise AssertionError(f"order {order_id} never pending")


@pytest.mark.integration
async def test_cancel_when_the_order_is_being_submitted_then_it_waits_for_the_submit_and_ends_with_a_cancel_result(
        gateway):
    # the broker sits on the POST for 4 s: the order stays pending while the cancel is delivered again and again
    await gateway.admin("/admin/faults", {"method": "POST", "path": "/v2/orders", "delay_ms": 4000, "times": 1})
    request = gateway.request(type="limit", qty=Decimal("1"), limit_price=Decimal("150.00"))  # rests: cancelable
    await gateway.publish(gateway.approve(request, ttl=timedelta(seconds=60)))
    await pending(gateway, request.order_id)

    await gateway.publish(CancelRequested(producer="test", order_id=request.order_id,
                                          correlation_id=str(request.order_id), symbol="AAPL", requested_by="test"))
    await gateway.wait_for(lambda: gateway.of(request.order_id, "CancelResult"), timeout=30, what="CancelResult")
    (result,) = gateway.of(request.order_id, "CancelResult")
    final = await gateway.final_status(request.order_id)

    assert result.outcome == CancelOutcome.CANCELED and final.status == OrderStatus.CANCELED
    log = gateway.log_text()
    assert "consumer.waiting_for_dependency" in log and "SubmitInFlight" in log  # it did wait for the submit
    failed = [line for line in log.splitlines() if "consumer.handler_failed" in line and "CancelRequested" in line]
    assert failed == []  # counted as a wait, not toward dead-lettering
