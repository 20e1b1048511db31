"""The order lifecycle at the broker as a (from, to) transition table (STYLE §3).

Reports arrive from two sources that race (the trade_updates stream and polling), so a report can be *stale*
(polling still says ``new`` after the stream said ``partially_filled``): stale reports are ignored, not errors.
Real-world races are legal: a fill after a cancel request (``pending_cancel -> filled``), a partial fill after a
cancel request, a cancel that loses to a fill. Anything else that goes backwards (``filled -> new``) is an
illegal transition: it is not applied and it is logged loudly, because it means our picture is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tradebus_contracts import OrderStatus as S
from tradebus_contracts.orders import FINAL_STATUSES as FINAL

_ACCEPTING = {S.PENDING_NEW, S.ACCEPTED, S.NEW, S.ACCEPTED_FOR_BIDDING, S.HELD, S.CALCULATED, S.PENDING_REVIEW}
_WORKING = {S.NEW, S.PARTIALLY_FILLED, S.DONE_FOR_DAY, S.STOPPED, S.SUSPENDED}
_PENDING = {S.PENDING_CANCEL, S.PENDING_REPLACE}

# from -> the statuses it may move to. None = we have not heard from the broker yet (just submitted).
TRANSITIONS: dict[S | None, frozenset[S]] = {
    None: frozenset(set(S)),  # the first report can be anything, even a fill already done
    **{s: frozenset(_ACCEPTING | _WORKING | _PENDING | FINAL) for s in _ACCEPTING},
    S.NEW: frozenset({S.PARTIALLY_FILLED, S.DONE_FOR_DAY, S.STOPPED, S.SUSPENDED, *_PENDING, *FINAL}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.DONE_FOR_DAY, S.STOPPED, S.SUSPENDED, *_PENDING, *FINAL}),
    S.DONE_FOR_DAY: frozenset({S.NEW, S.PARTIALLY_FILLED, *_PENDING, *FINAL}),
    S.STOPPED: frozenset({S.PARTIALLY_FILLED, *_PENDING, *FINAL}),
    S.SUSPENDED: frozenset({S.NEW, S.PARTIALLY_FILLED, *_PENDING, *FINAL}),
    # a cancel/replace request does not stop executions already on their way: fills may still come
    S.PENDING_CANCEL: frozenset({S.PARTIALLY_FILLED, S.NEW, *FINAL}),
    S.PENDING_REPLACE: frozenset({S.PARTIALLY_FILLED, S.NEW, *FINAL}),
    **{s: frozenset() for s in FINAL},
}

# How far along a status is: a report of a lower rank than what we know is stale, not a transition.
_RANK: dict[S, int] = {
    **{s: 0 for s in _ACCEPTING},
    S.NEW: 1,
    S.DONE_FOR_DAY: 1,
    S.STOPPED: 1,
    S.SUSPENDED: 1,
    S.PARTIALLY_FILLED: 2,
    S.PENDING_CANCEL: 2,
    S.PENDING_REPLACE: 2,
    **{s: 3 for s in FINAL},
}


class Change(Enum):
    APPLIED = "applied"  # a new status: record it, publish OrderStatusChanged
    SAME = "same"  # nothing new (a repeat, or the other source catching up)
    STALE = "stale"  # an older status than we know: ignore
    ILLEGAL = "illegal"  # cannot happen in a consistent world: do not apply, log loudly


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    change: Change
    status: S | None  # the status to keep after this report


def apply_status(current: S | None, reported: S, *, more_filled: bool = False) -> StatusUpdate:
    """Decide what a reported status means given the one we know.

    ``more_filled``: the report carries a larger cumulative fill than we knew, so a same-status report
    (``partially_filled`` again) is news.
    """
    if reported == current:
        return StatusUpdate(Change.APPLIED if more_filled else Change.SAME, current)
    if reported in TRANSITIONS[current]:
        return StatusUpdate(Change.APPLIED, reported)
    if current is not None and _RANK[reported] < _RANK[current]:
        return StatusUpdate(Change.STALE, current)
    return StatusUpdate(Change.ILLEGAL, current)
