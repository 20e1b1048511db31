"""The shared vocabulary: what an order status means, where an order stands, what an order does to a position,
who publishes and consumes what."""

from decimal import Decimal

import pytest

from tradebus_contracts.codec import EVENT_TYPES
from tradebus_contracts.exposure import buying_power_needed, opposes_position
from tradebus_contracts.orders import (
    FINAL_PROGRESS,
    FINAL_STATUSES,
    OPEN_STATUSES,
    OrderProgress,
    OrderSide,
    OrderStatus,
    progress_of,
)
from tradebus_contracts.projection import Projection
from tradebus_contracts.rpc import PreviewReply
from tradebus_contracts.services import OPERATOR, Service
from tradebus_contracts.topology import CHANNELS, ENDPOINTS

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def test_final_statuses_when_listed_then_the_five_that_end_an_order_and_done_for_day_stays_open():
    assert {s.value for s in FINAL_STATUSES} == {"filled", "canceled", "expired", "rejected", "replaced"}
    assert OrderStatus.DONE_FOR_DAY in OPEN_STATUSES and not OrderStatus.DONE_FOR_DAY.is_final
    assert FINAL_STATUSES | OPEN_STATUSES == set(OrderStatus) and not FINAL_STATUSES & OPEN_STATUSES


@pytest.mark.parametrize(("status", "filled", "progress"), [
    (OrderStatus.NEW, "0", OrderProgress.SUBMITTED),
    (OrderStatus.ACCEPTED, "0", OrderProgress.SUBMITTED),
    (OrderStatus.NEW, "2", OrderProgress.PARTIALLY_FILLED),
    (OrderStatus.PARTIALLY_FILLED, "0", OrderProgress.PARTIALLY_FILLED),
    (OrderStatus.DONE_FOR_DAY, "0", OrderProgress.SUBMITTED),
    (OrderStatus.FILLED, "5", OrderProgress.FILLED),
    (OrderStatus.REPLACED, "0", OrderProgress.CANCELED),
    (OrderStatus.REJECTED, "0", OrderProgress.REJECTED),
])
def test_progress_of_when_broker_reports_a_status_then_people_read_this(status, filled, progress):
    assert progress_of(status, Decimal(filled)) is progress


def test_progress_when_every_broker_final_status_then_the_progress_is_final_too():
    assert all(progress_of(s, Decimal(0)).is_final for s in FINAL_STATUSES)
    assert {p.value for p in FINAL_PROGRESS} == {"rejected", "filled", "canceled", "expired", "failed"}


@pytest.mark.parametrize(("side", "qty", "position", "reduces"), [
    (SELL, "5", "10", True),
    (SELL, "10", "10", True),
    (SELL, "11", "10", False),  # past flat: opens a short of 1
    (BUY, "5", "10", False),
    (BUY, "5", "-10", True),
    (SELL, "1", "0", False),  # flat: nothing to reduce
    (SELL, "0", "10", False),
])
def test_reduces_when_nothing_is_working_and_side_size_and_position_vary_then_only_true_reductions(side, qty,
                                                                                                    position, reduces):
    assert Projection(Decimal(position)).reduces(side, Decimal(qty)) is reduces


def test_opposes_position_when_flat_then_nothing_opposes():
    assert not opposes_position(BUY, Decimal(0)) and not opposes_position(SELL, Decimal(0))
    assert opposes_position(SELL, Decimal(3)) and opposes_position(BUY, Decimal(-3))


@pytest.mark.parametrize(("side", "cost", "shares", "position", "needed"), [
    (BUY, "1000", "10", "0", "1000"),
    (BUY, "1000", "10", "-10", "1000"),  # buying to cover is paid for too
    (SELL, "1000", "10", "10", "0"),  # selling what is held
    (SELL, "1000", "10", "4", "600"),  # 6 of the 10 open a short
    (SELL, "1000", "10", "-5", "1000"),  # grows a short
    (SELL, "1000", None, "4", None),  # share count unknown
    (BUY, None, "10", "0", None),
])
def test_buying_power_needed_when_order_opens_or_closes_then_only_the_opening_part(side, cost, shares, position,
                                                                                     needed):
    result = buying_power_needed(side, None if cost is None else Decimal(cost),
                                 None if shares is None else Decimal(shares), Decimal(position))

    assert result == (None if needed is None else Decimal(needed))


def test_channels_when_listed_then_every_event_once_with_known_producers_and_consumers():
    known = set(Service) | {OPERATOR}

    assert sorted(c.event.__name__ for c in CHANNELS) == sorted(EVENT_TYPES)
    assert all(set(c.producers) <= known and set(c.consumers) <= known for c in CHANNELS)
    assert {c.stream for c in CHANNELS} == {"ORDERS", "RISK", "FILLS", "POSITIONS", "CONTROL", "DLQ", "BROKER",
                                            "AUDIT_CHECKPOINTS"}
    assert all(set(e.responders) <= known and set(e.requesters) <= known for e in ENDPOINTS)


def test_preview_reply_when_serialised_then_decimals_are_strings_and_unknown_fields_refused():
    reply = PreviewReply(ok=True, approved=True, estimated_cost=Decimal("10.50"), buying_power_after=Decimal("89.5"))

    body = reply.model_dump_json()

    assert '"estimated_cost":"10.50"' in body and '"buying_power_after":"89.5"' in body
    assert PreviewReply.model_validate_json(body) == reply
    with pytest.raises(ValueError):
        PreviewReply.model_validate_json('{"ok": true, "surprise": 1}')
