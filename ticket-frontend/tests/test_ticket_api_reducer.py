"""The ticket's order state as a pure fold of the order's events: no servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from ticket_api.reducer import advance, reduce, starts_an_order, summarize
from tradebus_contracts import (
    CancelOutcome,
    CancelRequested,
    CancelResult,
    FillReported,
    OrderFields,
    OrderRequested,
    OrderStatusChanged,
    OrderSubmitted,
    RejectionReason,
    RiskApproved,
    RiskRejected,
    SubmissionFailed,
)
from tradebus_contracts.events import PositionSnapshot
from tradebus_contracts.orders import OrderProgress

T0 = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
ORDER = {"symbol": "AAPL", "side": "buy", "type": "limit", "time_in_force": "day", "qty": Decimal("10"),
         "limit_price": Decimal("187.25")}


class Story:
    """Events of one order, each a second after the previous one."""

    def __init__(self) -> None:
        self.order_id = uuid4()
        self.t = T0

    def _env(self, producer: str) -> dict:
        self.t += timedelta(seconds=1)
        return {"producer": producer, "order_id": self.order_id, "correlation_id": str(self.order_id),
                "occurred_at": self.t}

    def requested(self):
        return OrderRequested(**self._env("ticket-api"), **ORDER)

    def approved(self):
        return RiskApproved(**self._env("risk-service"), **ORDER, issued_at=self.t, expires_at=self.t,
                            key_id="k1", signature="c2ln")

    def rejected(self):
        return RiskRejected(**self._env("risk-service"), **ORDER, message="over the limit", reasons=[
            RejectionReason(code="ORDER_NOTIONAL_EXCEEDS_LIMIT", message="too big", field="qty")])

    def submitted(self, status="new"):
        return OrderSubmitted(**self._env("order-gateway"), **ORDER, client_order_id="c", broker_order_id="b",
                              approval_id=uuid4(), status=status, submitted_at=self.t)

    def failed(self):
        return SubmissionFailed(**self._env("order-gateway"), client_order_id="c", symbol="AAPL", http_status=403,
                                message="insufficient buying power")

    def status(self, status, filled="0", avg=None):
        return OrderStatusChanged(**self._env("order-gateway"), client_order_id="c", broker_order_id="b",
                                  symbol="AAPL", status=status, filled_qty=Decimal(filled),
                                  filled_avg_price=None if avg is None else Decimal(avg), source="stream")

    def fill(self, qty, price, cum, order_status):
        return FillReported(**self._env("order-gateway"), client_order_id="c", broker_order_id="b", symbol="AAPL",
                            side="buy", execution_id=str(uuid4()), qty=Decimal(qty), price=Decimal(price),
                            cum_qty=Decimal(cum), order_status=order_status, executed_at=self.t, source="stream")

    def cancel_requested(self):
        return CancelRequested(**self._env("ticket-api"), symbol="AAPL", requested_by="ticket")

    def cancel_result(self, outcome, filled="0"):
        return CancelResult(**self._env("order-gateway"), symbol="AAPL", outcome=outcome, filled_qty=Decimal(filled),
                            message="done")


def fold(events):
    state = None
    for event in events:
        state = reduce(state, event)
    return state


def test_fold_when_order_is_requested_then_status_requested_with_its_fields():
    s = Story()
    state = fold([s.requested()])
    assert state.status is OrderProgress.REQUESTED
    assert (state.symbol, state.fields.side, state.fields.type, state.fields.qty, state.fields.limit_price) == (
        "AAPL", "buy", "limit", Decimal("10"), Decimal("187.25"))
    assert state.filled_qty == 0 and not state.is_final


def test_fold_when_a_fill_arrives_before_any_event_with_the_order_then_only_the_symbol_until_one_does():
    s = Story()
    fill = s.fill("4", "100", "4", "partially_filled")
    first = fold([fill])
    assert first.symbol == "AAPL" and first.fields is None and first.filled_qty == Decimal("4")
    state = fold([fill, s.requested()])
    assert state.fields == OrderFields(**ORDER) and state.status is OrderProgress.PARTIALLY_FILLED


def test_fold_when_risk_rejects_then_rejected_with_reasons():
    s = Story()
    state = fold([s.requested(), s.rejected()])
    assert state.status is OrderProgress.REJECTED and state.is_final
    assert state.reject_reasons[0]["code"] == "ORDER_NOTIONAL_EXCEEDS_LIMIT"
    assert state.reject_reasons[0]["field"] == "qty"


def test_fold_when_the_order_fills_in_two_parts_then_partially_filled_then_filled_at_average_price():
    s = Story()
    partial = fold([s.requested(), s.approved(), s.submitted(), s.fill("4", "100", "4", "partially_filled")])
    assert partial.status is OrderProgress.PARTIALLY_FILLED and partial.filled_qty == Decimal("4")
    done = fold([s.requested(), s.approved(), s.submitted(), s.fill("4", "100", "4", "partially_filled"),
                 s.fill("6", "110", "10", "filled")])
    assert done.status is OrderProgress.FILLED
    assert done.filled_qty == Decimal("10") and done.filled_avg_price == Decimal("106")


def test_fold_when_the_same_fill_arrives_twice_then_it_counts_once():
    s = Story()
    fill = s.fill("4", "100", "4", "partially_filled")
    state = fold([s.requested(), fill, s.fill("4", "100", "4", "partially_filled")])
    assert state.filled_qty == Decimal("4") and state.filled_avg_price == Decimal("100")


def test_fold_when_a_late_status_arrives_after_filled_then_status_does_not_move_backwards():
    s = Story()
    state = fold([s.requested(), s.approved(), s.submitted(), s.status("filled", "10", "187.2"),
                  s.status("new"), s.approved()])
    assert state.status is OrderProgress.FILLED
    assert state.filled_qty == Decimal("10") and state.filled_avg_price == Decimal("187.2")


def test_fold_when_events_arrive_out_of_order_then_fields_and_status_are_still_right():
    s = Story()
    requested, approved, submitted = s.requested(), s.approved(), s.submitted()
    state = fold([submitted, approved, requested])
    assert state.status is OrderProgress.SUBMITTED
    assert state.created_at == requested.occurred_at and state.updated_at == submitted.occurred_at
    assert state.fields.type == "limit"


def test_fold_when_the_broker_refuses_then_failed_with_the_brokers_message():
    s = Story()
    state = fold([s.requested(), s.approved(), s.failed()])
    assert state.status is OrderProgress.FAILED
    assert state.reject_reasons[0]["message"] == "insufficient buying power"


@pytest.mark.parametrize(("outcome", "expected"), [
    (CancelOutcome.CANCELED, OrderProgress.CANCELED),
    (CancelOutcome.CANCELED_BEFORE_SUBMIT, OrderProgress.CANCELED),
    (CancelOutcome.TOO_LATE_FILLED, OrderProgress.FILLED),
    (CancelOutcome.TOO_LATE_PARTIALLY_FILLED, OrderProgress.CANCELED),
    (CancelOutcome.NOT_CANCELABLE, OrderProgress.SUBMITTED),
    (CancelOutcome.FAILED, OrderProgress.SUBMITTED),
])
def test_fold_when_a_cancel_ends_then_status_follows_its_outcome(outcome, expected):
    s = Story()
    state = fold([s.requested(), s.approved(), s.submitted(), s.cancel_requested(), s.cancel_result(outcome)])
    assert state.status is expected
    assert state.cancel_outcome == str(outcome)


def test_fold_when_a_partial_fill_races_a_cancel_then_canceled_keeps_the_filled_quantity():
    s = Story()
    state = fold([s.requested(), s.approved(), s.submitted(), s.cancel_requested(),
                  s.fill("3", "100", "3", "partially_filled"),
                  s.cancel_result(CancelOutcome.TOO_LATE_PARTIALLY_FILLED, filled="3")])
    assert state.status is OrderProgress.CANCELED and state.filled_qty == Decimal("3")


def test_fold_when_event_is_not_about_an_order_then_type_error():
    snapshot = PositionSnapshot(producer="p", correlation_id="x", symbol="AAPL", qty=Decimal(1),
                                avg_entry_price=Decimal(1), cost_basis=Decimal(1), source="ledger", as_of=T0)
    with pytest.raises(TypeError):
        reduce(None, snapshot)


def test_advance_when_two_final_statuses_then_the_first_wins():
    assert advance(OrderProgress.CANCELED, OrderProgress.FILLED) is OrderProgress.CANCELED
    assert advance(OrderProgress.SUBMITTED, OrderProgress.APPROVED) is OrderProgress.SUBMITTED
    assert advance(OrderProgress.APPROVED, OrderProgress.REJECTED) is OrderProgress.REJECTED


def test_summarize_when_order_requested_then_one_readable_line():
    s = Story()
    assert summarize(s.requested()) == "Requested by ticket-api: buy 10 AAPL limit @ 187.25, day"
    assert summarize(s.fill("4", "100", "4", "partially_filled")) == "Fill: 4 at 100.00 (total 4)"


def test_summarize_when_the_broker_sends_padded_decimals_then_prices_to_the_cent_and_quantities_bare():
    s = Story()
    assert summarize(s.status("filled", filled="2.000000000", avg="187.300000")) == \
        "Broker status filled, 2 filled at 187.30"
    assert summarize(s.fill("1.500", "0.51230", "1.500", "filled")) == "Fill: 1.5 at 0.5123 (total 1.5)"
    assert summarize(s.fill("100", "187.3333", "100", "filled")) == "Fill: 100 at 187.3333 (total 100)"


def test_starts_an_order_when_the_first_event_is_a_cancel_then_no():
    s = Story()
    assert starts_an_order(s.requested()) and starts_an_order(s.fill("1", "1", "1", "filled"))
    assert not starts_an_order(s.cancel_requested())
    assert not starts_an_order(s.cancel_result(CancelOutcome.CANCELED))
