"""Each order type reaches the broker exactly once through alpaca-py and is tracked to its final state."""

from decimal import Decimal

import pytest

from tradebus_contracts import OrderStatus, client_order_id_for

pytestmark = pytest.mark.integration


async def submit_and_wait(gateway, request):
    approval = gateway.approve(request)
    await gateway.publish(approval)
    await gateway.wait_for(lambda: gateway.of(request.order_id, "OrderSubmitted"), what="OrderSubmitted")
    return approval


async def test_market_order_when_approved_then_submitted_once_and_filled_at_the_ask(gateway):
    request = gateway.request(type="market", qty=Decimal("3"))

    await submit_and_wait(gateway, request)
    final = await gateway.final_status(request.order_id)
    fills = gateway.of(request.order_id, "FillReported")

    assert final.status == OrderStatus.FILLED and final.filled_qty == Decimal("3")
    assert sum(f.qty for f in fills) == Decimal("3") and {f.price for f in fills} == {Decimal("187.30")}
    assert len(await gateway.broker_orders(client_order_id_for(request.order_id))) == 1


async def test_limit_order_when_not_crossed_then_rests_then_fills_when_the_market_comes(gateway):
    request = gateway.request(type="limit", qty=Decimal("2"), limit_price=Decimal("180.00"))

    await submit_and_wait(gateway, request)
    await gateway.wait_for(lambda: any(e.status == OrderStatus.NEW for e in gateway.of(request.order_id, "OrderStatusChanged")),
                           what="resting")
    assert not gateway.of(request.order_id, "FillReported")
    await gateway.quote("AAPL", "179.90", "179.95")
    final = await gateway.final_status(request.order_id)

    assert final.status == OrderStatus.FILLED
    assert [f.price for f in gateway.of(request.order_id, "FillReported")] == [Decimal("179.95")]


async def test_stop_order_when_price_crosses_the_stop_then_it_triggers_and_fills(gateway):
    request = gateway.request(type="stop", side="buy", qty=Decimal("1"), stop_price=Decimal("190.00"))

    await submit_and_wait(gateway, request)
    await gateway.quote("AAPL", "190.10", "190.20")
    final = await gateway.final_status(request.order_id)

    assert final.status == OrderStatus.FILLED and final.filled_qty == Decimal("1")


async def test_stop_limit_order_when_triggered_then_rests_as_limit_and_fills_at_or_better(gateway):
    request = gateway.request(type="stop_limit", side="buy", qty=Decimal("1"), stop_price=Decimal("190.00"),
                              limit_price=Decimal("190.50"))

    await submit_and_wait(gateway, request)
    await gateway.quote("AAPL", "190.10", "190.40")
    final = await gateway.final_status(request.order_id)

    assert final.status == OrderStatus.FILLED
    assert all(f.price <= Decimal("190.50") for f in gateway.of(request.order_id, "FillReported"))


@pytest.mark.parametrize("fields", [{"qty": Decimal("0.001")}, {"qty": Decimal("1.5")},
                                    {"qty": None, "notional": Decimal("50.00")}], ids=["min-qty", "fractional", "notional"])
async def test_fractional_order_when_approved_then_fills_with_decimal_quantities(gateway, fields):
    request = gateway.request(type="market", **fields)

    await submit_and_wait(gateway, request)
    final = await gateway.final_status(request.order_id)
    fills = gateway.of(request.order_id, "FillReported")

    assert final.status == OrderStatus.FILLED
    assert sum(f.qty for f in fills) == final.filled_qty
    if fields.get("qty"):
        assert final.filled_qty == fields["qty"]


async def test_partial_fills_when_liquidity_is_capped_then_one_fill_reported_per_execution(gateway):
    await gateway.admin("/admin/liquidity", {"symbol": "AAPL", "max_fill_qty": "2"})
    request = gateway.request(type="market", qty=Decimal("5"))

    await submit_and_wait(gateway, request)
    final = await gateway.final_status(request.order_id)
    fills = gateway.of(request.order_id, "FillReported")

    assert final.status == OrderStatus.FILLED
    assert [f.qty for f in fills] == [Decimal("2"), Decimal("2"), Decimal("1")]
    assert len({f.execution_id for f in fills}) == 3
    assert [f.cum_qty for f in fills] == [Decimal("2"), Decimal("4"), Decimal("5")]


async def test_broker_refusal_when_buying_power_is_short_then_submission_failed_with_alpacas_code(gateway):
    request = gateway.request(type="market", qty=Decimal("100000"))

    await gateway.publish(gateway.approve(request))
    await gateway.wait_for(lambda: gateway.of(request.order_id, "SubmissionFailed"), what="SubmissionFailed")
    failed = gateway.of(request.order_id, "SubmissionFailed")[0]

    assert failed.http_status == 403 and failed.code == 40310000
    assert "buying power" in failed.message
    assert not gateway.of(request.order_id, "OrderSubmitted")
