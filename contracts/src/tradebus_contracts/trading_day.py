"""The trading day: US equities trade on New York's calendar, so a "day" is a New York calendar date.

Risk's daily notional caps reset at New York midnight; the position ledger's Alpaca-method average compresses each
New York day's buys into one lot; the simulator opens and closes on New York hours. One definition, so the three
agree across daylight-saving changes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["NEW_YORK", "trading_date", "day_start", "trading_day_start"]

NEW_YORK = ZoneInfo("America/New_York")

_day_cache: list[tuple[datetime, datetime, date]] = []  # the last New York day looked up, as a UTC range


def trading_date(at: datetime) -> date:
    """New York calendar date of an aware datetime (cached for the last day asked about: events come in runs)."""
    if at.tzinfo is None:
        raise ValueError(f"a trading date needs an aware datetime, got {at!r}")
    if _day_cache:
        start, end, day = _day_cache[0]
        if start <= at < end:
            return day
    day = at.astimezone(NEW_YORK).date()
    _day_cache[:] = [(day_start(day), day_start(day + timedelta(days=1)), day)]
    return day


def day_start(day: date) -> datetime:
    """Midnight in New York on ``day``, in UTC."""
    return datetime.combine(day, time(), NEW_YORK).astimezone(UTC)


def trading_day_start(at: datetime) -> datetime:
    """Midnight in New York of ``at``'s New York date, in UTC."""
    return day_start(trading_date(at))
