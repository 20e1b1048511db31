"""Getting an approved order to the broker exactly once, against a fake broker and a fake clock: every ambiguous
answer is looked up by client_order_id before anything is sent again."""

import inspect
from datetime import timedelta

import pytest

from order_gateway.approvals import (
    EXPIRED_UNSENT,
    HALTED_UNSENT,
    MAX_ATTEMPTS,
    MAX_RETRY_AFTER_S,
    NotPlaced,
    Placed,
    SubmitNotConfirmed,
    Unsettled,
    submit_at_broker,
)
from order_gateway.broker import Broker, BrokerRateLimited, BrokerRejected, BrokerUnavailable
from order_gateway.decisions import Action, Plan
from order_gateway.model import BrokerCall
from tradebus_contracts import client_order_id_for

from .builders import approval
from .fakes import START, FakeBroker, FakeClock, Fault, alpaca_order

SUBMIT = Plan(Action.SUBMIT)
RESUME = Plan(Action.RESUME)


class Audit(list):
    async def __call__(self, call: BrokerCall) -> None:
        self.append((call.call, call.http_status))


async def test_submit_when_the_broker_answers_then_placed_once_from_the_answer(broker, clock):
    approved, audit = approval(), Audit()

    result = await submit_at_broker(broker, approved, SUBMIT, clock, audit)

    assert isinstance(result, Placed) and result.call == "submit"
    assert result.order.client_order_id == client_order_id_for(approved.order_id)
    assert broker.calls == ["submit"] and audit == [] and clock.slept == []


async def test_submit_when_the_answer_is_lost_after_the_broker_took_it_then_found_by_lookup_not_sent_again(
        broker, clock):
    broker.script("submit", Fault(BrokerUnavailable("HTTP 504", status=504), after_effect=True))
    approved, audit = approval(), Audit()

    result = await submit_at_broker(broker, approved, SUBMIT, clock, audit)

    assert isinstance(result, Placed) and result.call == "lookup"
    assert broker.calls == ["submit", "order_by_client_id"] and len(broker.orders) == 1
    assert audit == [("submit", 504)] and clock.slept == [0.5]


async def test_submit_when_the_broker_has_the_client_order_id_already_then_422_is_looked_up_and_found(broker, clock):
    approved, audit = approval(), Audit()
    broker.holds(alpaca_order(client_order_id_for(approved.order_id)))  # an earlier attempt landed

    result = await submit_at_broker(broker, approved, SUBMIT, clock, audit)

    assert isinstance(result, Placed) and result.call == "lookup"
    assert broker.calls == ["submit", "order_by_client_id"] and len(broker.orders) == 1
    assert audit == [("submit", 422)] and clock.slept == []  # it is there: fetch it at once


async def test_submit_when_rate_limited_then_waits_as_told_and_looks_up_before_sending_again(broker, clock):
    broker.script("submit", BrokerRateLimited("too many requests", retry_after_s=7.0))
    approved, audit = approval(), Audit()

    result = await submit_at_broker(broker, approved, SUBMIT, clock, audit)

    assert isinstance(result, Placed) and result.call == "submit"
    assert broker.calls == ["submit", "order_by_client_id", "submit"] and len(broker.orders) == 1
    assert audit == [("submit", 429), ("lookup", 404)] and clock.slept == [7.0]


async def test_submit_when_rate_limited_after_the_broker_took_it_then_found_by_lookup(broker, clock):
    broker.script("submit", Fault(BrokerRateLimited("too many requests", retry_after_s=3.0), after_effect=True))
    approved, audit = approval(), Audit()

    result = await submit_at_broker(broker, approved, SUBMIT, clock, audit)

    assert isinstance(result, Placed) and result.call == "lookup"
    assert broker.calls == ["submit", "order_by_client_id"] and clock.slept == [3.0]


async def test_submit_when_the_broker_refuses_for_good_then_not_placed_with_its_code_and_never_retried(broker, clock):
    broker.script("submit", BrokerRejected("insufficient buying power", status=403, code=40310000))
    approved, audit = approval(), Audit()

    result = await submit_at_broker(broker, approved, SUBMIT, clock, audit)

    assert result == NotPlaced(403, 40310000, "insufficient buying power")
    assert broker.calls == ["submit"] and broker.orders == {} and audit == [("submit", 403)]


async def test_resume_when_the_broker_has_the_order_then_found_without_sending(broker, clock):
    approved, audit = approval(), Audit()
    broker.holds(alpaca_order(client_order_id_for(approved.order_id)))

    result = await submit_at_broker(broker, approved, RESUME, clock, audit)

    assert isinstance(result, Placed) and result.call == "lookup" and broker.calls == ["order_by_client_id"]


async def test_resume_when_not_at_the_broker_and_still_valid_then_sent_once(broker, clock):
    approved, audit = approval(), Audit()

    result = await submit_at_broker(broker, approved, RESUME, clock, audit)

    assert isinstance(result, Placed) and result.call == "submit"
    assert broker.calls == ["order_by_client_id", "submit"] and audit == [("lookup", 404)]


async def test_resume_when_expired_and_not_at_the_broker_yet_then_unsettled_not_failed(broker):
    """A pending row on redelivery: a POST may have been sent and may still land; "not found" proves nothing yet."""
    approved, audit = approval(issued_at=START - timedelta(minutes=5)), Audit()

    result = await submit_at_broker(broker, approved, RESUME, FakeClock(), audit)

    assert isinstance(result, Unsettled) and EXPIRED_UNSENT in result.message
    assert broker.calls == ["order_by_client_id"] and broker.orders == {}


async def test_resume_when_the_gate_now_refuses_and_not_at_the_broker_then_looked_up_only(broker, clock):
    approved, audit = approval(), Audit()

    result = await submit_at_broker(broker, approved, Plan(Action.RESUME, "TRADING_HALTED", may_post=False), clock,
                                    audit)

    assert isinstance(result, Unsettled) and broker.calls == ["order_by_client_id"]


async def test_submit_when_the_post_times_out_and_the_approval_expires_then_unsettled_never_failed(broker, clock):
    """Finding 1 of issue 11: a POST that timed out, then 404 after expiry, was marked failed "nothing was submitted"
    though the POST could still land."""
    broker.script("submit", BrokerUnavailable("read timeout"))
    approved, audit = approval(ttl_s=0.2), Audit()

    result = await submit_at_broker(broker, approved, SUBMIT, clock, audit)

    assert isinstance(result, Unsettled) and broker.calls == ["submit", "order_by_client_id"]


def answers(*halted: bool):
    """A ``halted`` check that answers these, one per call."""
    states = iter(halted)

    async def ask() -> bool:
        return next(states)

    return ask


async def test_submit_when_halted_between_attempts_then_never_posted_again(broker, clock):
    broker.script("submit", BrokerUnavailable("HTTP 503", status=503))
    approved, audit = approval(), Audit()
    result = await submit_at_broker(broker, approved, SUBMIT, clock, audit, halted=answers(False, True))

    assert isinstance(result, Unsettled) and HALTED_UNSENT in result.message
    assert broker.calls.count("submit") == 1


async def test_submit_when_halted_before_the_first_post_then_not_placed_and_nothing_sent(broker, clock):
    result = await submit_at_broker(broker, approval(), SUBMIT, clock, Audit(), halted=answers(True))

    assert result == NotPlaced(None, None, HALTED_UNSENT) and broker.calls == []


async def test_submit_when_retry_after_is_huge_then_capped(broker, clock):
    broker.script("submit", BrokerRateLimited("slow down", retry_after_s=3600))

    await submit_at_broker(broker, approval(ttl_s=3600), SUBMIT, clock, Audit())

    assert clock.slept == [MAX_RETRY_AFTER_S]


async def test_resume_when_the_lookup_fails_then_asked_again_after_a_pause(broker, clock):
    broker.script("order_by_client_id", BrokerUnavailable("timeout"))
    approved, audit = approval(), Audit()
    broker.holds(alpaca_order(client_order_id_for(approved.order_id)))

    result = await submit_at_broker(broker, approved, RESUME, clock, audit)

    assert isinstance(result, Placed) and broker.calls == ["order_by_client_id", "order_by_client_id"]
    assert audit == [("lookup", None)] and clock.slept == [2.0]


async def test_submit_when_the_broker_stays_unreachable_then_not_confirmed_and_nothing_sent_blind(broker, clock):
    broker.script("submit", BrokerUnavailable("connection refused"))
    broker.script("order_by_client_id", *[BrokerUnavailable("connection refused")] * MAX_ATTEMPTS)
    approved, audit = approval(), Audit()

    with pytest.raises(SubmitNotConfirmed):
        await submit_at_broker(broker, approved, SUBMIT, clock, audit)

    assert broker.calls.count("submit") == 1 and broker.orders == {}
    assert len(audit) == MAX_ATTEMPTS


def test_fake_broker_when_compared_with_the_real_adapter_then_same_calls_and_parameters():
    def interface(cls):
        return {(name, inspect.iscoroutinefunction(fn), tuple(inspect.signature(fn).parameters))
                for name, fn in inspect.getmembers(cls, inspect.isfunction) if not name.startswith("_")}

    assert interface(FakeBroker) >= interface(Broker)
