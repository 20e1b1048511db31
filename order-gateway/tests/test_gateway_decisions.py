"""The gateway's decisions, pure: what to do with an approval, with a cancel request, and what a cancel came to."""

from decimal import Decimal

import pytest

from order_gateway import decisions
from order_gateway.gate import Refusal
from order_gateway.model import SubmitState
from tradebus_contracts import CancelOutcome

from .builders import approval, broker_order, order_row, row_of

EXPIRED = Refusal("EXPIRED", "the approval expired")


# ---- plan -------------------------------------------------------------------------------------------------------
def test_plan_when_no_row_and_the_gate_passes_then_submit():
    decided = decisions.plan(None, approval(), None)

    assert decided.action is decisions.Action.SUBMIT and decided.may_post and decided.seen_as == "accepted"


@pytest.mark.parametrize("code", ["EXPIRED", "TRADING_HALTED", "TRADING_REDUCING_ONLY"])
def test_plan_when_no_row_and_a_genuine_approval_can_no_longer_be_used_then_the_order_fails_with_the_code(code):
    decided = decisions.plan(None, approval(), Refusal(code, "no longer usable"))

    assert decided.action is decisions.Action.FAIL and decided.seen_as == "refused"
    assert decided.reason == f"{code}: no longer usable"


@pytest.mark.parametrize("code", ["BAD_SIGNATURE", "UNKNOWN_KEY_ID", "MALFORMED", "NOT_YET_VALID"])
def test_plan_when_no_row_and_the_approval_is_not_trustworthy_then_refused_without_touching_the_order(code):
    decided = decisions.plan(None, approval(), Refusal(code, "bad"))

    assert decided.action is decisions.Action.REFUSE and decided.reason == f"{code}: bad"


def test_plan_when_this_approvals_order_is_pending_then_resume_by_asking_the_broker_first():
    approved = approval()

    decided = decisions.plan(row_of(approved, SubmitState.PENDING), approved, None)

    assert decided.action is decisions.Action.RESUME and decided.may_post and decided.reason is None
    assert decided.seen_as == "resumed"


def test_plan_when_pending_and_the_approval_expired_since_then_resume_with_a_lookup_only():
    approved = approval()

    decided = decisions.plan(row_of(approved, SubmitState.PENDING), approved, EXPIRED)

    assert decided.action is decisions.Action.RESUME and not decided.may_post
    assert decided.reason == "EXPIRED: the approval expired (lookup only)"


@pytest.mark.parametrize("state", [SubmitState.SUBMITTED, SubmitState.FAILED])
def test_plan_when_this_approval_was_handled_already_then_repeat_and_do_nothing(state):
    approved = approval()

    decided = decisions.plan(row_of(approved, state), approved, None)

    assert decided.action is decisions.Action.REPEAT and decided.seen_as == "repeat"
    assert decided.reason == f"order already {state}"


def test_plan_when_the_order_was_cancelled_before_submit_then_never_submitted():
    approved = approval()
    cancelled = order_row(SubmitState.CANCELED_BEFORE_SUBMIT, order_id=approved.order_id, broker_order_id=None)

    decided = decisions.plan(cancelled, approved, None)

    assert decided.action is decisions.Action.AFTER_CANCEL and decided.seen_as == "refused"


def test_plan_when_another_approval_already_used_the_order_then_refused_as_duplicate():
    first = approval()
    second = approval(order_id=first.order_id)

    decided = decisions.plan(row_of(first, SubmitState.SUBMITTED), second, None)

    assert decided.action is decisions.Action.REFUSE and decided.reason.startswith("DUPLICATE_ORDER")


def test_plan_when_another_approval_is_also_refused_by_the_gate_then_the_gates_reason_wins():
    first = approval()
    second = approval(order_id=first.order_id)

    decided = decisions.plan(row_of(first, SubmitState.SUBMITTED), second, EXPIRED)

    assert decided.action is decisions.Action.REFUSE and decided.reason.startswith("EXPIRED")


# ---- cancel_step ------------------------------------------------------------------------------------------------
def test_cancel_step_when_we_hold_no_row_then_answered_now_and_recorded_so_it_is_never_submitted():
    step = decisions.cancel_step(None)

    assert step == decisions.AnswerNow(CancelOutcome.CANCELED_BEFORE_SUBMIT, step.message, record_before_submit=True)


def test_cancel_step_when_already_cancelled_before_submit_then_nothing_more_to_say():
    step = decisions.cancel_step(order_row(SubmitState.CANCELED_BEFORE_SUBMIT, broker_order_id=None))

    assert step == decisions.AlreadyAnswered()


def test_cancel_step_when_submission_failed_then_not_cancelable_without_asking_the_broker():
    step = decisions.cancel_step(order_row(SubmitState.FAILED, broker_order_id=None))

    assert isinstance(step, decisions.AnswerNow) and step.outcome is CancelOutcome.NOT_CANCELABLE
    assert not step.record_before_submit


def test_cancel_step_when_being_submitted_then_wait_for_the_submit():
    assert decisions.cancel_step(order_row(SubmitState.PENDING, broker_order_id=None)) == decisions.WaitForSubmit()


def test_cancel_step_when_open_at_the_broker_then_delete_it_there():
    step = decisions.cancel_step(order_row(broker_status="partially_filled", filled_qty="2"))

    assert step == decisions.CancelAtBroker("b-1", already_final=False, filled_qty=Decimal(2))


def test_cancel_step_when_already_final_at_the_broker_then_confirm_without_a_delete():
    assert decisions.cancel_step(order_row(broker_status="filled")).already_final


def test_cancel_step_when_submitted_without_a_broker_order_id_then_an_error_you_see():
    with pytest.raises(ValueError, match="without a broker order id"):
        decisions.cancel_step(order_row(broker_order_id=None))


# ---- cancel_outcome ---------------------------------------------------------------------------------------------
ROW = order_row()


@pytest.mark.parametrize(("status", "filled", "refused", "expected"), [
    ("canceled", "0", None, CancelOutcome.CANCELED),
    ("expired", "0", None, CancelOutcome.CANCELED),
    ("filled", "5", None, CancelOutcome.TOO_LATE_FILLED),
    ("filled", "5", "order is not cancelable", CancelOutcome.TOO_LATE_FILLED),  # the cancel lost to a fill
    ("canceled", "2", None, CancelOutcome.TOO_LATE_PARTIALLY_FILLED),
    ("new", "0", "order is not cancelable", CancelOutcome.NOT_CANCELABLE),
    ("pending_cancel", "0", None, CancelOutcome.FAILED),  # no final state within the window
])
def test_cancel_outcome_when_the_broker_last_said_then_the_answer_says_what_happened(status, filled, refused,
                                                                                      expected):
    outcome, message = decisions.cancel_outcome(broker_order(ROW, status, filled_qty=filled), refused)

    assert outcome is expected and message


def test_cancel_outcome_when_the_broker_could_not_be_asked_then_failed():
    outcome, message = decisions.cancel_outcome(None, None)

    assert outcome is CancelOutcome.FAILED and "could not be asked" in message


def test_cancel_outcome_when_partially_filled_then_the_message_says_how_much_stands():
    _, message = decisions.cancel_outcome(broker_order(ROW, "canceled", filled_qty="2"), None)

    assert message == "partially filled (2) before the cancel; the rest is canceled"
