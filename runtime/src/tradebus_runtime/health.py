"""Health reporting over NATS request/reply.

Each service answers requests on ``health.<service>`` (a core NATS subject, outside every stream) with a JSON
report built from *live* checks run at request time: NATS is connected, PostgreSQL answers ``SELECT 1``,
each consumer task is alive, plus any check the service adds (e.g. "the HTTP server is listening"). The
report is ``ok`` only when every check passes, so the local runner, docker-compose healthchecks and
``tradectl`` all see the truth rather than a flag set once at start.

A check answers True (passes), False (fails) or `Degraded(reason)`: working around a problem it expects to get
over (a background task restarting after a failure, a consumer waiting for a dependency). The report's
``status`` is ``starting`` until start-up is done, then ``failing`` when a check fails, ``degraded`` when none
fails but some are degraded, else ``ok``. ``checks`` stays a map of booleans (a degraded check is ``false`` there:
not ``ok`` means not ``ok`` for every reader that only knows booleans); ``degraded`` maps each degraded check to
its reason. `wait_until_healthy` and ``python -m tradebus_runtime.health`` accept only ``ok``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from tradebus_contracts.subjects import health_subject

from .identity import identity_options, nats_servers
from .logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Degraded:
    """A check's answer for "working, but not fully": the reason is shown in the health report."""

    reason: str


Check = Callable[[], Awaitable[bool | Degraded]]


def overall_status(ready: bool, checks: Mapping[str, bool], degraded: Mapping[str, str]) -> str:
    """``starting`` / ``failing`` / ``degraded`` / ``ok`` from the checks' results (see the module docstring)."""
    if not ready:
        return "starting"
    if any(not passed and name not in degraded for name, passed in checks.items()):
        return "failing"
    return "degraded" if degraded else "ok"


class HealthReporter:
    def __init__(self, service: str, nc: NatsClient, check_timeout_s: float = 1.0) -> None:
        self._service = service
        self._nc = nc
        self._checks: dict[str, Check] = {}
        self._timeout = check_timeout_s
        self._started = datetime.now(UTC)
        self._ready = False
        self._sub = None
        self.details: dict[str, object] = {}

    def add_check(self, name: str, check: Check) -> None:
        self._checks[name] = check

    def mark_ready(self) -> None:
        """Start-up finished (migrations applied, consumers declared); checks decide the rest."""
        self._ready = True

    async def report(self) -> dict[str, object]:
        results: dict[str, bool] = {}
        degraded: dict[str, str] = {}

        async def run(name: str, check: Check) -> None:
            try:
                outcome = await asyncio.wait_for(check(), self._timeout)
            except Exception:
                outcome = False
            if isinstance(outcome, Degraded):
                degraded[name] = outcome.reason
                outcome = False
            results[name] = bool(outcome)

        await asyncio.gather(*(run(n, c) for n, c in self._checks.items()))
        return {
            "service": self._service,
            "status": overall_status(self._ready, results, degraded),
            "checks": results,
            "degraded": degraded,
            "pid": os.getpid(),
            "started_at": self._started.isoformat(),
            "uptime_s": round(time.monotonic() - _MONO_START, 3),
            **self.details,
        }

    async def start(self) -> None:
        async def answer(msg: Msg) -> None:
            body = json.dumps(await self.report()).encode()
            if msg.reply:
                await msg.respond(body)

        self._sub = await self._nc.subscribe(health_subject(self._service), cb=answer)

    async def stop(self) -> None:
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception:
                pass
            self._sub = None


_MONO_START = time.monotonic()


async def ask(nc: NatsClient, service: str, timeout: float = 1.0) -> dict[str, object] | None:
    """The service's health report over an open connection; None when it does not answer in time."""
    try:
        reply = await nc.request(health_subject(service), b"{}", timeout=timeout)
        return dict(json.loads(reply.data))
    except Exception:
        return None


async def probe(nats_url: str, service: str, timeout: float = 2.0, *,
                seed_file: str | None = None) -> dict[str, object]:
    """Ask a running service for its health report on a connection of its own (container healthchecks: as the
    service itself, with its own seed, since each identity may ask for its own health)."""
    nc = await nats.connect(nats_servers(nats_url), connect_timeout=timeout, max_reconnect_attempts=0,
                            **identity_options(service, seed_file))
    try:
        reply = await nc.request(health_subject(service), b"{}", timeout=timeout)
        return dict(json.loads(reply.data))
    finally:
        await nc.close()


class NotHealthy(RuntimeError):
    """A service did not report ``ok`` in time, or its process went away while we waited."""


async def wait_until_healthy(
    nats_url: str,
    services: Iterable[str],
    timeout: float = 30.0,
    *,
    exited: Callable[[str], str | None] = lambda _: None,
    on_healthy: Callable[[str], None] = lambda _: None,
    connect_options: Mapping[str, Any] | None = None,
) -> None:
    """Return once every one of ``services`` answers its health request with ``ok``.

    The one way tradebus waits for a service: ``tradectl up``, the test harnesses and the benchmarks all use it.
    ``exited(name)`` says why a service's process is gone (``None`` while it runs), so a crash during start-up
    fails at once with that reason instead of at the timeout; ``on_healthy(name)`` is called as each one is ready.
    Raises `NotHealthy` naming the services that are not ready, with their last report. ``connect_options``: how
    to sign in (`bus.identity_options`) on a secured server.
    """
    pending = list(dict.fromkeys(services))
    last: dict[str, dict[str, object] | None] = {}
    nc = await nats.connect(nats_servers(nats_url), connect_timeout=min(5.0, timeout), max_reconnect_attempts=-1,
                            **(connect_options or {}))
    deadline = time.monotonic() + timeout
    try:
        while pending:
            for name in list(pending):
                gone = exited(name)
                if gone is not None:
                    raise NotHealthy(f"{name} {gone}")
                last[name] = report = await ask(nc, name, timeout=1.0)
                if report is not None and report.get("status") == "ok":
                    pending.remove(name)
                    on_healthy(name)
            if pending and time.monotonic() >= deadline:
                detail = "; ".join(f"{n}: {last.get(n) or 'no answer'}" for n in pending)
                raise NotHealthy(f"not healthy within {timeout:.0f}s: {detail}")
            if pending:
                await asyncio.sleep(0.1)
    finally:
        await nc.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m tradebus_runtime.health SERVICE``: exit 0 when the service reports ok (container healthcheck)."""
    import sys

    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        sys.exit("usage: python -m tradebus_runtime.health SERVICE")
    url = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
    try:
        report = asyncio.run(probe(url, args[0], seed_file=os.environ.get("NATS_NKEY_SEED_FILE") or None))
    except Exception as exc:
        sys.exit(f"{args[0]}: no health report ({type(exc).__name__}: {exc})")
    print(json.dumps(report))
    sys.exit(0 if report.get("status") == "ok" else 1)


if __name__ == "__main__":
    main()
