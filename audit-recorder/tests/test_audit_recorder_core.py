"""The recorder's pure core with plain values: chained rows, where to resume, checkpoint cadence, start checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from audit_recorder.cadence import Anchor, Cadence
from audit_recorder.rows import START, Head, StreamMessage, describe, plan_batch
from audit_recorder.startup import (
    StreamProtection,
    StreamState,
    TableState,
    continuity_problems,
    protection_problems,
)
from tradebus_contracts.audit import GENESIS_HASH, chain_step

T0 = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)


def message(seq: int, payload: bytes | None = None) -> StreamMessage:
    body = payload if payload is not None else json.dumps({"event_type": "OrderRequested", "seq": seq}).encode()
    return StreamMessage(seq, "orders.requested.AAPL", body, T0)


def test_plan_when_messages_follow_the_head_then_each_row_chains_to_the_one_before():
    plan = plan_batch(START, [message(1), message(2), message(3)])

    h1 = chain_step(GENESIS_HASH, 1, message(1).payload)
    h2 = chain_step(h1, 2, message(2).payload)
    assert [row.seq for row in plan.rows] == [1, 2, 3]
    assert plan.rows[0].hash == h1 and plan.rows[1].hash == h2
    assert plan.head == Head(3, plan.rows[2].hash) and plan.resume_from is None


def test_plan_when_messages_at_or_below_the_head_then_they_are_skipped_not_recorded_twice():
    head = plan_batch(START, [message(1), message(2)]).head

    plan = plan_batch(head, [message(1), message(2), message(3)])

    assert [row.seq for row in plan.rows] == [3]
    assert plan.rows[0].hash == chain_step(head.hash, 3, message(3).payload)


def test_plan_when_a_sequence_is_skipped_then_it_stops_before_the_gap_and_asks_to_resume_there():
    plan = plan_batch(START, [message(1), message(2), message(4), message(5)])

    assert [row.seq for row in plan.rows] == [1, 2]
    assert plan.head.seq == 2 and plan.resume_from == 3


def test_plan_when_batch_is_empty_then_head_unchanged():
    head = Head(7, b"\x01" * 32)

    plan = plan_batch(head, [])

    assert plan.rows == [] and plan.head == head and plan.resume_from is None


def test_describe_when_a_tradebus_event_then_type_id_correlation_and_time_are_read():
    event_id, order_id = uuid4(), uuid4()
    payload = json.dumps({"event_type": "FillReported", "event_id": str(event_id), "correlation_id": str(order_id),
                          "occurred_at": "2026-11-24T14:30:00.123456Z"}).encode()

    about = describe(payload)

    assert about.event_type == "FillReported" and about.event_id == event_id
    assert about.correlation_id == str(order_id)
    assert about.occurred_at == datetime(2026, 11, 24, 14, 30, 0, 123456, tzinfo=UTC)


def test_describe_when_payload_is_garbage_then_every_column_is_empty_and_the_row_is_still_recorded():
    plan = plan_batch(START, [message(1, b"\xff not json"), message(2, b'["a list"]'),
                              message(3, b'{"event_id": "nope", "occurred_at": "10:00"}')])

    assert [row.event_type for row in plan.rows] == [None, None, None]
    assert [row.event_id for row in plan.rows] == [None, None, None]
    assert plan.rows[2].occurred_at is None and plan.rows[0].payload == b"\xff not json"


def test_cadence_when_a_thousand_events_since_the_last_checkpoint_then_due_at_once():
    cadence = Cadence(every_events=1000, every_s=10)

    assert cadence.due(Anchor(0, T0), 1000, T0 + timedelta(seconds=1))
    assert not cadence.due(Anchor(0, T0), 999, T0 + timedelta(seconds=1))


def test_cadence_when_ten_seconds_passed_and_the_head_moved_then_due():
    cadence = Cadence(every_events=1000, every_s=10)

    assert cadence.due(Anchor(5, T0), 6, T0 + timedelta(seconds=10))
    assert not cadence.due(Anchor(5, T0), 6, T0 + timedelta(seconds=9.9))


def test_cadence_when_the_head_did_not_move_then_never_due():
    assert not Cadence().due(Anchor(5, T0), 5, T0 + timedelta(hours=1))


def test_protection_when_audit_lacks_deny_delete_deny_purge_and_has_an_age_then_three_problems():
    problems = protection_problems("AUDIT", StreamProtection(deny_delete=False, deny_purge=False, max_age_s=86400))

    assert len(problems) == 3
    assert "deny_delete" in problems[0] and "deny_purge" in problems[1] and "max_age" in problems[2]


def test_protection_when_as_the_contract_declares_then_no_problem():
    assert protection_problems("AUDIT", StreamProtection(True, True, 0.0)) == []


def stream(created=T0, first=1, last=10, at_head: bytes | None = b"row-10") -> StreamState:
    return StreamState(created, first, last, at_head)


def test_continuity_when_empty_table_then_any_stream_will_do():
    assert continuity_problems(TableState(0, None, None), stream(at_head=None)) == []


def test_continuity_when_empty_table_and_the_stream_lost_its_first_messages_then_refused():
    problems = continuity_problems(TableState(0, None, None), stream(first=4, last=9, at_head=None))

    assert "1..3" in problems[0]


def test_continuity_when_head_row_matches_the_stream_message_then_go_on():
    assert continuity_problems(TableState(10, b"row-10", T0), stream()) == []


def test_continuity_when_stream_recreated_then_refused_naming_both_creation_times():
    problems = continuity_problems(TableState(10, b"row-10", T0), stream(created=T0 + timedelta(days=1)))

    assert "deleted and recreated" in problems[0]


def test_continuity_when_table_is_ahead_of_the_stream_then_refused():
    problems = continuity_problems(TableState(11, b"forged", T0), stream(at_head=None))

    assert "holds sequence 11" in problems[0]


def test_continuity_when_head_row_bytes_differ_from_the_stream_then_refused():
    problems = continuity_problems(TableState(10, b"forged", T0), stream())

    assert "row 10" in problems[0]


def test_continuity_when_the_stream_lost_messages_after_the_head_then_refused():
    problems = continuity_problems(TableState(10, b"row-10", T0), stream(first=15, last=20, at_head=None))

    assert "11..14" in problems[0]
