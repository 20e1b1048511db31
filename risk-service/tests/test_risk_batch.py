"""The batch plan with plain values: what is new, what is decided and booked, and what each message gets — a
decision to publish (new, or the stored one again), a dead letter, or a retry. No servers: the insert's answer and
the stored decisions are given as values."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

from risk_service.batch import Poison, Publish, Retry, StoredDecision, plan_batch, take_back
from tradebus_contracts import RiskApproved, RiskRejected, encode_event


def test_plan_when_a_new_order_passes_then_it_is_approved_booked_and_published(decider, book, now, order_requested):
    request = order_requested()

    plan = plan_batch([request], decider.decide, book, now)
    (new,) = plan.new

    assert isinstance(new.event, RiskApproved) and new.estimated_cost == Decimal("1872.50")
    assert book.open_by_symbol["AAPL"] == 1 and book.daily_by_symbol["AAPL"] == Decimal("1872.50")
    assert plan.lost({request.order_id}) == []
    assert plan.outcomes({request.order_id}, {}) == [Publish(new.event, repeated=False)]


def test_plan_when_a_new_order_fails_then_it_is_rejected_and_nothing_is_booked(decider, book, now, order_requested):
    request = order_requested(qty="0")

    plan = plan_batch([request], decider.decide, book, now)
    (new,) = plan.new

    assert isinstance(new.event, RiskRejected) and new.estimated_cost is None
    assert book.open_total == 0 and book.daily_total == 0
    assert plan.outcomes({request.order_id}, {}) == [Publish(new.event, repeated=False)]


def test_plan_when_one_batch_asks_twice_for_an_order_id_then_one_decision_answers_both(
    decider, book, now, order_requested
):
    request = order_requested()
    again = request.model_copy(update={"event_id": uuid4()})  # the same order re-published

    plan = plan_batch([request, again], decider.decide, book, now)
    (new,) = plan.new

    assert book.open_by_symbol["AAPL"] == 1
    assert plan.outcomes({request.order_id}, {}) == [Publish(new.event, repeated=False),
                                                      Publish(new.event, repeated=True)]


def test_plan_when_one_batch_reuses_an_order_id_for_other_fields_then_the_second_is_poison(
    decider, book, now, order_requested
):
    request = order_requested()
    impostor = order_requested(order_id=request.order_id, qty="999")

    plan = plan_batch([request, impostor], decider.decide, book, now)
    first, second = plan.outcomes({request.order_id}, {})

    assert isinstance(first, Publish) and len(plan.new) == 1
    assert isinstance(second, Poison) and second.reused_order_id == request.order_id
    assert "already decided for different order fields" in second.reason


def test_plan_when_the_order_id_was_decided_before_with_the_same_fields_then_the_stored_decision_is_republished(
    decider, book, now, order_requested
):
    request = order_requested()
    earlier, _ = decider.decide(request, now - timedelta(seconds=5))
    stored = StoredDecision(request.order_id, request.order_fields().model_dump(mode="json"), earlier)
    again = request.model_copy(update={"event_id": uuid4()})

    plan = plan_batch([again], decider.decide, book, now)
    lost = plan.lost(set())
    take_back(book, lost)
    (outcome,) = plan.outcomes(set(), {request.order_id: stored})

    assert [d.order_id for d in lost] == [request.order_id]
    assert book.open_total == 0 and book.daily_total == 0 and book.submissions_in_window(now) == 0
    assert outcome == Publish(earlier, repeated=True)
    assert encode_event(outcome.event) == encode_event(earlier)  # byte for byte the fact already given


def test_plan_when_the_order_id_was_decided_before_for_other_fields_then_poison_and_the_book_is_taken_back(
    decider, book, now, order_requested
):
    request = order_requested()
    earlier, _ = decider.decide(request, now - timedelta(seconds=5))
    stored = StoredDecision(request.order_id, request.order_fields().model_dump(mode="json"), earlier)
    impostor = order_requested(order_id=request.order_id, qty="999", limit_price="1")

    plan = plan_batch([impostor], decider.decide, book, now)
    take_back(book, plan.lost(set()))
    (outcome,) = plan.outcomes(set(), {request.order_id: stored})

    assert isinstance(outcome, Poison) and outcome.reused_order_id == request.order_id
    assert book.open_total == 0


def test_plan_when_a_message_is_not_an_order_request_then_poison_and_nothing_is_decided(
    decider, book, now, order_requested
):
    stray, _ = decider.decide(order_requested(), now)

    plan = plan_batch([stray], decider.decide, book, now)

    assert plan.new == () and book.open_total == 0
    assert plan.outcomes(set(), {}) == [Poison("RiskApproved on an order-request subject")]


def test_plan_when_a_decision_is_neither_inserted_nor_found_then_the_message_is_retried(
    decider, book, now, order_requested
):
    request = order_requested()

    plan = plan_batch([request], decider.decide, book, now)

    assert plan.outcomes(set(), {}) == [Retry(f"decision for {request.order_id} neither inserted nor found")]
