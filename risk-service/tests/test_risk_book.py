"""Which order outcomes close an open approval: a final status, a failed submission, a cancel before submit —
and nothing else (a partial fill, ``done_for_day`` or a cancel that came too late keep it open)."""

from __future__ import annotations

from uuid import uuid4

import pytest

from risk_service.book import closes_approval
from tradebus_contracts import CancelResult, OrderStatusChanged, SubmissionFailed


def scoped(**fields):
    order_id = uuid4()
    return {"producer": "test", "order_id": order_id, "correlation_id": str(order_id), "symbol": "AAPL", **fields}


def a_status(status: str) -> OrderStatusChanged:
    return OrderStatusChanged(**scoped(client_order_id="tb-1", broker_order_id="b-1", status=status, filled_qty="0",
                                       source="stream"))


def a_cancel(outcome: str) -> CancelResult:
    return CancelResult(**scoped(outcome=outcome, filled_qty="0", message="m"))


@pytest.mark.parametrize(("event", "closes"), [
    (a_status("filled"), True),
    (a_status("canceled"), True),
    (a_status("partially_filled"), False),
    (a_status("done_for_day"), False),
    (SubmissionFailed(**scoped(client_order_id="tb-1", message="refused")), True),
    (a_cancel("canceled_before_submit"), True),
    (a_cancel("too_late_filled"), False),
], ids=["filled", "canceled", "partially_filled", "done_for_day", "submission_failed", "canceled_before_submit",
        "too_late_filled"])
def test_closes_approval_when_the_gateway_reports_an_outcome_then_only_an_end_closes_it(event, closes):
    assert closes_approval(event) is closes
