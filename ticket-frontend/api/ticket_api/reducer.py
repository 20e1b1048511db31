"""The ticket's picture of one order, folded from the order's events: a pure function, no I/O (STYLE §2).

Events about an order arrive over three streams (ORDERS, RISK, FILLS) through three consumers, so they can
arrive in any order: a fill before the status change that announces it, a RiskApproved before the
OrderRequested it answers. The fold therefore never moves backwards: a status only ever advances along

    requested -> approved | rejected -> submitted -> partially_filled -> filled | canceled | expired | failed

and the first final status wins (a late "new" after "filled" is stale, not news). The order's fields are the
contract's ``OrderFields``, taken from whichever event carries them first (until then, e.g. when a fill comes
first, only the symbol is known); the filled quantity only grows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from tradebus_contracts import (
    CancelOutcome,
    CancelRequested,
    CancelResult,
    FillReported,
    OrderFields,
    OrderRequested,
    OrderStatusChanged,
    OrderSubmitted,
    RiskApproved,
    RiskRejected,
    SubmissionFailed,
)
from tradebus_contracts.decimal_types import decimal_to_str
from tradebus_contracts.envelope import Envelope
from tradebus_contracts.orders import PROGRESS_RANK, OrderProgress, progress_of

ORDER_EVENTS: tuple[type[Envelope], ...] = (
    OrderRequested, RiskApproved, RiskRejected, OrderSubmitted, SubmissionFailed, OrderStatusChanged,
    FillReported, CancelRequested, CancelResult,
)


_FROM_CANCEL: dict[CancelOutcome, OrderProgress] = {
    CancelOutcome.CANCELED: OrderProgress.CANCELED,
    CancelOutcome.CANCELED_BEFORE_SUBMIT: OrderProgress.CANCELED,
    CancelOutcome.TOO_LATE_FILLED: OrderProgress.FILLED,
    CancelOutcome.TOO_LATE_PARTIALLY_FILLED: OrderProgress.CANCELED,  # the rest is cancelled; the fills stand
}


@dataclass(frozen=True, slots=True)
class OrderState:
    order_id: UUID
    symbol: str  # every order event carries it
    status: OrderProgress
    created_at: datetime
    updated_at: datetime
    fields: OrderFields | None = None  # None until an event that carries the whole order arrives
    filled_qty: Decimal = Decimal(0)
    filled_avg_price: Decimal | None = None
    reject_reasons: tuple[dict[str, Any], ...] = ()
    cancel_outcome: CancelOutcome | None = None

    @property
    def is_final(self) -> bool:
        return self.status.is_final


def starts_an_order(event: Envelope) -> bool:
    """Whether this event, seen first, makes an order the ticket shows. A cancel of an order that was never
    requested on the bus (a foreign or mistyped id, e.g. from ``tradectl``) stays in the timeline table only:
    the blotter must not show an order that does not exist."""
    return isinstance(event, ORDER_EVENTS) and not isinstance(event, (CancelRequested, CancelResult))


def advance(current: OrderProgress, proposed: OrderProgress) -> OrderProgress:
    """The status to keep: ``proposed`` when it is further along, else ``current`` (late events are stale)."""
    if current.is_final:
        return current
    return proposed if PROGRESS_RANK[proposed] >= PROGRESS_RANK[current] else current


def reduce(state: OrderState | None, event: Envelope) -> OrderState:
    """Fold one order event into the order's state (``None``: the first event we see of this order)."""
    if not isinstance(event, ORDER_EVENTS):
        raise TypeError(f"{event.event_type} is not an event about an order")
    order_id: UUID = event.order_id  # type: ignore[attr-defined]
    if state is None:
        state = OrderState(order_id=order_id, symbol=event.symbol,  # type: ignore[attr-defined]
                           status=OrderProgress.REQUESTED, created_at=event.occurred_at, updated_at=event.occurred_at)
    if state.fields is None and isinstance(event, OrderFields):
        state = replace(state, fields=event.order_fields())
    state = replace(state, created_at=min(state.created_at, event.occurred_at),
                    updated_at=max(state.updated_at, event.occurred_at))
    proposed, changes = _effect(state, event)
    return replace(state, status=advance(state.status, proposed), **changes)


def _effect(state: OrderState, event: Envelope) -> tuple[OrderProgress, dict[str, Any]]:
    """(the status this event points to, other field changes)."""
    if isinstance(event, RiskApproved):
        return OrderProgress.APPROVED, {}
    if isinstance(event, RiskRejected):
        return OrderProgress.REJECTED, {"reject_reasons": tuple(r.model_dump(mode="json") for r in event.reasons)}
    if isinstance(event, OrderSubmitted):
        return progress_of(event.status, state.filled_qty), {}
    if isinstance(event, SubmissionFailed):
        return OrderProgress.FAILED, {"reject_reasons": (
            {"code": "BROKER_REFUSED", "message": event.message or "the broker refused the order", "field": None},)}
    if isinstance(event, OrderStatusChanged):
        changes = _filled(state, event.filled_qty, event.filled_avg_price)
        return progress_of(event.status, max(state.filled_qty, event.filled_qty)), changes
    if isinstance(event, FillReported):
        changes = _filled_by_execution(state, event)
        return progress_of(event.order_status, max(state.filled_qty, event.cum_qty)), changes
    if isinstance(event, CancelResult):
        changes = {"cancel_outcome": event.outcome, **_filled(state, event.filled_qty, None)}
        return _FROM_CANCEL.get(event.outcome, state.status), changes
    return state.status, {}  # OrderRequested, CancelRequested: nothing moves


def _filled(state: OrderState, filled_qty: Decimal, avg_price: Decimal | None) -> dict[str, Any]:
    """The broker's cumulative view wins when it knows at least as much as we do."""
    if filled_qty < state.filled_qty or (filled_qty == state.filled_qty and avg_price is None):
        return {}
    return {"filled_qty": filled_qty,
            "filled_avg_price": avg_price if avg_price is not None else state.filled_avg_price}


def _filled_by_execution(state: OrderState, fill: FillReported) -> dict[str, Any]:
    """A fill that takes the cumulative quantity further; a repeat (same or lower cum_qty) changes nothing."""
    if fill.cum_qty <= state.filled_qty:
        return {}
    added = fill.cum_qty - state.filled_qty
    before = (state.filled_avg_price or Decimal(0)) * state.filled_qty
    return {"filled_qty": fill.cum_qty, "filled_avg_price": (before + fill.price * added) / fill.cum_qty}


# --- one line per event for the timeline ---------------------------------------------------------------------


def _d(value: Decimal | None) -> str:
    """A quantity or amount as people read it: its own digits, no trailing zeros ("2", not "2.000000000")."""
    return "?" if value is None else decimal_to_str(value.normalize())


_CENT = Decimal("0.01")


def _price(value: Decimal | None) -> str:
    """A price as people read it: at least to the cent, no trailing zeros past it ("187.30", not "187.300000";
    a sub-penny price keeps its digits, "0.5123")."""
    if value is None:
        return "?"
    return decimal_to_str(value.quantize(_CENT) if value == value.quantize(_CENT) else value.normalize())


def describe_order(fields: OrderFields) -> str:
    if fields.qty is not None:
        size = f"{_d(fields.qty)} {fields.symbol}"
    else:
        size = f"${_price(fields.notional)} of {fields.symbol}"
    text = f"{fields.side} {size} {fields.type.replace('_', ' ')}"
    if fields.type == "limit" and fields.limit_price is not None:
        text += f" @ {_price(fields.limit_price)}"
    else:
        if fields.stop_price is not None:
            text += f", stop {_price(fields.stop_price)}"
        if fields.limit_price is not None:
            text += f", limit {_price(fields.limit_price)}"
    return text + f", {fields.time_in_force}" + (", extended hours" if fields.extended_hours else "")


def summarize(event: Envelope) -> str:
    """A human line for the order's timeline."""
    if isinstance(event, OrderRequested):
        return f"Requested by {event.producer}: {describe_order(event)}"
    if isinstance(event, RiskApproved):
        return "Approved by risk"
    if isinstance(event, RiskRejected):
        return f"Rejected by risk: {event.message}"
    if isinstance(event, OrderSubmitted):
        return f"Submitted to the broker ({event.status})"
    if isinstance(event, SubmissionFailed):
        return f"The broker refused the order: {event.message}"
    if isinstance(event, OrderStatusChanged):
        filled = f", {_d(event.filled_qty)} filled" if event.filled_qty > 0 else ""
        avg = f" at {_price(event.filled_avg_price)}" if event.filled_avg_price is not None and filled else ""
        return f"Broker status {event.status}{filled}{avg}"
    if isinstance(event, FillReported):
        return f"Fill: {_d(event.qty)} at {_price(event.price)} (total {_d(event.cum_qty)})"
    if isinstance(event, CancelRequested):
        return f"Cancel requested by {event.requested_by}" + (f": {event.reason}" if event.reason else "")
    if isinstance(event, CancelResult):
        return f"Cancel {str(event.outcome).replace('_', ' ')}: {event.message}" if event.message else \
            f"Cancel {str(event.outcome).replace('_', ' ')}"
    return event.event_type
