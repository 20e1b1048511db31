"""What the risk service has already committed: open approved orders, today's approved notional, the throttle.

The authoritative numbers live in PostgreSQL (the store reads them as an ``Exposure``); this in-memory book is
refreshed from it every few seconds and bumped on every approval in between, so each decision reads plain memory
(no database round trip per order). The trading day is New York's calendar day: the daily caps reset at midnight
ET. An approval stays open until the gateway reports an event that ``closes_approval``.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeGuard
from zoneinfo import ZoneInfo

from tradebus_contracts import CancelOutcome, CancelResult, OrderStatusChanged, SubmissionFailed
from tradebus_contracts.envelope import Envelope

NEW_YORK = ZoneInfo("America/New_York")


def trading_day_start(now: datetime) -> datetime:
    """Midnight in New York of ``now``'s New York date, as an aware datetime."""
    local = now.astimezone(NEW_YORK)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class Exposure:
    """What is committed now: open approved orders and today's approved notional, per symbol."""

    open_by_symbol: dict[str, int]
    daily_notional_by_symbol: dict[str, Decimal]


ClosingEvent = OrderStatusChanged | SubmissionFailed | CancelResult


def closes_approval(event: Envelope) -> TypeGuard[ClosingEvent]:
    """The gateway's word that an approved order no longer counts as open: a final status, a submission that
    failed, or a cancel that caught it before it was submitted."""
    return ((isinstance(event, OrderStatusChanged) and event.status.is_final)
            or isinstance(event, SubmissionFailed)
            or (isinstance(event, CancelResult) and event.outcome == CancelOutcome.CANCELED_BEFORE_SUBMIT))


@dataclass
class Book:
    throttle_window: timedelta
    day_start: datetime
    open_by_symbol: Counter[str] = field(default_factory=Counter)
    daily_by_symbol: dict[str, Decimal] = field(default_factory=dict)
    _recent: deque[datetime] = field(default_factory=deque)

    def load(self, exposure: Exposure, day_start: datetime) -> None:
        self.open_by_symbol = Counter(exposure.open_by_symbol)
        self.daily_by_symbol = dict(exposure.daily_notional_by_symbol)
        self.day_start = day_start

    @property
    def open_total(self) -> int:
        return sum(self.open_by_symbol.values())

    @property
    def daily_total(self) -> Decimal:
        return sum(self.daily_by_symbol.values(), Decimal(0))

    def roll_day(self, now: datetime) -> None:
        start = trading_day_start(now)
        if start > self.day_start:
            self.daily_by_symbol = {}
            self.day_start = start

    def submissions_in_window(self, now: datetime) -> int:
        horizon = now - self.throttle_window
        while self._recent and self._recent[0] <= horizon:
            self._recent.popleft()
        return len(self._recent)

    def record_approval(self, symbol: str, cost: Decimal | None, now: datetime) -> None:
        self.open_by_symbol[symbol] += 1
        if cost is not None:
            self.daily_by_symbol[symbol] = self.daily_by_symbol.get(symbol, Decimal(0)) + cost
        self._recent.append(now)

    def undo_approval(self, symbol: str, cost: Decimal | None) -> None:
        """Take back a provisional approval that lost to a decision stored earlier (``batch.take_back``)."""
        self.record_closed(symbol)
        if cost is not None and symbol in self.daily_by_symbol:
            self.daily_by_symbol[symbol] -= cost
        if self._recent:
            self._recent.pop()

    def record_closed(self, symbol: str) -> None:
        if self.open_by_symbol[symbol] > 0:
            self.open_by_symbol[symbol] -= 1
