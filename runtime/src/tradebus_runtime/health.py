"""Health reporting over NATS request/reply.

Each service answers requests on ``health.<service>`` (a core NATS subject, outside every stream) with a JSON
report built from *live* checks run at request time: NATS is connected, PostgreSQL answers ``SELECT 1``,
each consumer task is alive, plus any check the service adds (e.g. "the HTTP server is listening"). The
report is ``ok`` only when every check passes, so the local runner, docker-compose healthchecks and
``tradectl`` all see the truth rather than a flag set once at start.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from .logging import get_logger

log = get_logger(__name__)

Check = Callable[[], Awaitable[bool]]

HEALTH_SUBJECT_PREFIX = "health"


def health_subject(service: str) -> str:
    return f"{HEALTH_SUBJECT_PREFIX}.{service}"


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

        async def run(name: str, check: Check) -> None:
            try:
                results[name] = bool(await asyncio.wait_for(check(), self._timeout))
            except Exception:
                results[name] = False

        await asyncio.gather(*(run(n, c) for n, c in self._checks.items()))
        healthy = self._ready and all(results.values())
        return {
            "service": self._service,
            "status": "ok" if healthy else ("starting" if not self._ready else "failing"),
            "checks": results,
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


async def probe(nats_url: str, service: str, timeout: float = 2.0) -> dict[str, object]:
    """Ask a running service for its health report (used by container healthchecks and tradectl)."""
    import nats

    nc = await nats.connect(nats_url, connect_timeout=timeout, max_reconnect_attempts=0)
    try:
        reply = await nc.request(health_subject(service), b"{}", timeout=timeout)
        return dict(json.loads(reply.data))
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
        report = asyncio.run(probe(url, args[0]))
    except Exception as exc:
        sys.exit(f"{args[0]}: no health report ({type(exc).__name__}: {exc})")
    print(json.dumps(report))
    sys.exit(0 if report.get("status") == "ok" else 1)


if __name__ == "__main__":
    main()
