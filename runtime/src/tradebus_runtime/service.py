"""The shell every service runs in: connect, migrate, build, consume, report health, stop cleanly.

A service is a thin shell around pure logic (STYLE §2). The shell connects first and only then lets the service
build its objects, so nothing is ever half-built: a service writes one ``bootstrap`` function that receives the
open `Connections` and returns its complete `Wiring` — what it consumes, answers, runs in the background, checks
for health and closes on stop (cosmicpython's ``bootstrap.py``):

    async def bootstrap(io: Connections) -> Wiring:
        handlers = RiskHandlers(io.bus, DecisionStore(io.pool), decider)   # complete: nothing filled in later
        return Wiring(consumers=[Subscription(spec, batch_handler=handlers.on_requests)],
                      responders={RISK_PREVIEW: responders.preview},
                      background={"refresh_book": handlers.refresh_forever},
                      on_stop=[trading.stop])

    ServiceApp("risk-service", settings, bootstrap, migrations_package="risk_service").run()

Start order: NATS, the streams, PostgreSQL (the service's schema, its migrations, the inbox and outbox tables), the
health responder, the bootstrap, the request responders, the consumers, the background tasks; then ``ready``.
Stop order on SIGTERM: stop taking new messages (each consumer finishes the message in hand), the service's own
stop hooks (newest first), cancel background tasks, stop health replies, drain NATS (flushes pending publishes),
close the PostgreSQL pool.

Background tasks are supervised (`supervision`): one that fails is restarted with backoff while health reports it
degraded; one that keeps failing for ``RestartPolicy.give_up_after_s`` makes the service stop and exit non-zero
(`ServiceGaveUp`), so that its own supervisor starts it afresh. NATS reconnects by itself (nats-py, unlimited) and
the PostgreSQL pool replaces broken connections on the next acquire: a task restarted after an outage finds both.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import uvloop
from nats.aio.msg import Msg
from pydantic import BaseModel

from . import bus as busmod
from .db import open_database
from .health import Check, Degraded, HealthReporter
from .inbox import ensure_inbox
from .logging import configure_logging, get_logger
from .outbox import ensure_outbox
from .settings import ServiceSettings
from .supervision import Forever, RestartPolicy, Supervised

log = get_logger(__name__)

Responder = Callable[[bytes], Awaitable[BaseModel | Mapping[str, Any]]]
Hook = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Connections:
    """What the shell has opened before a service builds anything."""

    service: str
    settings: ServiceSettings
    bus: busmod.Bus
    pool: asyncpg.Pool


@dataclass(frozen=True)
class Subscription:
    """One durable consumer and what handles its messages (exactly one of the two handler shapes)."""

    spec: busmod.ConsumerSpec
    handler: busmod.Handler | None = None
    batch_handler: busmod.BatchHandler | None = None


@dataclass
class Wiring:
    """Everything a running service does, built complete by its bootstrap."""

    consumers: list[Subscription] = field(default_factory=list)
    responders: dict[str, Responder] = field(default_factory=dict)  # core-NATS subject -> answer
    background: dict[str, Forever] = field(default_factory=dict)  # name -> a task that runs until cancelled
    checks: dict[str, Check] = field(default_factory=dict)  # extra health checks, by name
    on_stop: list[Hook] = field(default_factory=list)  # run in reverse order after the consumers stop

    def __add__(self, other: Wiring) -> Wiring:
        return Wiring(
            consumers=[*self.consumers, *other.consumers],
            responders={**self.responders, **other.responders},
            background={**self.background, **other.background},
            checks={**self.checks, **other.checks},
            on_stop=[*self.on_stop, *other.on_stop],
        )


Bootstrap = Callable[[Connections], Awaitable[Wiring]]


class ServiceGaveUp(RuntimeError):
    """A background task kept failing past the restart policy's limit: the process should exit non-zero."""


@dataclass
class _Running:
    """The shell's own state while the service runs (created by `ServiceApp.start`)."""

    connections: Connections
    health: HealthReporter
    wiring: Wiring
    consumers: list[busmod.Consumer]
    supervised: list[Supervised]
    tasks: list[asyncio.Task[None]]


class ServiceApp:
    def __init__(self, name: str, settings: ServiceSettings, bootstrap: Bootstrap, *,
                 migrations_package: str | None = None, restart_policy: RestartPolicy | None = None,
                 pool_size: int = 5) -> None:
        self.name = name
        self.settings = settings
        self._bootstrap = bootstrap
        self._migrations_package = migrations_package
        self._pool_size = pool_size  # PostgreSQL connections at most (a service handling messages at once needs more)
        self._restart_policy = restart_policy or RestartPolicy()
        self._stop = asyncio.Event()
        self._running: _Running | None = None
        self.gave_up: str | None = None

    @property
    def connections(self) -> Connections:
        """The open connections of a started service (tests use its bus to publish)."""
        if self._running is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._running.connections

    def request_stop(self) -> None:
        self._stop.set()

    async def start(self) -> None:
        """Bring the service up; returns once it reports healthy."""
        nc = await busmod.connect(self.settings.nats_url, self.name, seed_file=self.settings.nats_nkey_seed_file)
        bus = busmod.Bus(nc, self.name)
        health = HealthReporter(self.name, nc)
        health.add_check("nats", _nats_connected(bus))
        await busmod.ensure_streams(bus.js, update=False)
        pool = await open_database(self.settings.database_url, self.name, self._migrations_package,
                                   max_size=self._pool_size)
        async with pool.acquire() as conn:
            await ensure_inbox(conn)
            await ensure_outbox(conn)
        health.add_check("postgres", _postgres_answers(pool))
        await health.start()
        connections = Connections(self.name, self.settings, bus, pool)
        wiring = await self._bootstrap(connections)
        for subject, responder in wiring.responders.items():
            await nc.subscribe(subject, cb=_answer_with(responder))
        consumers = [busmod.Consumer(bus, s.spec, s.handler, batch_handler=s.batch_handler) for s in wiring.consumers]
        for consumer in consumers:
            await consumer.start()
        supervised = [Supervised(name, task, self._restart_policy, self._give_up)
                      for name, task in wiring.background.items()]
        tasks = [asyncio.create_task(s.run(), name=f"{self.name}:{s.name}") for s in supervised]
        self._running = _Running(connections, health, wiring, consumers, supervised, tasks)
        health.add_check("consumers", _all_of([c.health for c in consumers]))
        health.add_check("background", _all_of([s.health for s in supervised]))
        for name, check in wiring.checks.items():
            health.add_check(name, check)
        health.mark_ready()
        log.info("service.ready", consumers=[c.spec.durable for c in consumers], background=list(wiring.background))

    async def stop(self) -> None:
        log.info("service.stopping")
        running = self._running
        if running is not None:
            for task in running.supervised:
                task.stop()  # from now on a task that ends is not restarted
            for consumer in running.consumers:
                await consumer.stop()
            for hook in reversed(running.wiring.on_stop):
                try:
                    await hook()
                except Exception:
                    log.exception("service.stop_hook_failed", hook=getattr(hook, "__qualname__", repr(hook)))
            for task in running.tasks:
                task.cancel()
            for task in running.tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await running.health.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(running.connections.bus.nc.drain(), timeout=3)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(running.connections.pool.close(), timeout=3)
        log.info("service.stopped")

    async def serve(self) -> None:
        """Start, wait for SIGTERM/SIGINT (or `request_stop`), then stop within the shutdown timeout."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        try:
            await self.start()
            await self._stop.wait()
        finally:
            try:
                await asyncio.wait_for(self.stop(), timeout=self.settings.shutdown_timeout_s)
            except TimeoutError:
                log.error("service.stop_timeout", timeout_s=self.settings.shutdown_timeout_s)
        if self.gave_up is not None:
            raise ServiceGaveUp(self.gave_up)

    def _give_up(self, task: str, reason: str) -> None:
        if self.gave_up is None:
            self.gave_up = f"background task {task}: {reason}"
        self.request_stop()

    def run(self) -> None:
        """Entry point for a console script: configure logging and serve until stopped."""
        configure_logging(self.name, self.settings.log_level, self.settings.log_format)
        try:
            # uvloop: faster, and on the default loop uvicorn's answers stalled ~44 ms (Nagle / delayed ACK)
            uvloop.run(self.serve())
        except KeyboardInterrupt:
            pass
        except ServiceGaveUp as exc:
            log.error("service.gave_up", reason=str(exc))  # exit non-zero: whoever runs us starts us afresh
            raise SystemExit(1) from None
        except Exception:
            log.exception("service.crashed")
            raise SystemExit(1) from None


def _nats_connected(bus: busmod.Bus) -> Check:
    async def check() -> bool:
        return bus.nc.is_connected

    return check


def _postgres_answers(pool: asyncpg.Pool) -> Check:
    async def check() -> bool:
        return await pool.fetchval("SELECT 1") == 1

    return check


def _all_of(parts: list[Callable[[], bool | Degraded]]) -> Check:
    """One check over several: False when any fails, else `Degraded` (every reason) when any is, else True."""

    async def check() -> bool | Degraded:
        results = [part() for part in parts]
        if not all(results):  # a Degraded is truthy: only a False fails
            return False
        reasons = [r.reason for r in results if isinstance(r, Degraded)]
        return Degraded("; ".join(reasons)) if reasons else True

    return check


def _answer_with(responder: Responder) -> Callable[[Msg], Awaitable[None]]:
    async def answer(msg: Msg) -> None:
        if not msg.reply:
            return
        try:
            body = await responder(msg.data)
            payload = body.model_dump_json().encode() if isinstance(body, BaseModel) else \
                json.dumps(body, default=str).encode()
        except Exception as exc:
            log.exception("service.request_failed", subject=msg.subject)
            payload = json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode()
        await msg.respond(payload)

    return answer
