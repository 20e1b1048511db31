"""Supervised background work: a background task that fails is restarted, never left dead.

A service's background tasks (a poller, a relay, a refresh loop, its HTTP server) run until the service stops. One
PostgreSQL connection drop or NATS hiccup used to end such a task for good while the process stayed up. Now each
runs under a `Supervised`: on any exception (or if it returns, which a background task must not do) it is
restarted after a backoff — ``first_delay_s`` doubling to ``max_delay_s`` — and the backoff starts over once a run
has lasted ``stable_after_s``. Meanwhile health reports the task *degraded* with the reason. A task that keeps
failing for ``give_up_after_s`` is past recovering inside the process: the supervisor gives up and the service
exits non-zero, so that whatever runs it (``tradectl up``, docker, systemd) starts it fresh.

The decisions are the pure functions `after_failure` and `task_health` over a `Streak` (plain values, a clock
passed in); `Supervised` is the thin loop around them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .health import Degraded
from .logging import get_logger

log = get_logger(__name__)

Forever = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class RestartPolicy:
    """How a service restarts its failed background tasks, and when it stops trying."""

    first_delay_s: float = 0.5
    max_delay_s: float = 30.0
    stable_after_s: float = 10.0  # a run this long ends the failure streak: backoff and health start over
    give_up_after_s: float = 300.0  # failing continuously this long: the service exits non-zero

    def __post_init__(self) -> None:
        if not 0 < self.first_delay_s <= self.max_delay_s:
            raise ValueError("need 0 < first_delay_s <= max_delay_s")
        if self.stable_after_s <= 0 or self.give_up_after_s <= 0:
            raise ValueError("stable_after_s and give_up_after_s must be positive")


@dataclass(frozen=True)
class Streak:
    """A task's failures in a row: how many, since when (a monotonic time), and the last error."""

    failures: int = 0
    since: float = 0.0
    last_error: str = ""
    given_up: bool = False


@dataclass(frozen=True)
class Restart:
    """Run the task again after ``delay_s`` (the backoff: ``first_delay_s`` doubling to ``max_delay_s``)."""

    delay_s: float


@dataclass(frozen=True)
class GiveUp:
    """Stop restarting: the task has failed for ``give_up_after_s``; ``reason`` goes to the log and ``on_give_up``."""

    reason: str


def after_failure(streak: Streak, policy: RestartPolicy, *, ran_s: float, now: float,
                  error: str) -> tuple[Streak, Restart | GiveUp]:
    """The streak after a run that lasted ``ran_s`` ended with ``error`` at ``now``, and what to do next."""
    if ran_s >= policy.stable_after_s:
        streak = Streak()  # it had recovered: this failure starts a new streak
    failures = streak.failures + 1
    since = streak.since if streak.failures else now
    streak = Streak(failures, since, error)
    failing_for = now - since
    if failing_for >= policy.give_up_after_s:
        reason = f"failing for {failing_for:.0f}s ({failures} failures in a row), last: {error}"
        return Streak(failures, since, error, given_up=True), GiveUp(reason)
    return streak, Restart(min(policy.first_delay_s * 2 ** (failures - 1), policy.max_delay_s))


def task_health(name: str, streak: Streak, policy: RestartPolicy, *, running_since: float | None,
                now: float) -> bool | Degraded:
    """True when the task runs fine; `Degraded` with the reason while it fails or has not yet run
    ``stable_after_s`` since its last failure; False once the supervisor gave up on it."""
    if streak.given_up:
        return False
    if streak.failures == 0:
        return True
    if running_since is None:
        return Degraded(f"{name} failed {streak.failures}x in a row for {now - streak.since:.0f}s, restarting; "
                        f"last: {streak.last_error}")
    if now - running_since >= policy.stable_after_s:
        return True
    return Degraded(f"{name} restarted after {streak.failures} failure(s); last: {streak.last_error}")


class Supervised:
    """Runs one background task until cancelled, restarting it after each failure (see the module docstring).

    ``on_give_up(name, reason)`` is called once when the task has failed for ``give_up_after_s``; the task then
    stays down and the service is expected to exit. After `stop` a task that ends is not restarted.
    """

    def __init__(self, name: str, forever: Forever, policy: RestartPolicy,
                 on_give_up: Callable[[str, str], None], *, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._forever = forever
        self._policy = policy
        self._on_give_up = on_give_up
        self._clock = clock
        self._streak = Streak()
        self._running_since: float | None = None
        self._stopping = False
        self.restarts = 0

    def stop(self) -> None:
        self._stopping = True

    def health(self) -> bool | Degraded:
        return task_health(self.name, self._streak, self._policy, running_since=self._running_since,
                           now=self._clock())

    async def run(self) -> None:
        while True:
            started = self._running_since = self._clock()
            failure: Exception | None = None
            try:
                await self._forever()
                error = "returned, but a background task must run until the service stops"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failure, error = exc, f"{type(exc).__name__}: {exc}"
            if self._stopping:
                return
            self._running_since = None
            now = self._clock()
            self._streak, decision = after_failure(self._streak, self._policy, ran_s=now - started, now=now,
                                                   error=error)
            if isinstance(decision, GiveUp):
                log.error("service.background_task_gave_up", task=self.name, reason=decision.reason)
                self._on_give_up(self.name, decision.reason)
                return
            # the traceback once per streak: an outage must not flood the log with the same one
            log.error("service.background_task_failed", task=self.name, error=error,
                      failures=self._streak.failures, restart_in_s=decision.delay_s,
                      exc_info=failure if self._streak.failures == 1 else None)
            await asyncio.sleep(decision.delay_s)
            self.restarts += 1
            log.info("service.background_task_restarted", task=self.name, restarts=self.restarts)
