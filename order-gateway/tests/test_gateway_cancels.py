"""Cancel with verification: the CancelResult says what really happened at the broker."""

import asyncio
from decimal import Decimal
from uuid import uuid4

import pytest

from tradebus_contracts import CancelOutcome, CancelRequested, OrderStatus, client_order_id_for

pytestmark = pytest.mark.integration


def cancel_of(request):
    return CancelRequested(producer="test", order_id=request.order_id, correlation_id=str(request.order_id),
                           symbol=request.symbol, requested_by="test")


async def result_of(gateway, request):
    await gateway.wait_for(lambda: gateway.of(request.order_id, "CancelResult"), what="CancelResult")
    return gateway.of(request.order_id, "CancelResult")[0]


async def test_cancel_when_order_rests_at_the_broker_then_canceled_and_confirmed(gateway):
    request = gateway.request(type="limit", qty=Decimal("1"), limit_price=Decimal("150.00"))
    await gateway.publish(gateway.approve(request))
    await gateway.wait_for(lambda: gateway.of(request.order_id, "OrderSubmitted"), what="submitted")

    await gateway.publish(cancel_of(request))
    result = await result_of(gateway, request)
    final = await gateway.final_status(request.order_id)

    assert result.outcome == CancelOutcome.CANCELED and result.filled_qty == 0
    assert final.status == OrderStatus.CANCELED
    assert (await gateway.broker_orders(client_order_id_for(request.order_id)))[0]["status"] == "canceled"


async def test_cancel_when_order_already_filled_then_too_late_filled(gateway):
    request = gateway.request(type="market", qty=Decimal("2"))
    await gateway.publish(gateway.approve(request))
    await gateway.final_status(request.order_id)

    await gateway.publish(cancel_of(request))
    result = await result_of(gateway, request)

    assert result.outcome == CancelOutcome.TOO_LATE_FILLED and result.filled_qty == Decimal("2")


async def test_cancel_when_partially_filled_then_rest_canceled_and_filled_part_reported(gateway):
    await gateway.admin("/admin/liquidity", {"symbol": "AAPL", "max_fill_qty": "1"})
    request = gateway.request(type="limit", qty=Decimal("5"), limit_price=Decimal("187.30"))
    await gateway.publish(gateway.approve(request))
    await gateway.wait_for(lambda: gateway.of(request.order_id, "FillReported"), what="a first fill")
    await gateway.quote("AAPL", "190.00", "190.10")  # the market runs away: the rest of the limit rests

    await gateway.publish(cancel_of(request))
    result = await result_of(gateway, request)

    assert result.outcome in (CancelOutcome.TOO_LATE_PARTIALLY_FILLED, CancelOutcome.TOO_LATE_FILLED)
    assert result.filled_qty == sum(f.qty for f in gateway.of(request.order_id, "FillReported"))
    assert 0 < result.filled_qty <= Decimal("5")


async def test_cancel_when_order_not_yet_submitted_then_it_never_will_be(gateway):
    request = gateway.request()

    await gateway.publish(cancel_of(request))
    result = await result_of(gateway, request)
    await gateway.publish(gateway.approve(request))  # the approval arrives after the cancel
    await asyncio.sleep(1.5)

    assert result.outcome == CancelOutcome.CANCELED_BEFORE_SUBMIT
    assert await gateway.broker_orders(client_order_id_for(request.order_id)) == []
    assert not gateway.of(request.order_id, "OrderSubmitted")


async def test_cancel_when_order_is_unknown_everywhere_then_recorded_so_it_can_never_be_submitted(gateway):
    request = gateway.request(order_id=uuid4())

    await gateway.publish(cancel_of(request))

    assert (await result_of(gateway, request)).outcome == CancelOutcome.CANCELED_BEFORE_SUBMIT
