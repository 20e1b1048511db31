"""Risk's preview reply (``tradebus_contracts.rpc.PreviewReply``) shaped for the ticket: pure, no servers."""

from __future__ import annotations

import json
from decimal import Decimal
from uuid import uuid4

import pytest

from ticket_api.preview import RiskUnavailable, preview_request, shape_preview
from tradebus_contracts import OrderFields, RejectionReason
from tradebus_contracts.rpc import FieldProblem, PreviewReply, PreviewRequest

ORDER = OrderFields(symbol="AAPL", side="buy", type="limit", time_in_force="day", qty=Decimal("10"),
                    limit_price=Decimal("187.25"))


def test_request_when_an_order_id_is_given_then_a_preview_request_with_it():
    order_id = uuid4()

    request = PreviewRequest.model_validate_json(preview_request(ORDER, order_id))

    assert request.order_fields() == ORDER and request.order_id == order_id


def test_shape_when_risk_approves_then_its_cost_and_buying_power_after_as_they_are():
    reply = PreviewReply(ok=True, approved=True, estimated_cost=Decimal("1872.50"), price_basis="limit_price",
                         buying_power=Decimal("5000"), buying_power_after=Decimal("3127.50"), trading_state="active")

    preview = shape_preview(reply.model_dump_json().encode())

    assert (preview.estimated_cost, preview.buying_power, preview.buying_power_after) == ("1872.50", "5000", "3127.50")
    assert preview.approvable and preview.trading_state == "active" and preview.price_basis == "limit_price"


def test_shape_when_risk_gives_reasons_then_field_reasons_are_errors_and_the_rest_warnings():
    reply = PreviewReply(ok=True, approved=False, reasons=[
        RejectionReason(code="SUB_PENNY_PRICE", message="too many decimals", field="limit_price"),
        RejectionReason(code="INSUFFICIENT_BUYING_POWER", message="cost exceeds buying power", field="qty"),
        RejectionReason(code="QUOTE_STALE", message="quote is 90s old")])

    preview = shape_preview(reply.model_dump_json().encode())

    assert [(e.field, e.code) for e in preview.errors] == [("limit_price", "SUB_PENNY_PRICE")]
    assert [w.code for w in preview.warnings] == ["INSUFFICIENT_BUYING_POWER", "QUOTE_STALE"]
    assert not preview.approvable


def test_shape_when_risk_approves_with_advice_then_a_warning_and_still_approvable():
    reply = PreviewReply(ok=True, approved=True, warnings=[
        RejectionReason(code="STOP_TRIGGERS_NOW", message="a buy stop at $180.00 is at or below the ask $187.30",
                        field="stop_price")])

    preview = shape_preview(reply.model_dump_json().encode())

    assert [w.code for w in preview.warnings] == ["STOP_TRIGGERS_NOW"] and preview.errors == []
    assert preview.approvable


def test_shape_when_the_request_was_not_an_order_then_invalid_field_errors():
    reply = PreviewReply(ok=False, errors=[FieldProblem(field="qty", message="not a decimal")])

    preview = shape_preview(reply.model_dump_json().encode())

    assert [(e.field, e.code, e.message) for e in preview.errors] == [("qty", "INVALID_FIELD", "not a decimal")]
    assert not preview.approvable and preview.buying_power_after is None


@pytest.mark.parametrize(("reply", "said"), [
    ({"error": "InvalidOperation: boom"}, "InvalidOperation: boom"),
    ({"ok": True, "approved": True, "estimated_cost": 10.5}, "outside the contract"),  # a JSON number: not Money
])
def test_shape_when_risk_gives_no_verdict_then_a_preview_failed_warning(reply, said):
    preview = shape_preview(json.dumps(reply).encode())

    assert [w.code for w in preview.warnings] == ["PREVIEW_FAILED"] and said in preview.warnings[0].message
    assert not preview.approvable and preview.estimated_cost is None


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]"])
def test_shape_when_the_reply_is_not_a_json_object_then_risk_is_unavailable(raw):
    with pytest.raises(RiskUnavailable):
        shape_preview(raw)
