"""The request consumer with a fill that overtook it: a trader sells the shares a buy has just filled, the fill is on
the FILLS stream, and the fill consumer has not handled it yet. The batch that would refuse the sell for want of
those shares is decided again once the fill consumer has nothing pending; a batch without such a refusal never asks.
Plain values and fakes: no servers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from uuid import UUID, uuid4

from risk_service.batch import NewDecision
from risk_service.booking import FillSeen
from risk_service.handlers import RiskHandlers
from tradebus_contracts import (
    FillReported,
    OrderRequested,
    OrderSide,
    OrderStatusChanged,
    OrderSubmitted,
    RiskApproved,
    RiskRejected,
    SubmissionFailed,
    signed_order,
)


class FakeStore:
    """Every decision is new; every fill is new."""

    def __init__(self) -> None:
        self.inserted: list[NewDecision] = []
        self.fills: list[FillSeen] = []

    async def insert(self, decisions: Sequence[NewDecision]) -> set[UUID]:
        self.inserted += decisions
        return {d.order_id for d in decisions}

    async def find(self, order_ids: Sequence[UUID]) -> dict:
        return {}

    async def insert_fill(self, fill: FillSeen) -> bool:
        self.fills.append(fill)
        return True


class FakeBus:
    def __init__(self) -> None:
        self.published: list = []

    async def publish(self, event) -> None:
        self.published.append(event)


class FillConsumer:
    """What the FILLS consumer has not handled yet; each look at it lets the consumer handle one more (as the real
    one would, working in parallel while the request consumer waits). ``fail`` makes every look raise."""

    def __init__(self, pending: list[FillReported], fail: bool = False) -> None:
        self.pending, self.fail, self.looks = list(pending), fail, 0
        self.handlers: RiskHandlers | None = None

    async def __call__(self) -> int:
        self.looks += 1
        if self.fail:
            raise ConnectionError("nats: no servers available")
        count = len(self.pending)
        if self.pending and self.handlers is not None:
            await self.handlers.on_fill(self.pending.pop(0), None)
        return count


def sell(qty: str) -> OrderRequested:
    order_id = uuid4()
    return OrderRequested(producer="t", order_id=order_id, correlation_id=str(order_id), symbol="AAPL", side="sell",
                          type="limit", time_in_force="day", qty=Decimal(qty), limit_price=Decimal("187.20"))


def buy_fill(qty: str, now) -> FillReported:
    at = now + timedelta(seconds=1)  # recorded after the settled position was read
    order_id = uuid4()
    return FillReported(producer="order-gateway", order_id=order_id, correlation_id=str(order_id), client_order_id="tb-1",
                        broker_order_id="b-1", symbol="AAPL", side=OrderSide.BUY, qty=Decimal(qty),
                        price=Decimal("187.25"), execution_id=str(uuid4()), cum_qty=Decimal(qty),
                        order_status="filled", executed_at=at, occurred_at=at, source="stream")


def handlers_over(decider, consumer: FillConsumer, now) -> tuple[RiskHandlers, FakeStore, FakeBus]:
    store, bus = FakeStore(), FakeBus()
    handlers = RiskHandlers(bus, store, decider, 60, settled_floor=lambda: now, clock=lambda: now,
                            fills_pending=consumer)
    consumer.handlers = handlers
    return handlers, store, bus


async def decide(handlers: RiskHandlers, *requests: OrderRequested) -> list:
    settled = await handlers.on_requests([(request, None) for request in requests])
    assert settled == [None] * len(requests)  # every message answered and acked
    return settled


async def test_requests_when_a_sell_overtakes_the_fill_of_the_buy_it_sells_then_approved_once_the_fill_is_in(
        decider, refdata, now):
    refdata.position = Decimal(10)
    consumer = FillConsumer([buy_fill("5", now)])
    handlers, store, bus = handlers_over(decider, consumer, now)

    await decide(handlers, sell("15"))

    (decision,) = bus.published
    assert isinstance(decision, RiskApproved), decision
    assert len(store.inserted) == 1 and len(store.fills) == 1  # decided (and stored) once, after the fill
    assert decider.book.position_now("AAPL", Decimal(10), now) == Decimal(15)


async def test_requests_when_the_shares_are_not_there_after_the_fills_then_refused_with_the_numbers(decider, refdata, now):
    refdata.position = Decimal(10)
    consumer = FillConsumer([])
    handlers, store, bus = handlers_over(decider, consumer, now)

    await decide(handlers, sell("15"))

    (decision,) = bus.published
    assert isinstance(decision, RiskRejected)
    assert [r.code for r in decision.reasons] == ["SELL_EXCEEDS_AVAILABLE"]
    assert "the position is 10" in decision.reasons[0].message
    assert consumer.looks == 1 and len(store.inserted) == 1


async def test_requests_when_nothing_is_refused_for_want_of_a_fill_then_the_fill_consumer_is_not_asked(
        decider, refdata, now):
    refdata.position = Decimal(10)
    consumer = FillConsumer([buy_fill("5", now)])
    handlers, _, bus = handlers_over(decider, consumer, now)

    await decide(handlers, sell("10"), sell("0"))  # one approved, one refused for another reason

    assert [type(d) for d in bus.published] == [RiskApproved, RiskRejected]
    assert consumer.looks == 0


async def test_requests_when_the_fill_consumer_cannot_be_asked_then_decided_with_the_book_as_it_is(
        decider, refdata, now):
    refdata.position = Decimal(10)
    consumer = FillConsumer([buy_fill("5", now)], fail=True)
    handlers, store, bus = handlers_over(decider, consumer, now)

    await decide(handlers, sell("15"))

    (decision,) = bus.published
    assert isinstance(decision, RiskRejected) and decision.reasons[0].code == "SELL_EXCEEDS_AVAILABLE"
    assert consumer.looks == 1 and store.fills == []


async def test_requests_when_a_batch_is_decided_again_then_its_other_approvals_are_booked_once(decider, refdata, now):
    refdata.position = Decimal(10)
    consumer = FillConsumer([buy_fill("5", now)])
    handlers, _, bus = handlers_over(decider, consumer, now)

    await decide(handlers, sell("5"), sell("10"))  # first planned: 5 approved, 10 refused (5 of 10 held back)

    assert [type(d) for d in bus.published] == [RiskApproved, RiskApproved]
    assert decider.book.open_sell_qty("AAPL") == Decimal(15)  # each approval counted once, not the first twice
    assert decider.book.submissions_in_window(now) == 2


class OutcomeStore(FakeStore):
    """Records the order-outcome writes in the order they are made; ``fail_submitted`` makes those writes raise."""

    def __init__(self, fail_submitted: bool = False) -> None:
        super().__init__()
        self.writes: list[tuple[str, list[UUID]]] = []
        self.fail_submitted = fail_submitted

    async def mark_submitted(self, submitted) -> None:
        if self.fail_submitted:
            raise ConnectionError("postgres: connection refused")
        self.writes.append(("submitted", [order_id for order_id, _ in submitted]))

    async def mark_closed(self, order_id: UUID, at, filled_qty, *, failed: bool = False) -> None:
        self.writes.append(("closed", [order_id]))


def gateway_says(approval: RiskApproved, what: str):
    """An event the gateway publishes about an approved order: submitted, a status that ends nothing, failed."""
    scoped = {"producer": "order-gateway", "order_id": approval.order_id, "correlation_id": str(approval.order_id),
              "client_order_id": "tb-x", "symbol": approval.symbol}
    if what == "submitted":
        return OrderSubmitted(**(scoped | signed_order(approval).model_dump()), broker_order_id="b-x",
                              approval_id=approval.approval_id, status="new", submitted_at=approval.issued_at)
    if what == "new":
        return OrderStatusChanged(**scoped, broker_order_id="b-x", status="new", filled_qty=Decimal(0),
                                  source="stream")
    return SubmissionFailed(**scoped, message="not at the broker after the landing window")


async def approved_sells(decider, refdata, now, n: int) -> tuple[RiskHandlers, OutcomeStore, list[RiskApproved]]:
    refdata.position = Decimal(10)
    handlers, _, bus = handlers_over(decider, FillConsumer([]), now)
    await decide(handlers, *(sell("1") for _ in range(n)))
    assert all(isinstance(d, RiskApproved) for d in bus.published)
    return handlers, handlers._store, bus.published


async def test_order_events_when_a_batch_mixes_submits_and_an_end_then_written_in_order_submits_together(
        decider, refdata, now):
    handlers, _, (a, b, c) = await approved_sells(decider, refdata, now, 3)
    store = handlers._store = OutcomeStore()
    batch = [gateway_says(a, "submitted"), gateway_says(a, "new"), gateway_says(b, "submitted"),
             gateway_says(c, "failed"), gateway_says(a, "submitted")]  # the last: a redelivery

    outcomes = await handlers.on_order_events([(event, None) for event in batch])

    assert outcomes == [None] * 5
    assert store.writes == [("submitted", [a.order_id, b.order_id]), ("closed", [c.order_id]),
                            ("submitted", [a.order_id])]
    decider.book.advance(now + timedelta(days=1))  # past every approval's life: only the submitted still work
    assert decider.book.open_sell_qty("AAPL") == Decimal(2)


async def test_order_events_when_the_submits_cannot_be_written_then_they_come_back_and_the_end_still_counts(
        decider, refdata, now):
    handlers, _, (a, b, c) = await approved_sells(decider, refdata, now, 3)
    store = handlers._store = OutcomeStore(fail_submitted=True)
    batch = [gateway_says(a, "submitted"), gateway_says(b, "submitted"), gateway_says(c, "failed")]

    outcomes = await handlers.on_order_events([(event, None) for event in batch])

    assert [type(o) for o in outcomes] == [ConnectionError, ConnectionError, type(None)]  # redelivered, then acked
    assert store.writes == [("closed", [c.order_id])]
    decider.book.advance(now + timedelta(days=1))
    assert not decider.book.open_sell_qty("AAPL")  # not marked submitted in memory either: they lapsed
