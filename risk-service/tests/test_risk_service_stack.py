"""The collars through the whole stack as `make up` runs it (risk-service, order-gateway, alpaca-sim through
alpaca-py): a stop-loss 15 % under the bid and a resting bid 20 % under the ask are approved and rest at the broker;
a buy limit 15 % over the ask is refused with a reason that names the side, and never reaches the broker; a sell the
broker would refuse for want of shares (a stop-loss holds them all) is refused by risk first."""

from __future__ import annotations

import asyncio
import uuid
from decimal import ROUND_DOWN, Decimal

import nats
import pytest

from tradebus_contracts import OrderRequested, decode_event, encode_event, subject_for
from tradebus_contracts.refdata import REFDATA_BUCKET, QuoteRef, quote_key
from tradectl.testing import stack_endpoints, wait_for_reference_data

pytestmark = pytest.mark.integration
CENT = Decimal("0.01")


def cents(price: Decimal) -> Decimal:
    return price.quantize(CENT, ROUND_DOWN)


def an_order(**fields) -> OrderRequested:
    order_id = uuid.uuid4()
    return OrderRequested(producer="test", order_id=order_id, correlation_id=str(order_id), symbol="AAPL",
                          **{"time_in_force": "gtc", "qty": Decimal("1"), **fields})


class Watch:
    """The stack's NATS with every event on ``subjects`` collected, and the AAPL quote risk judges against."""

    def __init__(self, nc, events: list, quote: QuoteRef) -> None:
        self.nc, self.js, self.events, self.quote = nc, nc.jetstream(), events, quote

    @classmethod
    async def open(cls, running_stack, *subjects: str) -> Watch:
        home, _, _ = running_stack
        nats_url = stack_endpoints(home)["nats_url"]
        await wait_for_reference_data(nats_url)
        nc = await nats.connect(nats_url)
        events: list = []

        async def collect(msg) -> None:
            events.append(decode_event(msg.data))

        for subject in subjects:
            await nc.subscribe(subject, cb=collect)
        kv = await nc.jetstream().key_value(REFDATA_BUCKET)
        return cls(nc, events, QuoteRef.model_validate_json((await kv.get(quote_key("AAPL"))).value))

    def of(self, request, event_type):
        return [e for e in self.events
                if getattr(e, "order_id", None) == request.order_id and e.event_type == event_type]


async def test_collars_when_orders_go_through_the_stack_then_passive_and_protective_rest_at_the_broker(running_stack):
    watch = await Watch.open(running_stack, "orders.>", "risk.>")
    nc, quote, of = watch.nc, watch.quote, watch.of
    stop_loss = an_order(side="sell", type="stop", stop_price=cents(quote.bid * Decimal("0.85")))
    resting_bid = an_order(side="buy", type="limit", limit_price=cents(quote.ask * Decimal("0.80")))
    overpaying = an_order(side="buy", type="limit", limit_price=cents(quote.ask * Decimal("1.15")))

    for request in (stop_loss, resting_bid, overpaying):
        await nc.jetstream().publish(subject_for(request), encode_event(request),
                                     headers={"Nats-Msg-Id": str(request.event_id)})

    for _ in range(200):
        if of(stop_loss, "OrderSubmitted") and of(resting_bid, "OrderSubmitted") and of(overpaying, "RiskRejected"):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    await nc.drain()

    assert of(stop_loss, "RiskApproved") and of(resting_bid, "RiskApproved")
    assert of(stop_loss, "OrderSubmitted") and of(resting_bid, "OrderSubmitted")  # the broker has them, resting
    statuses = of(stop_loss, "OrderStatusChanged") + of(resting_bid, "OrderStatusChanged")
    assert not any(e.status.is_final for e in statuses)
    (rejected,) = of(overpaying, "RiskRejected")
    assert [r.code for r in rejected.reasons] == ["PRICE_COLLAR_BUY_LIMIT_ABOVE_ASK"]
    assert "a buy limit at" in rejected.message and "above the ask" in rejected.message
    assert not of(overpaying, "OrderSubmitted")


async def test_sell_when_a_stop_loss_holds_the_whole_long_then_a_second_sell_is_refused_by_risk_not_the_broker(
        running_stack):
    """A trader buys 10, puts a stop-loss on all 10, then sells 3 more at market: the broker would refuse it
    ("insufficient qty available"); risk says so first, with the numbers, and nothing more reaches the broker."""
    watch = await Watch.open(running_stack, "orders.>", "risk.>", "fills.>")
    nc, js, quote, of = watch.nc, watch.js, watch.quote, watch.of

    async def send_and_wait(request, *wanted: str) -> None:
        await js.publish(subject_for(request), encode_event(request), headers={"Nats-Msg-Id": str(request.event_id)})
        for _ in range(200):
            if any(of(request, w) for w in wanted):
                return
            await asyncio.sleep(0.1)

    buy = an_order(side="buy", type="market", qty=Decimal("10"), time_in_force="day")
    stop_loss = an_order(side="sell", type="stop", qty=Decimal("10"), stop_price=cents(quote.bid * Decimal("0.85")))
    one_more = an_order(side="sell", type="market", qty=Decimal("3"), time_in_force="day")
    await send_and_wait(buy, "FillReported")
    await send_and_wait(stop_loss, "OrderSubmitted", "RiskRejected")
    await send_and_wait(one_more, "RiskRejected", "OrderSubmitted")
    await asyncio.sleep(0.5)
    await nc.drain()

    assert of(buy, "FillReported") and of(stop_loss, "OrderSubmitted")
    (rejected,) = of(one_more, "RiskRejected")
    assert [r.code for r in rejected.reasons] == ["SELL_EXCEEDS_AVAILABLE"]
    assert "the position is 10; open sell orders hold 10, so 0 are available" in rejected.message
    assert not of(one_more, "OrderSubmitted") and not of(one_more, "SubmissionFailed")
