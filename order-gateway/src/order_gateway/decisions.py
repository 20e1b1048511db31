"""What the gateway decides, as pure functions over plain values (no database, no broker, no bus).

* `plan`: what to do with an approval, given the order row we hold (locked) and the gate's verdict (gate.py);
* `cancel_step`: what a cancel request means for the order row we hold (locked);
* `cancel_outcome`: what a cancel came to, given the broker's last word on the order.

The handlers (approvals.py, cancels.py) do the I/O around these, in the order they are called.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from tradebus_contracts import CancelOutcome, OrderStatus, RiskApproved

from .broker import BrokerOrder
from .gate import Refusal
from .model import OrderRow, SubmitState

CONFIRM_WINDOW_S = 10.0  # how long a cancel follows the order for a final state before answering "failed"


# ---- approvals -------------------------------------------------------------------------------------------------
class Action(StrEnum):
    SUBMIT = "submit"  # a new order and the gate passed: record it pending, then send it
    RESUME = "resume"  # this approval's order is pending (a crash or a lost answer): ask the broker first
    REPEAT = "repeat"  # this approval was handled already (submitted or failed): nothing to do
    AFTER_CANCEL = "after_cancel"  # the order was cancelled before it was submitted: it never will be
    FAIL = "fail"  # a genuine approval that can no longer be sent (expired, halted): the order fails, with an event
    REFUSE = "refuse"  # not a usable approval (signature), or a different approval for an order already used


_AUDIT = {Action.SUBMIT: "accepted", Action.RESUME: "resumed", Action.REPEAT: "repeat"}
ENDS_THE_ORDER = frozenset({"EXPIRED", "TRADING_HALTED", "TRADING_REDUCING_ONLY"})
"""Refusals of an approval whose signature verified: the order is real and will never be sent, so it ends with
``SubmissionFailed`` (risk releases its exposure; the ticket shows why) instead of a dead letter nobody reads."""


@dataclass(frozen=True, slots=True)
class Plan:
    action: Action
    reason: str | None = None
    may_post: bool = True  # False: resume by looking up only (the gate refuses now, e.g. the approval expired)

    @property
    def seen_as(self) -> str:
        """The outcome kept in ``approvals_seen``: accepted | resumed | repeat | refused."""
        return _AUDIT.get(self.action, "refused")


def plan(row: OrderRow | None, approval: RiskApproved, refusal: Refusal | None) -> Plan:
    """What to do with an approval given the order row we hold (locked) and the gate's verdict."""
    if row is not None and row.approval_id == approval.approval_id:
        if row.state == SubmitState.PENDING:
            if refusal is None:
                return Plan(Action.RESUME)
            # it may have reached the broker before the refusal became true: find it, but never send it now
            return Plan(Action.RESUME, f"{refusal.code}: {refusal.message} (lookup only)", may_post=False)
        return Plan(Action.REPEAT, f"order already {row.state}")
    if refusal is not None:
        if row is None and refusal.code in ENDS_THE_ORDER:
            return Plan(Action.FAIL, f"{refusal.code}: {refusal.message}")
        return Plan(Action.REFUSE, f"{refusal.code}: {refusal.message}")
    if row is None:
        return Plan(Action.SUBMIT)
    if row.state == SubmitState.CANCELED_BEFORE_SUBMIT:
        return Plan(Action.AFTER_CANCEL, "order was cancelled before it was submitted")
    return Plan(Action.REFUSE, "DUPLICATE_ORDER: a different approval for this order was already used")


# ---- cancels ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AnswerNow:
    """The broker never had the order: the cancel is answered from our own record."""

    outcome: CancelOutcome
    message: str
    record_before_submit: bool  # no row yet: write one, so that an approval arriving later is never submitted


@dataclass(frozen=True, slots=True)
class CancelAtBroker:
    broker_order_id: str
    already_final: bool  # nothing left to DELETE: confirm the final state and answer
    filled_qty: Decimal  # counted so far: the answer's quantity if the broker cannot be asked


@dataclass(frozen=True, slots=True)
class WaitForSubmit:
    """Being submitted right now: answer once the broker has it (the request is redelivered shortly)."""


@dataclass(frozen=True, slots=True)
class AlreadyAnswered:
    """A repeat of a cancel that was answered ``canceled_before_submit``: nothing more to say."""


CancelStep = AnswerNow | CancelAtBroker | WaitForSubmit | AlreadyAnswered


def cancel_step(row: OrderRow | None) -> CancelStep:
    """What a cancel request means for the order row we hold (locked), if any."""
    if row is None:
        return AnswerNow(CancelOutcome.CANCELED_BEFORE_SUBMIT, "cancelled before it was submitted: it never will be",
                         record_before_submit=True)
    if row.state == SubmitState.CANCELED_BEFORE_SUBMIT:
        return AlreadyAnswered()
    if row.state == SubmitState.FAILED:
        return AnswerNow(CancelOutcome.NOT_CANCELABLE, "the order never reached the broker (submission failed)",
                         record_before_submit=False)
    if row.state == SubmitState.PENDING:
        return WaitForSubmit()
    if row.broker_order_id is None:  # a submitted row always has one: our record is wrong, say so
        raise ValueError(f"order {row.order_id} is {row.state} without a broker order id")
    final = row.broker_status is not None and OrderStatus(row.broker_status).is_final
    return CancelAtBroker(row.broker_order_id, already_final=final, filled_qty=row.filled_qty)


def cancel_outcome(order: BrokerOrder | None, refused: str | None) -> tuple[CancelOutcome, str]:
    """What a cancel came to, from the broker's last word on the order (None: it could not be asked) and the
    broker's refusal of the DELETE, if it refused."""
    if order is None:
        return CancelOutcome.FAILED, "the broker could not be asked for the order's state"
    if order.status == OrderStatus.FILLED:
        return CancelOutcome.TOO_LATE_FILLED, f"too late: the order filled ({order.filled_qty})"
    if order.status.is_final:
        if order.filled_qty > 0:
            return CancelOutcome.TOO_LATE_PARTIALLY_FILLED, (
                f"partially filled ({order.filled_qty}) before the cancel; the rest is {order.status.value}")
        return CancelOutcome.CANCELED, f"the order is {order.status.value}"
    if refused is not None:
        return CancelOutcome.NOT_CANCELABLE, f"the broker refused the cancel: {refused}"
    return CancelOutcome.FAILED, f"no final state within {CONFIRM_WINDOW_S:.0f}s (still {order.status.value})"
