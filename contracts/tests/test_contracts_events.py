"""Events on the wire: every type round-trips, and bad input is refused with a message that says why."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from uuid import uuid4

import pytest
from pydantic import ValidationError

from tradebus_contracts import (
    EVENT_TYPES,
    DeadLetter,
    FillReported,
    InvalidEvent,
    OrderRequested,
    RejectionReason,
    decode,
    decode_event,
    encode_event,
)
from tradebus_contracts.events import DEAD_LETTER_MAX_PAYLOAD

DESIGN_EVENTS = {
    "OrderRequested", "RiskApproved", "RiskRejected", "OrderSubmitted", "SubmissionFailed", "OrderStatusChanged",
    "CancelRequested", "CancelResult", "FillReported", "PositionSnapshot", "PositionDrift", "PositionReconciled",
    "CorporateActionApplied", "TradingStateChanged", "DeadLetter", "BrokerTradeUpdate", "AuditCheckpoint",
    "BrokerActivity",
}  # fmt: skip


def _wire(sample_event, name: str, **changes) -> bytes:
    body = json.loads(encode_event(sample_event(name)))
    body.update(changes)
    return json.dumps(body).encode()


def test_registry_when_listed_then_holds_every_event_of_the_design():
    assert set(EVENT_TYPES) == DESIGN_EVENTS
    for name, cls in EVENT_TYPES.items():
        assert cls.model_fields["event_type"].default == name


@pytest.mark.parametrize("name", sorted(DESIGN_EVENTS))
def test_round_trip_when_event_encoded_then_decodes_to_an_equal_event(sample_event, name):
    event = sample_event(name)

    raw = encode_event(event)
    decoded = decode_event(raw)

    assert type(decoded) is type(event)
    assert decoded == event
    assert encode_event(decoded) == raw
    assert decode(raw, type(event)) == event
    assert decode(raw.decode(), type(event)) == event


@pytest.mark.parametrize("name", sorted(DESIGN_EVENTS))
def test_encode_when_any_event_then_decimals_are_strings_and_times_end_in_z(sample_event, name):
    body = json.loads(encode_event(sample_event(name)))

    assert body["event_type"] == name
    assert body["occurred_at"].endswith("Z")
    assert not any(isinstance(v, float) for v in body.values())


def test_encode_when_trailing_zeros_then_kept_exactly(sample_event):
    body = json.loads(encode_event(sample_event("OrderRequested")))

    assert body["qty"] == "1.50"
    assert body["limit_price"] == "410.10"
    assert body["notional"] is None


def test_decode_when_unknown_field_then_invalid_event_names_it(sample_event):
    with pytest.raises(InvalidEvent, match=r"OrderRequested\.surprise: Extra inputs are not permitted"):
        decode_event(_wire(sample_event, "OrderRequested", surprise=1))


@pytest.mark.parametrize(("value", "got"), [(1.1, "float 1.1"), (2, "int 2")])
def test_decode_when_quantity_is_a_json_number_then_says_it_must_be_a_decimal_string(sample_event, value, got):
    with pytest.raises(InvalidEvent, match=f"qty: quantity must be a decimal string, got {got}"):
        decode_event(_wire(sample_event, "OrderRequested", qty=value))


def test_decode_when_price_is_a_json_float_then_says_money_must_be_a_decimal_string(sample_event):
    with pytest.raises(InvalidEvent, match="limit_price: money must be a decimal string, got float 410.1"):
        decode_event(_wire(sample_event, "OrderRequested", limit_price=410.1))


@pytest.mark.parametrize("value", ["NaN", "nan", "Infinity", "-Infinity", "inf", "sNaN"])
def test_decode_when_money_is_nan_or_infinity_then_rejected(sample_event, value):
    with pytest.raises(InvalidEvent, match="money must be a finite decimal"):
        decode_event(_wire(sample_event, "FillReported", price=value))


def test_decode_when_json_number_is_nan_literal_then_rejected(sample_event):
    raw = _wire(sample_event, "FillReported").replace(b'"price": "410.05"', b'"price": NaN')

    with pytest.raises(InvalidEvent, match="price"):
        decode_event(raw)


def test_decode_when_datetime_is_naive_then_rejected(sample_event):
    with pytest.raises(InvalidEvent, match="occurred_at: Input should have timezone info"):
        decode_event(_wire(sample_event, "OrderRequested", occurred_at="2026-11-24T14:30:00"))


def test_decode_when_datetime_is_a_unix_number_then_rejected_as_strict(sample_event):
    with pytest.raises(InvalidEvent, match="executed_at"):
        decode_event(_wire(sample_event, "FillReported", executed_at=1_700_000_000))


def test_decode_when_int_field_is_a_string_then_rejected_as_strict(sample_event):
    with pytest.raises(InvalidEvent, match="schema_version"):
        decode_event(_wire(sample_event, "OrderRequested", schema_version="1"))


@pytest.mark.parametrize("symbol", ["aapl", "AAPL ", "AA*", "AAPL.>", "BRK_B", "", ".B", "BRK.", "A" * 17, "ÄAPL"])
def test_decode_when_symbol_is_not_an_uppercase_ticker_then_rejected(sample_event, symbol):
    with pytest.raises(InvalidEvent, match="symbol must be an uppercase ticker"):
        decode_event(_wire(sample_event, "OrderRequested", symbol=symbol))


def test_decode_when_event_type_is_unknown_then_rejected(sample_event):
    with pytest.raises(InvalidEvent, match="Input tag 'OrderExploded'"):
        decode_event(_wire(sample_event, "OrderRequested", event_type="OrderExploded"))


def test_decode_when_event_type_is_missing_then_rejected(sample_event):
    body = json.loads(encode_event(sample_event("OrderRequested")))
    del body["event_type"]

    with pytest.raises(InvalidEvent, match="event_type"):
        decode_event(json.dumps(body))


def test_decode_as_class_when_event_type_is_another_event_then_rejected(sample_event):
    with pytest.raises(InvalidEvent, match="invalid FillReported .*event_type: Input should be 'FillReported'"):
        decode(encode_event(sample_event("OrderRequested")), FillReported)


def test_decode_when_body_is_not_json_then_invalid_event(sample_event):
    with pytest.raises(InvalidEvent, match="Invalid JSON"):
        decode_event(b"\xff{not json")


def test_decode_when_many_fields_are_wrong_then_all_are_reported_structurally():
    with pytest.raises(InvalidEvent) as caught:
        decode_event(b'{"event_type": "FillReported"}')

    assert len(caught.value.errors) > 5
    assert "and" in str(caught.value) and "more" in str(caught.value)


def test_construct_when_datetime_is_naive_then_validation_error(sample_event):
    with pytest.raises(ValidationError, match="timezone"):
        OrderRequested.model_validate(
            {**sample_event("OrderRequested").model_dump(), "occurred_at": datetime(2026, 1, 1)}
        )


def test_construct_when_other_timezone_then_normalised_to_utc(sample_event):
    new_york = timezone(timedelta(hours=-5))
    event = OrderRequested.model_validate(
        {**sample_event("OrderRequested").model_dump(), "occurred_at": datetime(2026, 1, 1, 9, 30, tzinfo=new_york)}
    )

    assert event.occurred_at.utcoffset() == timedelta(0)
    assert json.loads(encode_event(event))["occurred_at"] == "2026-01-01T14:30:00Z"


def test_construct_when_money_is_a_python_float_then_rejected(sample_event):
    with pytest.raises(ValidationError, match="money must be a Decimal, int or decimal string, got float"):
        OrderRequested.model_validate({**sample_event("OrderRequested").model_dump(), "limit_price": 410.1})


def test_event_when_assigned_then_frozen(sample_event):
    event = sample_event("OrderRequested")

    with pytest.raises(ValidationError, match="frozen"):
        event.qty = Decimal("100")  # type: ignore[misc]


def test_construct_when_correlation_id_is_not_the_order_id_then_rejected(sample_event):
    body = {**sample_event("OrderRequested").model_dump(), "correlation_id": str(uuid4())}

    with pytest.raises(ValidationError, match="correlation_id must be the order_id"):
        OrderRequested.model_validate(body)


def test_construct_when_order_is_nonsense_for_risk_then_contract_still_carries_it(sample_event):
    body = sample_event("OrderRequested").model_dump()

    event = OrderRequested.model_validate({**body, "qty": "0", "notional": "-5", "type": "market"})

    assert event.qty == 0 and event.notional == Decimal("-5") and event.limit_price is not None


@pytest.mark.parametrize("code", ["lower_case", "TRAILING_", "HAS SPACE", "", "_LEADING"])
def test_rejection_reason_when_code_is_not_upper_snake_then_rejected(code):
    with pytest.raises(ValidationError):
        RejectionReason(code=code, message="m")


def test_dead_letter_when_payload_is_not_utf8_then_base64_and_bytes_recoverable(sample_event):
    letter = sample_event("DeadLetter")

    assert letter.payload_encoding == "base64"
    assert letter.original_payload() == b"\xff\xfenot json"
    assert letter.correlation_id == "abc"  # the original Nats-Msg-Id


def test_dead_letter_when_payload_is_text_then_kept_readable():
    letter = DeadLetter.from_raw(service="order-gateway", original_subject="risk.approved.AAPL",
                                 reason="bad", payload='{"ünïcode": 1}'.encode())

    assert letter.payload_encoding == "utf-8"
    assert letter.payload_text == '{"ünïcode": 1}'
    assert letter.producer == "order-gateway"
    assert decode_event(encode_event(letter)) == letter


def test_dead_letter_when_payload_is_huge_then_truncated_and_flagged():
    letter = DeadLetter.from_raw(service="risk-service", original_subject="x", reason="too big",
                                 payload=b"a" * (DEAD_LETTER_MAX_PAYLOAD + 10))

    assert letter.payload_truncated
    assert len(letter.original_payload()) == DEAD_LETTER_MAX_PAYLOAD
