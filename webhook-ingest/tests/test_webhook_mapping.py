"""From a verified body to the bus, with plain values: a BrokerTradeUpdate, a dead letter, or a 400 for non-JSON."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tradebus_contracts import decode_event, encode_event, subject_for
from webhook_ingest.mapping import Unmappable, dead_letter, event_id_for, parse_body, to_trade_update
from webhook_ingest.verify import Refused, Verified

from .conftest import encoded, trade_update

RECEIVED = datetime(2026, 11, 24, 15, 30, 1, tzinfo=UTC)


def test_to_trade_update_when_a_fill_of_our_order_then_an_event_about_that_order_keyed_by_the_webhook_id():
    order_id = uuid.uuid4()
    body = trade_update("fill", order_id=order_id, execution_id="exec-1")

    event = to_trade_update(body, "msg_1", RECEIVED)

    assert not isinstance(event, Unmappable)
    assert (event.event_id, event.correlation_id, event.delivery_id) == (event_id_for("msg_1"), str(order_id), "msg_1")
    assert (event.symbol, event.update, event.execution_id, event.source) == ("AAPL", "fill", "exec-1", "webhook")
    assert (event.client_order_id, event.broker_order_id) == (body["order"]["client_order_id"], body["order"]["id"])
    assert event.trade_update == body and event.received_at == RECEIVED
    assert subject_for(event) == "broker.trade_updates.AAPL"
    assert decode_event(encode_event(event)) == event


def test_to_trade_update_when_the_same_webhook_id_comes_again_then_the_same_event_id():
    body = trade_update("new")

    assert to_trade_update(body, "msg_7", RECEIVED).event_id == to_trade_update(body, "msg_7", RECEIVED).event_id
    assert event_id_for("msg_7") != event_id_for("msg_8")


def test_to_trade_update_when_the_order_was_not_placed_by_tradebus_then_correlated_by_the_broker_order_id():
    body = trade_update("new", client_order_id="placed-by-hand")

    event = to_trade_update(body, "msg_1", RECEIVED)

    assert event.correlation_id == body["order"]["id"]


def test_to_trade_update_when_the_symbol_has_a_share_class_then_one_subject_token():
    event = to_trade_update(trade_update("new", symbol="BRK.B"), "msg_1", RECEIVED)

    assert subject_for(event) == "broker.trade_updates.BRK_B"


def _without(body: dict, *path: str) -> dict:
    if len(path) == 1:
        return {k: v for k, v in body.items() if k != path[0]}
    return {**body, path[0]: _without(body[path[0]], *path[1:])}


@pytest.mark.parametrize(("body", "reason"), [
    (["not", "an", "object"], "not a JSON object"),
    (_without(trade_update(), "event"), "event is missing"),
    ({**trade_update(), "event": "teleported"}, "unknown trade update event 'teleported'"),
    (_without(trade_update(), "order"), "order is missing"),
    (_without(trade_update(), "order", "id"), "order.id is missing"),
    (_without(trade_update(), "order", "client_order_id"), "order.client_order_id is missing"),
    (trade_update(symbol="aapl"), "order.symbol"),
    (trade_update(status="bogus"), "order.status"),
    (trade_update(side="long"), "order.side"),
    (trade_update(filled_qty="lots"), "order.filled_qty"),
    (_without(trade_update("fill"), "execution_id"), "a fill without execution_id"),
    ({**trade_update("partial_fill"), "qty": "0"}, "a partial_fill without a positive qty"),
    ({**trade_update("fill"), "price": None}, "a fill without a positive price"),
])
def test_to_trade_update_when_a_field_is_missing_or_wrong_then_unmappable_with_the_reason(body, reason):
    outcome = to_trade_update(body, "msg_1", RECEIVED)

    assert isinstance(outcome, Unmappable) and reason in outcome.reason


def test_parse_body_when_numbers_have_fractions_then_decimals_never_floats():
    assert parse_body('{"qty": 0.1, "n": 3}') == {"qty": Decimal("0.1"), "n": 3}


@pytest.mark.parametrize("text", ["", "not json", '{"qty": NaN}', '{"a": 1', "[1, Infinity]"])
def test_parse_body_when_not_json_then_400(text):
    with pytest.raises(Refused) as caught:
        parse_body(text)

    assert (caught.value.status, caught.value.code) == (400, "BODY_NOT_JSON")


def test_dead_letter_when_unmappable_then_the_original_bytes_and_reason_kept_under_an_id_from_the_webhook_id():
    body = encoded({"event": "teleported"})
    verified = Verified("msg_9", 1_800_000_000, body.decode())

    letter = dead_letter(verified, body, "unknown trade update event 'teleported'")

    assert letter.original_payload() == body and letter.reason.startswith("unknown trade update event")
    assert subject_for(letter) == "dlq.webhook-ingest" and letter.correlation_id == "msg_9"
    assert letter.original_headers == {"webhook-id": "msg_9", "webhook-timestamp": "1800000000"}
    assert letter.event_id == dead_letter(verified, body, "again").event_id != event_id_for("msg_9")
