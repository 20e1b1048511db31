"""rpc bodies: the fills-history request's page-size bounds and its reply's shape."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tradebus_contracts.rpc import (
    FILLS_HISTORY_MAX_PAGE_SIZE,
    FillsHistoryReply,
    FillsHistoryRequest,
)
from tradebus_contracts.subjects import GATEWAY_FILLS_HISTORY
from tradebus_contracts.topology import ENDPOINTS

FILL = {"id": "20261124143000000::6f0c1de0-0000-4000-8000-000000000001", "activity_type": "FILL", "qty": "1",
        "price": "187.30", "cum_qty": "1", "side": "buy", "type": "partial_fill", "extra": {"nested": [1, None]}}


def test_fills_history_subject_when_built_then_the_gateways_and_in_topology_with_its_models():
    (endpoint,) = [e for e in ENDPOINTS if e.subject == GATEWAY_FILLS_HISTORY]

    assert GATEWAY_FILLS_HISTORY == "rpc.order-gateway.fills-history"
    assert (endpoint.request, endpoint.reply) == (FillsHistoryRequest, FillsHistoryReply)
    assert (endpoint.responders, endpoint.requesters) == (("order-gateway",), ("position-sync-service",))


def test_fills_history_request_when_empty_then_the_first_page_of_the_maximum():
    request = FillsHistoryRequest.model_validate_json(b"{}")

    assert (request.page_token, request.page_size) == (None, FILLS_HISTORY_MAX_PAGE_SIZE) == (None, 500)


@pytest.mark.parametrize("size", [0, -1])
def test_fills_history_request_when_page_size_below_one_then_refused(size):
    with pytest.raises(ValidationError, match="page_size"):
        FillsHistoryRequest.model_validate_json(f'{{"page_size": {size}}}')


@pytest.mark.parametrize(("asked", "served"), [(1, 1), (500, 500), (501, 500), (10_000, 500)])
def test_fills_history_request_when_page_size_above_the_maximum_then_clamped_not_refused(asked, served):
    assert FillsHistoryRequest.model_validate_json(f'{{"page_size": {asked}}}').page_size == served
    assert FillsHistoryRequest(page_size=asked).page_size == served


def test_fills_history_request_when_unknown_field_then_refused():
    with pytest.raises(ValidationError, match="page"):
        FillsHistoryRequest.model_validate_json(b'{"page": 2}')


def test_fills_history_reply_when_round_tripped_then_activities_exactly_as_the_broker_sent_them():
    reply = FillsHistoryReply(activities=[FILL], complete=False, next_page_token=FILL["id"])

    again = FillsHistoryReply.model_validate_json(reply.model_dump_json())

    assert again == reply and again.activities == [FILL]


@pytest.mark.parametrize(("complete", "token"), [(True, "x"), (False, None)])
def test_fills_history_reply_when_complete_and_token_disagree_then_refused(complete, token):
    with pytest.raises(ValidationError, match="next_page_token"):
        FillsHistoryReply(activities=[], complete=complete, next_page_token=token)


@pytest.mark.parametrize("body", [b'{"error": "broker unavailable (503)"}', b'{"activities": []}'])
def test_fills_history_reply_when_an_error_or_not_a_page_then_not_a_reply(body):
    with pytest.raises(ValidationError):
        FillsHistoryReply.model_validate_json(body)
