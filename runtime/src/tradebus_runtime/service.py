"""The shell every service runs in: connect, migrate, declare, consume, report health, stop cleanly.

A service is a thin shell around pure logic (STYLE §2). `ServiceApp` owns the I/O that every service does the
same way, so a service's ``app`` module only says *what* it consumes and *what* it does with each event:

    app = ServiceApp("risk-service", settings, migrations_package="risk_service")
    app.consume(ConsumerSpec(...), handler)
    app.background(poller)           # long-running tasks, cancelled on shutdown
    app.run()                        # blocks until SIGTERM/SIGINT, then shuts down in order

Shutdown order on SIGTERM: stop taking new messages (each consumer finishes the message in hand), cancel
background tasks, stop health replies, drain NATS (flushes pending publishes), close the PostgreSQL pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import uvloop
from nats.aio.msg import Msg

from . import bus as busmod
from .db import open_database
from .health import HealthReporter
from .logging import configure_logging, get_logger
from .settings import ServiceSettings

log = get_logger(__name__)

Startup = Callable[["ServiceApp"], Awaitable[None]]
Responder = Callable[[bytes], Awaitable[Any]]
Task = Callable[["ServiceApp"], Awaitable[None]]


@dataclass
class ServiceApp:
    name: str
    settings: ServiceSettings
    migrations_package: str | None = None
    declare_streams: bool = True
    uses_database: bool = True
    _consumer_specs: list[tuple[busmod.ConsumerSpec, busmod.Handler | None, busmod.BatchHandler | None]] = field(
        default_factory=list
    )
    _responders: list[tuple[str, Responder]] = field(default_factory=list)
    _startup: list[Startup] = field(default_factory=list)
    _shutdown: list[Startup] = field(default_factory=list)
    _background: list[Task] = field(default_factory=list)
    bus: busmod.Bus | None = None
    pool: asyncpg.Pool | None = None
    health: HealthReporter | None = None
    consumers: list[busmod.Consumer] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def consume(
        self,
        spec: busmod.ConsumerSpec,
        handler: busmod.Handler | None = None,
        *,
        batch_handler: busmod.BatchHandler | None = None,
    ) -> None:
        self._consumer_specs.append((spec, handler, batch_handler))

    def respond(self, subject: str, responder: Responder) -> None:
        """Answer core-NATS requests on ``subject`` (outside every stream) with the JSON ``responder`` returns."""
        self._responders.append((subject, responder))

    def on_startup(self, hook: Startup) -> None:
        """Runs after NATS and PostgreSQL are up, before consumers start (e.g. load state)."""
        self._startup.append(hook)

    def on_shutdown(self, hook: Startup) -> None:
        self._shutdown.append(hook)

    def background(self, task: Task) -> None:
        self._background.append(task)

    def request_stop(self) -> None:
        self._stop.set()

    async def start(self) -> None:
        """Bring the service up; returns once it reports healthy."""
        s = self.settings
        nc = await busmod.connect(s.nats_url, self.name)
        self.bus = busmod.Bus(nc, self.name)
        self.health = HealthReporter(self.name, nc)
        self.health.add_check("nats", self._nats_ok)
        if self.declare_streams:
            await busmod.ensure_streams(self.bus.js)
        if self.uses_database:
            self.pool = await open_database(s.database_url, self.name, self.migrations_package)
            self.health.add_check("postgres", self._postgres_ok)
        await self.health.start()
        for hook in self._startup:
            await hook(self)
        for subject, responder in self._responders:
            await nc.subscribe(subject, cb=_answer_with(responder))
        for spec, handler, batch_handler in self._consumer_specs:
            consumer = busmod.Consumer(self.bus, spec, handler, batch_handler=batch_handler)
            await consumer.start()
            self.consumers.append(consumer)
        self.health.add_check("consumers", self._consumers_ok)
        for task in self._background:
            self._tasks.append(asyncio.create_task(self._guard(task), name=f"{self.name}:{task.__name__}"))
        self.health.add_check("background", self._background_ok)
        self.health.mark_ready()
        log.info(
            "service.ready",
            consumers=[c.spec.durable for c in self.consumers],
            streams_declared=self.declare_streams,
            database=self.uses_database,
        )

    async def stop(self) -> None:
        log.info("service.stopping")
        for consumer in self.consumers:
            await consumer.stop()
        for hook in reversed(self._shutdown):
            try:
                await hook(self)
            except Exception:
                log.exception("service.shutdown_hook_failed", hook=getattr(hook, "__name__", repr(hook)))
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.health is not None:
            await self.health.stop()
        if self.bus is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.bus.nc.drain(), timeout=3)
        if self.pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.pool.close(), timeout=3)
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

    def run(self) -> None:
        """Entry point for a console script: configure logging and serve until stopped."""
        configure_logging(self.name, self.settings.log_level, self.settings.log_format)
        try:
            # uvloop: faster, and on the default loop uvicorn's answers stalled ~44 ms (Nagle / delayed ACK)
            uvloop.run(self.serve())
        except KeyboardInterrupt:
            pass
        except Exception:
            log.exception("service.crashed")
            raise SystemExit(1) from None

    async def _guard(self, task: Task) -> None:
        """Background tasks must not die silently: log the failure and let health report it."""
        try:
            await task(self)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("service.background_task_failed", task=task.__name__)
            raise

    async def _nats_ok(self) -> bool:
        return self.bus is not None and self.bus.nc.is_connected

    async def _postgres_ok(self) -> bool:
        assert self.pool is not None
        return await self.pool.fetchval("SELECT 1") == 1

    async def _consumers_ok(self) -> bool:
        return all(c.alive for c in self.consumers)

    async def _background_ok(self) -> bool:
        return all(not t.done() for t in self._tasks)


def _answer_with(responder: Responder) -> Callable[[Msg], Awaitable[None]]:
    async def answer(msg: Msg) -> None:
        if not msg.reply:
            return
        try:
            body = await responder(msg.data)
            payload = json.dumps(body, default=str).encode()
        except Exception as exc:
            log.exception("service.request_failed", subject=msg.subject)
            payload = json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode()
        await msg.respond(payload)

    return answer
