"""The REDUCING gate against the gateway's own orders still working (defence in depth behind risk): with plain values,
and as the real process against alpaca-sim — two sells of a long of 100 are not both submitted, a cancel at the
broker releases the room."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest

from order_gateway.gate import check
from order_gateway.positions import BrokerPositions
from tradebus_contracts import CancelRequested, OrderSide, TradingState, client_order_id_for
from tradebus_contracts.projection import Working
from tradectl.control import set_trading_state

from .builders import TRUSTED, approval
from .fakes import START

BUY, SELL = OrderSide.BUY, OrderSide.SELL
REDUCING = TradingState.REDUCING


@pytest.mark.parametrize(("working", "qty", "passes"), [
    ([], 100, True),
    ([Working(SELL, Decimal(100))], 100, False),  # the first sell of the whole long still works: this one goes short
    ([Working(SELL, Decimal(40))], 60, True),  # 40 working + 60 = the long of 100
    ([Working(SELL, Decimal(41))], 60, False),
    ([Working(BUY, Decimal(500))], 100, True),  # an open buy never takes away what a sell covers
    ([Working(SELL, None)], 1, False),  # a notional sell working: its size is unknown
])
def test_gate_when_reducing_a_long_of_100_with_orders_working_then_only_what_every_outcome_covers(working, qty,
                                                                                                 passes):
    refusal = check(approval(side="sell", qty=Decimal(qty)), TRUSTED, START, REDUCING, Decimal(100), working)

    assert (refusal is None) is passes
    if refusal is not None:
        assert refusal.code == "TRADING_REDUCING_ONLY"


def test_gate_when_refused_for_working_orders_then_the_message_says_so():
    refusal = check(approval(side="sell", qty=Decimal(100)), TRUSTED, START, REDUCING, Decimal(100),
                    [Working(SELL, Decimal(100))])

    assert "once the open sells of 100 working fill" in refusal.message


def test_positions_when_replaced_then_stamped_with_when_the_answer_came_in():
    clock = iter([START, START + timedelta(seconds=5)])
    positions = BrokerPositions(clock=lambda: next(clock))

    before = positions.as_of
    positions.replace({"AAPL": Decimal(10)})
    first = positions.as_of
    positions.replace({})

    assert before is None and first == START and positions.as_of == START + timedelta(seconds=5)


# --- the real process ---------------------------------------------------------------------------------------------


@pytest.fixture
def positions_every_half_second(monkeypatch):
    """Asked for before ``gateway``: the gateway it starts reads the broker's positions every half second."""
    monkeypatch.setenv("GATEWAY_ACCOUNT_INTERVAL_S", "0.5")


@pytest.mark.integration
async def test_reducing_when_a_long_of_100_is_sold_twice_then_the_second_is_refused_until_the_first_is_cancelled(
    positions_every_half_second, gateway
):
    buy = gateway.request(qty=Decimal(100))
    await gateway.publish(gateway.approve(buy))
    await gateway.final_status(buy.order_id)
    await asyncio.sleep(1.5)  # the gateway's positions now hold the long of 100
    await set_trading_state(gateway.nats_url, REDUCING, "wind down")
    await asyncio.sleep(0.5)
    resting = {"type": "limit", "side": "sell", "qty": Decimal(100), "limit_price": Decimal("200.00"),
               "time_in_force": "gtc"}
    first, second, third = (gateway.request(**resting) for _ in range(3))

    await gateway.publish(gateway.approve(first))
    await gateway.wait_for(lambda: gateway.of(first.order_id, "OrderSubmitted"), what="first sell submitted")
    await gateway.publish(gateway.approve(second))
    refused = await gateway.submission_failed(second.order_id)
    await gateway.publish(CancelRequested(producer="test", order_id=first.order_id,
                                          correlation_id=str(first.order_id), symbol="AAPL", requested_by="test"))
    await gateway.final_status(first.order_id)
    await gateway.publish(gateway.approve(third))
    await gateway.wait_for(lambda: gateway.of(third.order_id, "OrderSubmitted"), what="third sell submitted")

    assert "TRADING_REDUCING_ONLY" in refused.message and "open sells of 100 working" in refused.message
    assert await gateway.broker_orders(client_order_id_for(second.order_id)) == []
    assert (await gateway.broker_orders(client_order_id_for(third.order_id)))[0]["status"] in ("new", "accepted")
