"""The supervisor: runs the children a `StackPlan` lists, and decides nothing about what they are.

It spawns each planned child (output to its planned log file, ``PR_SET_PDEATHSIG`` so none outlives the runner),
waits until it is healthy the way the plan says, restarts a child that exits until asked to stop, and stops the
children group by group in the planned order.

Restarts follow `restart_delay`: a crash is most often a one-off (a dependency restarting, a lost connection), so
the first `FAST_RESTARTS` crashes in a row are restarted after `FAST_DELAY_S` — the service is back within about
a second plus its start-up. Only a child that keeps crashing backs off: 1 s doubling to 30 s. A run of
`STABLE_AFTER_S` ends the streak.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tradebus_contracts.services import OPERATOR
from tradebus_runtime.health import wait_until_healthy
from tradebus_runtime.identity import identity_options

from .embedded import die_with_parent
from .plan import ChildPlan, HttpHealth, NatsHealth

HEALTH_TIMEOUT_S = 60.0
FAST_RESTARTS = 5
FAST_DELAY_S = 0.5
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 60.0


def restart_delay(crashes: int) -> float:
    """Seconds to wait before restarting a child after its ``crashes``-th crash in a row (1 = the first)."""
    if crashes <= FAST_RESTARTS:
        return FAST_DELAY_S
    return min(FIRST_BACKOFF_S * 2 ** (crashes - FAST_RESTARTS - 1), MAX_BACKOFF_S)


def crashes_in_a_row(previous: int, uptime_s: float) -> int:
    """The crash count after a child that had run ``uptime_s`` exited: a stable run starts the count over."""
    return 1 if uptime_s >= STABLE_AFTER_S else previous + 1


class StartFailed(RuntimeError):
    """A child could not be started or did not become healthy; the message says where to look."""


@dataclass
class _Running:
    """A planned child and its current process (a new one after each restart)."""

    plan: ChildPlan
    proc: asyncio.subprocess.Process
    started_at: float
    restarts: int = 0
    crashes: int = 0  # in a row, see crashes_in_a_row

    def exit_reason(self) -> str | None:
        code = self.proc.returncode
        return None if code is None else f"exited with {code} during start; see {self.plan.log_path}"


async def _spawn(child: ChildPlan) -> asyncio.subprocess.Process:
    log = child.log_path.open("ab")
    try:
        return await asyncio.create_subprocess_exec(
            *child.argv,
            env=dict(child.env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
    finally:
        log.close()


async def _terminate(proc: asyncio.subprocess.Process, timeout: float) -> int:
    if proc.returncode is not None:
        return proc.returncode
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        return await proc.wait()


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - a local URL from the plan
            return resp.status == 200
    except Exception:
        return False


def _ignore(_child: ChildPlan, *_: object) -> None:
    return None


class Supervisor:
    """Runs planned children until ``stopping`` is set; ``say`` prints a line for the operator."""

    def __init__(self, stopping: asyncio.Event, say: Callable[[str], None]) -> None:
        self._stopping = stopping
        self._say = say
        self._running: list[_Running] = []

    async def start(
        self,
        children: Sequence[ChildPlan],
        on_spawned: Callable[[ChildPlan, int], None] = _ignore,
        on_healthy: Callable[[ChildPlan], None] = _ignore,
    ) -> None:
        """Spawn ``children`` in order and return once all are healthy.

        Raises `StartFailed` (a child is not installed, exits or stays unhealthy over HTTP) or the runtime's
        `NotHealthy` (a NATS-checked child exits or stays unhealthy).
        """
        started: list[_Running] = []
        for child in children:
            if not Path(child.argv[0]).exists():
                raise StartFailed(f"{child.name} is not installed in this environment ({child.argv[0]}); "
                                  "run `make up` from the repository")
            running = _Running(child, await _spawn(child), time.monotonic())
            self._running.append(running)
            started.append(running)
            on_spawned(child, running.proc.pid)
        on_nats: dict[NatsHealth, list[_Running]] = {}
        for running in started:
            health = running.plan.health
            if isinstance(health, HttpHealth):
                await self._wait_http(running, health.url)
                on_healthy(running.plan)
            else:
                on_nats.setdefault(health, []).append(running)
        for nats_health, group in on_nats.items():
            await self._wait_nats(nats_health, group, on_healthy)

    async def _wait_http(self, running: _Running, url: str) -> None:
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while time.monotonic() < deadline:
            reason = running.exit_reason()
            if reason is not None:
                raise StartFailed(f"{running.plan.name} {reason}")
            if await asyncio.to_thread(_http_ok, url):
                return
            await asyncio.sleep(0.1)
        raise StartFailed(f"{running.plan.name} did not become healthy within {HEALTH_TIMEOUT_S:.0f}s; "
                          f"see {running.plan.log_path}")

    async def _wait_nats(self, health: NatsHealth, children: list[_Running],
                         on_healthy: Callable[[ChildPlan], None]) -> None:
        by_name = {r.plan.name: r for r in children}
        await wait_until_healthy(health.nats_url, by_name, HEALTH_TIMEOUT_S,
                                 exited=lambda name: by_name[name].exit_reason(),
                                 on_healthy=lambda name: on_healthy(by_name[name].plan),
                                 connect_options=identity_options(OPERATOR, health.seed_file))

    async def supervise(self) -> None:
        """Restart children that exit, with backoff, until asked to stop."""
        stop_wait = asyncio.create_task(self._stopping.wait())
        try:
            while not self._stopping.is_set():
                waits = {asyncio.create_task(r.proc.wait()): r for r in self._running}
                done, _ = await asyncio.wait({stop_wait, *waits}, return_when=asyncio.FIRST_COMPLETED)
                for task in waits:
                    task.cancel()
                if self._stopping.is_set():
                    break
                for task in done:
                    if task in waits:
                        await self._restart(waits[task])
        finally:
            stop_wait.cancel()

    async def _restart(self, running: _Running) -> None:
        running.crashes = crashes_in_a_row(running.crashes, time.monotonic() - running.started_at)
        delay = restart_delay(running.crashes)
        running.restarts += 1
        self._say(f"  ! {running.plan.name} exited with code {running.proc.returncode}; restarting in {delay:g}s "
                  f"(restart #{running.restarts}, log {running.plan.log_path})")
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            return  # stop requested during the backoff
        except TimeoutError:
            pass
        running.proc = await _spawn(running.plan)
        running.started_at = time.monotonic()

    async def stop(self) -> None:
        """Stop every child started so far: group by group as planned, the children of a group together."""
        for group in sorted({r.plan.stop_group for r in self._running}):
            members = [r for r in self._running if r.plan.stop_group == group]
            await asyncio.gather(*(_terminate(r.proc, r.plan.stop_timeout_s) for r in members))
