"""When to sync (AC-21.2.1), as a pure decision over the broker's clock and calendar (REFDATA) and a time.

* ``start``: once when the service starts (after the first rebuild from history, see ``app``);
* ``interval``: every ``interval`` while the market is open;
* ``after_close``: once when a session we saw open is seen closed (the sync that records the closing prices);
* ``reconnect``: after NATS reconnected (we may have missed nothing, but the broker moved on meanwhile);
* on demand (``rpc.position-sync-service.sync``): not scheduled here.

Is the market open? The broker's clock decides while its own statement still holds (open and before its
``next_close``, or closed and before its ``next_open``); once that has passed (the gateway's clock entry is stale),
the calendar decides (a session containing now); with neither, the market counts as closed: no periodic sync runs
on a guess, and the start, reconnect and on-demand syncs still do.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from tradebus_contracts.refdata import CalendarRef, ClockRef


def session_close(now: datetime, clock: ClockRef | None, calendar: CalendarRef | None) -> datetime | None:
    """The close of the session open at ``now``, or None when the market is closed (or nothing is known)."""
    if clock is not None:
        if clock.is_open and now < clock.next_close:
            return clock.next_close
        if not clock.is_open and now < clock.next_open:
            return None
    for day in calendar.days if calendar is not None else ():
        if day.open <= now < day.close:
            return day.close
    return None


@dataclass(frozen=True, slots=True)
class Schedule:
    interval: timedelta
    last_sync_at: datetime | None = None
    started: bool = False
    was_open: bool = False  # the market was open at the last look: closed now means a session just ended
    reconnects: int = 0

    def due(self, now: datetime, clock: ClockRef | None, calendar: CalendarRef | None,
            reconnects: int) -> tuple[Schedule, str | None]:
        """The schedule after looking at ``now``, and why a sync is due (None: not now). Call `synced` once the
        sync has run (failed reads included: the next try waits for its turn)."""
        is_open = session_close(now, clock, calendar) is not None
        if not self.started:
            return replace(self, started=True, reconnects=reconnects, was_open=is_open), "start"
        if reconnects > self.reconnects:  # was_open kept: a close seen on the next look still gets its sync
            return replace(self, reconnects=reconnects), "reconnect"
        if is_open:
            state = replace(self, was_open=True)
            due = self.last_sync_at is None or now - self.last_sync_at >= self.interval
            return state, "interval" if due else None
        if self.was_open:
            return replace(self, was_open=False), "after_close"
        return self, None

    def synced(self, at: datetime) -> Schedule:
        return replace(self, last_sync_at=at)
