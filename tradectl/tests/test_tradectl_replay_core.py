"""Replay's pure parts: the query for an order or a window, the times an operator types, the lines it prints."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tradebus_contracts.subjects import subject_matches
from tradectl.lines import TailFilter, render
from tradectl.replay import ReplayQuery, parse_when

NOW = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)


def test_query_when_an_order_then_by_correlation_id_in_trail_order():
    sql, args = ReplayQuery(order_id="o-1", event_type="FillReported").sql()

    assert "correlation_id = $1" in sql and "event_type = $2" in sql and sql.endswith("ORDER BY seq")
    assert args == ["o-1", "FillReported"]


def test_query_when_a_window_then_since_inclusive_until_exclusive_on_occurred_at():
    sql, args = ReplayQuery(since=NOW - timedelta(hours=1), until=NOW).sql()

    assert "occurred_at >= $1" in sql and "occurred_at < $2" in sql
    assert args == [NOW - timedelta(hours=1), NOW]


def test_query_when_neither_order_nor_window_then_refused():
    with pytest.raises(ValueError):
        ReplayQuery(event_type="OrderRequested").sql()


@pytest.mark.parametrize(("text", "expected"), [
    ("30m", NOW - timedelta(minutes=30)),
    ("2h", NOW - timedelta(hours=2)),
    ("1d", NOW - timedelta(days=1)),
    ("45s", NOW - timedelta(seconds=45)),
    ("2026-11-24T10:00:00Z", datetime(2026, 11, 24, 10, tzinfo=UTC)),
    ("2026-11-24T11:00:00+01:00", datetime(2026, 11, 24, 10, tzinfo=UTC)),
])
def test_parse_when_when_relative_or_zoned_then_utc(text, expected):
    assert parse_when(text, NOW) == expected


@pytest.mark.parametrize("text", ["2026-11-24T10:00", "yesterday", "10"])
def test_parse_when_when_no_zone_or_not_a_time_then_refused_with_a_hint(text):
    with pytest.raises(ValueError, match="time zone|not a time"):
        parse_when(text, NOW)


@pytest.mark.parametrize(("pattern", "subject", "expected"), [
    ("orders.>", "orders.requested.AAPL", True),
    ("orders.>", "orders", False),
    ("orders.*.AAPL", "orders.status.AAPL", True),
    ("orders.*", "orders.status.AAPL", False),
    ("fills.AAPL", "fills.AAPL", True),
    ("fills.AAPL", "fills.MSFT", False),
])
def test_subject_matches_when_nats_wildcards_then_as_nats_matches(pattern, subject, expected):
    assert subject_matches(pattern, subject) is expected


def test_render_when_json_with_a_sequence_then_the_line_carries_it():
    line = render("orders.requested.AAPL", b'{"event_type": "OrderRequested"}', True, TailFilter(), seq=17)

    assert json.loads(line) == {"seq": 17, "subject": "orders.requested.AAPL",
                                "event": {"event_type": "OrderRequested"}}


def test_render_when_filtered_by_order_and_payload_unreadable_then_left_out():
    assert render("orders.requested.AAPL", b"\xff", False, TailFilter(order_id="o-1")) is None
