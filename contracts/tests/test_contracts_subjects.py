"""Subjects: one per event kind, symbols as one token (BRK.B <-> BRK_B), no wildcards by accident."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradebus_contracts import subjects
from tradebus_contracts.codec import EVENT_TYPES
from tradebus_contracts.orders import SYMBOL_PATTERN
from tradebus_contracts.subjects import InvalidSubject, ParsedSubject, parse_subject, subject_for

EXPECTED = {
    "OrderRequested": "orders.requested.BRK_B",
    "RiskApproved": "risk.approved.BRK_B",
    "RiskRejected": "risk.rejected.BRK_B",
    "OrderSubmitted": "orders.submitted.BRK_B",
    "SubmissionFailed": "orders.failed.BRK_B",
    "OrderStatusChanged": "orders.status.BRK_B",
    "CancelRequested": "orders.cancel.BRK_B",
    "CancelResult": "orders.cancel_result.BRK_B",
    "FillReported": "fills.BRK_B",
    "PositionSnapshot": "positions.snapshot.AAPL",
    "PositionDrift": "positions.drift.AAPL",
    "PositionReconciled": "positions.reconciled.AAPL",
    "CorporateActionApplied": "positions.corporate_action.NVDA",
    "TradingStateChanged": "control.trading_state",
    "DeadLetter": "dlq.risk-service",
    "BrokerTradeUpdate": "broker.trade_updates.BRK_B",
    "BrokerActivity": "broker.activities.SPLIT.NVDA",
    "AuditCheckpoint": "audit.checkpoints",
}


@pytest.mark.parametrize("kind", sorted(subjects.SYMBOL_KINDS))
@pytest.mark.parametrize("symbol", ["AAPL", "BRK.B", "A.B.C"])
def test_build_then_parse_when_symbol_has_dots_then_one_token_and_same_symbol(kind, symbol):
    subject = subjects.symbol_subject(kind, symbol)

    assert subject.count(".") == kind.count(".") + 1
    assert parse_subject(subject) == ParsedSubject(kind, symbol)


@given(st.from_regex(SYMBOL_PATTERN, fullmatch=True).filter(lambda s: len(s) <= 16))
def test_symbol_token_when_any_valid_symbol_then_round_trips(symbol):
    assert subjects.symbol_from_token(subjects.symbol_token(symbol)) == symbol


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_subject_for_when_any_event_then_design_subject(sample_event, name):
    event = sample_event(name)

    subject = subject_for(event)

    assert subject == EXPECTED[name]
    assert subjects.KIND_BY_EVENT_TYPE[type(event)] == parse_subject(subject).kind


def test_subject_for_when_listed_then_every_event_type_has_a_subject():
    assert set(subjects.KIND_BY_EVENT_TYPE) == set(EVENT_TYPES.values())


def test_parse_when_control_or_dlq_then_kind_and_service():
    assert parse_subject("control.trading_state") == ParsedSubject("control.trading_state", None)
    assert parse_subject("dlq.order-gateway") == ParsedSubject("dlq", None, "order-gateway")


@pytest.mark.parametrize("symbol", ["*", ">", "AA PL", "aapl", "BRK_B", "", "AAPL.*", "A\n"])
def test_build_when_symbol_could_be_a_wildcard_or_split_then_refused(symbol):
    with pytest.raises(InvalidSubject):
        subjects.symbol_subject("orders.requested", symbol)


@pytest.mark.parametrize("subject", ["orders.requested.*", "orders.>", "fills.AAPL.>", "orders.requested.aapl",
                                     "orders.requested", "nope.AAPL", "dlq.*", "dlq.Bad Service", "", "fills.A__B"])
def test_parse_when_wildcard_or_unknown_then_invalid_subject(subject):
    with pytest.raises(InvalidSubject):
        parse_subject(subject)


def test_subject_filter_when_kind_then_matches_all_symbols_of_that_kind():
    assert subjects.subject_filter("fills") == "fills.*"
    assert subjects.subject_filter("dlq") == "dlq.*"
    assert subjects.subject_filter("control.trading_state") == "control.trading_state"
    with pytest.raises(InvalidSubject):
        subjects.subject_filter("orders")


def test_dlq_subject_when_service_name_has_wildcard_then_refused():
    with pytest.raises(InvalidSubject):
        subjects.dlq_subject("risk.*")


def test_request_subjects_when_built_then_outside_every_stream_and_named_by_service():
    assert subjects.health_subject("order-gateway") == "health.order-gateway"
    assert subjects.RISK_PREVIEW == "rpc.risk-service.preview"
    assert subjects.RISK_LIMITS == "rpc.risk-service.limits"
    with pytest.raises(InvalidSubject):
        subjects.rpc_subject("risk-service", "pre.view")
    with pytest.raises(InvalidSubject):
        subjects.health_subject("*")


@pytest.mark.parametrize(("activity_type", "symbol", "subject"), [
    ("FILL", "BRK.B", "broker.activities.FILL.BRK_B"),
    ("CSD", None, "broker.activities.CSD._"),
])
def test_activity_subject_when_built_then_parses_back_to_type_and_symbol(activity_type, symbol, subject):
    assert subjects.activity_subject(activity_type, symbol) == subject
    assert parse_subject(subject) == ParsedSubject("broker.activities", symbol, None, activity_type)


@pytest.mark.parametrize("subject", ["broker.activities.FILL", "broker.activities.fill.AAPL",
                                     "broker.activities.FILL.AAPL.X", "broker.activities..AAPL"])
def test_parse_when_activity_subject_malformed_then_invalid_subject(subject):
    with pytest.raises(InvalidSubject):
        parse_subject(subject)


def test_activity_filter_when_kind_then_both_tokens_wild():
    assert subjects.subject_filter("broker.activities") == "broker.activities.*.*"
