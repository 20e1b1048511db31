"""risk-service as a real process against real NATS and PostgreSQL, as a trader meets it: orders cannot be split
around a limit while earlier ones still work (REDUCING, a short sale, a position cap); a cancel releases the room;
a fill holds its room until the broker's settled position has it, and not after; a restart keeps all of it (the
book is rebuilt from PostgreSQL). And the collars: passive and protective prices pass, a limit that would pay too
much is refused naming the side. The harness (`risk`) is in conftest.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tradebus_contracts import (
    CancelResult,
    FillReported,
    OrderStatusChanged,
    OrderSubmitted,
    RiskApproved,
    SubmissionFailed,
    signed_order,
)

pytestmark = pytest.mark.integration
GATEWAY = {"producer": "order-gateway", "symbol": "AAPL"}


@pytest.fixture
def service_env() -> dict[str, str]:
    return {"RISK_FILL_SETTLE_MARGIN_S": "0.2"}


async def decide(risk, order_requested, **fields):
    request = order_requested(**fields)
    await risk.request(request)
    return await risk.decision_for(request.order_id)


def codes(decision) -> set[str]:
    return set() if isinstance(decision, RiskApproved) else {r.code for r in decision.reasons}


async def eventually_approved(risk, order_requested, tries=20, **fields):
    """The order-outcome and fill consumers run beside the request consumer: ask until the change is in."""
    for _ in range(tries):
        decision = await decide(risk, order_requested, **fields)
        if isinstance(decision, RiskApproved):
            return decision
        await asyncio.sleep(0.25)
    raise AssertionError(f"never approved: {decision.message}")


async def holding(risk, qty: str, *, shortable: bool = True) -> None:
    """The broker's settled position is ``qty`` AAPL (is AAPL shortable?), and the service has seen it."""
    await risk.seed(shortable=shortable)
    await risk.set_position(qty)
    await asyncio.sleep(0.3)


async def restart(risk):
    risk.stop()
    risk.start()
    await risk.healthy()


def filled(approval, qty: str):
    """What the gateway publishes when an approved order fills completely: the fill, then the final status."""
    scoped = {**GATEWAY, "order_id": approval.order_id, "correlation_id": str(approval.order_id),
              "client_order_id": "tb-x", "broker_order_id": "b-x"}
    return [FillReported(**scoped, side=approval.side, execution_id=f"ex-{approval.order_id}", qty=Decimal(qty),
                         price=Decimal("187.20"), cum_qty=Decimal(qty), order_status="filled",
                         executed_at=datetime.now(UTC), source="stream"),
            OrderStatusChanged(**scoped, status="filled", filled_qty=Decimal(qty), source="stream")]


async def test_reducing_when_a_long_is_sold_twice_then_refused_kept_over_a_restart_and_released_by_a_cancel(
    risk, order_requested
):
    await risk.tradectl("halt", "--reducing", "--reason", "wind down")
    await holding(risk, "100")

    first = await decide(risk, order_requested, side="sell", qty="100")
    second = await decide(risk, order_requested, side="sell", qty="100")
    await restart(risk)
    after_restart = await decide(risk, order_requested, side="sell", qty="100")
    await risk.request(CancelResult(**GATEWAY, order_id=first.order_id, correlation_id=str(first.order_id),
                                    outcome="canceled_before_submit", filled_qty=Decimal(0), message="cancelled"))
    released = await eventually_approved(risk, order_requested, side="sell", qty="100")

    assert isinstance(first, RiskApproved)
    assert codes(second) == codes(after_restart) == {"TRADING_REDUCING_ONLY", "SELL_EXCEEDS_AVAILABLE"}
    assert "100 shares of open sells working" in second.message
    assert isinstance(released, RiskApproved)


async def test_short_sale_when_not_shortable_and_a_long_is_sold_in_two_then_refused_like_the_whole_even_after_a_restart(
    risk, order_requested
):
    await holding(risk, "100", shortable=False)

    first = await decide(risk, order_requested, side="sell", qty="100")
    second = await decide(risk, order_requested, side="sell", qty="100")
    whole = await decide(risk, order_requested, side="sell", qty="200")
    await restart(risk)
    after_restart = await decide(risk, order_requested, side="sell", qty="100")  # a forgotten first sell: approved

    assert isinstance(first, RiskApproved)
    assert "SHORT_NOT_ALLOWED" in codes(second) and "SHORT_NOT_ALLOWED" in codes(whole)
    assert "SHORT_NOT_ALLOWED" in codes(after_restart)


async def test_position_cap_when_flat_and_three_buys_of_45k_then_the_third_is_refused_also_after_a_restart(
    risk, order_requested
):
    await risk.seed(buying_power="1000000")  # only the position cap is in the way
    await asyncio.sleep(0.3)  # the account reaches risk's REFDATA watch
    decisions = [await decide(risk, order_requested, qty="240", limit_price="187.25") for _ in range(3)]
    await restart(risk)
    after_restart = await decide(risk, order_requested, qty="240", limit_price="187.25")  # flat without the book

    assert [isinstance(d, RiskApproved) for d in decisions] == [True, True, False]
    assert codes(decisions[2]) == codes(after_restart) == {"POSITION_NOTIONAL_EXCEEDS_LIMIT"}


async def test_position_cap_when_a_failed_order_is_submitted_late_after_all_then_it_holds_its_room_again_over_a_restart(
    risk, order_requested
):
    """Issue 11: the gateway adopts a POST that landed after it had given up (SubmissionFailed, then OrderSubmitted);
    risk had closed the order for good, so an adopted order still working counted no exposure."""
    await risk.seed(buying_power="1000000")  # only the position cap is in the way
    await asyncio.sleep(0.3)
    first = await decide(risk, order_requested, qty="240", limit_price="187.25")
    late = await decide(risk, order_requested, qty="240", limit_price="187.25")
    order = {**GATEWAY, "order_id": late.order_id, "correlation_id": str(late.order_id), "client_order_id": "tb-x"}
    await risk.request(SubmissionFailed(**order, message="not at the broker after the landing window"))
    await risk.request(OrderSubmitted(**(order | signed_order(late).model_dump()), broker_order_id="b-x",
                                      approval_id=late.approval_id, status="new", submitted_at=datetime.now(UTC)))
    await asyncio.sleep(1.0)  # risk reads order outcomes on a consumer of their own

    third = await decide(risk, order_requested, qty="240", limit_price="187.25")
    await restart(risk)
    after_restart = await decide(risk, order_requested, qty="240", limit_price="187.25")

    assert isinstance(first, RiskApproved) and isinstance(late, RiskApproved)
    assert codes(third) == codes(after_restart) == {"POSITION_NOTIONAL_EXCEEDS_LIMIT"}


async def test_fill_when_the_settled_position_lags_then_it_holds_its_room_over_a_restart_and_no_longer_once_settled(
    risk, order_requested
):
    await holding(risk, "100", shortable=False)
    sell = await decide(risk, order_requested, side="sell", qty="60")
    for event in filled(sell, "60"):
        await risk.request(event)
    await asyncio.sleep(0.5)

    in_flight = await decide(risk, order_requested, side="sell", qty="41")  # 100 - 60 filled - 41: a short
    await restart(risk)
    after_restart = await decide(risk, order_requested, side="sell", qty="41")
    await asyncio.sleep(0.3)  # past the settle margin
    await risk.set_position("40")  # the broker's position now has the fill
    settled = await eventually_approved(risk, order_requested, side="sell", qty="40")
    beyond = await decide(risk, order_requested, side="sell", qty="1")

    assert isinstance(sell, RiskApproved)
    assert "SHORT_NOT_ALLOWED" in codes(in_flight) and "SHORT_NOT_ALLOWED" in codes(after_restart)
    assert isinstance(settled, RiskApproved)  # the fill is not counted twice once the position has it
    assert "SHORT_NOT_ALLOWED" in codes(beyond)


async def test_collars_when_a_trader_places_passive_protective_and_overpaying_orders_then_only_overpaying_is_refused(
    risk, order_requested
):
    stop_loss = await decide(risk, order_requested, side="sell", type="stop", limit_price=None,
                             stop_price="159.12")  # 15 % under the bid of 187.20
    resting_bid = await decide(risk, order_requested, limit_price="149.84")  # 20 % under the ask of 187.30
    overpaying = await decide(risk, order_requested, limit_price="215.40")  # 15 % over the ask

    assert isinstance(stop_loss, RiskApproved) and isinstance(resting_bid, RiskApproved)
    assert codes(overpaying) == {"PRICE_COLLAR_BUY_LIMIT_ABOVE_ASK"}
    assert "a buy limit at $215.40 is 15% above the ask $187.30" in overpaying.message
