"""JetStream streams: domain streams own disjoint subject families; AUDIT sources them all."""

from __future__ import annotations

import pytest

from tradebus_contracts import streams, subjects
from tradebus_contracts.streams import ALL_STREAMS, AUDIT_STREAM, DOMAIN_STREAMS
from tradebus_contracts.subjects import subject_matches


def test_streams_when_listed_then_the_nine_of_the_design():
    assert [s.name for s in ALL_STREAMS] == ["ORDERS", "RISK", "FILLS", "POSITIONS", "CONTROL", "DLQ", "BROKER",
                                             "AUDIT", "AUDIT_CHECKPOINTS"]
    assert AUDIT_STREAM is streams.AUDIT and AUDIT_STREAM not in DOMAIN_STREAMS


def test_audit_checkpoints_when_defined_then_kept_forever_undeletable_and_outside_audit():
    checkpoints = streams.AUDIT_CHECKPOINTS

    assert checkpoints.subjects == ("audit.checkpoints",) and checkpoints.name not in AUDIT_STREAM.sources
    assert checkpoints.max_age_seconds is None and checkpoints.deny_delete and checkpoints.deny_purge


def test_audit_when_defined_then_sources_every_domain_stream_and_has_no_subjects():
    assert set(AUDIT_STREAM.sources) == {s.name for s in DOMAIN_STREAMS}
    assert AUDIT_STREAM.subjects == ()
    assert AUDIT_STREAM.max_age_seconds is None
    assert AUDIT_STREAM.deny_delete and AUDIT_STREAM.deny_purge


@pytest.mark.parametrize("stream", ALL_STREAMS, ids=lambda s: s.name)
def test_stream_when_defined_then_file_storage_and_two_minute_duplicate_window(stream):
    assert stream.storage == "file"
    assert stream.duplicate_window_seconds == 120
    assert stream.retention == "limits"


def test_domain_streams_when_defined_then_each_owns_one_subject_family():
    assert {s.name: s.subjects for s in DOMAIN_STREAMS} == {
        "ORDERS": ("orders.>",), "RISK": ("risk.>",), "FILLS": ("fills.>",), "POSITIONS": ("positions.>",),
        "CONTROL": ("control.>",), "DLQ": ("dlq.>",), "BROKER": ("broker.>",),
    }  # fmt: skip
    assert all(s.sources == () for s in DOMAIN_STREAMS)


def test_control_when_defined_then_keeps_the_trading_state_forever():
    assert streams.CONTROL.max_age_seconds is None


@pytest.mark.parametrize("name", sorted(c.__name__ for c in subjects.KIND_BY_EVENT_TYPE))
def test_every_event_subject_when_published_then_lands_in_exactly_one_stream(sample_event, name):
    subject = subjects.subject_for(sample_event(name))

    owners = [s.name for s in ALL_STREAMS if any(subject_matches(p, subject) for p in s.subjects)]

    assert len(owners) == 1, (subject, owners)
