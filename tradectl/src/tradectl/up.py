"""``tradectl up``: the whole stack on one machine, each service its own process.

Order of start: embedded NATS (JetStream, fsync always) with its streams, and at the same time PostgreSQL with its
roles, unless NATS_URL / DATABASE_URL point elsewhere; the broker (alpaca-sim unless Alpaca credentials are
configured); then every service; then, with the simulator, its signed fill webhooks to webhook-ingest (the secret:
``$TRADEBUS_HOME/keys/webhook.secret``, 0600, made once). ``endpoints.json`` is written only once every child
reports healthy and the webhooks are wired.
A child that dies is restarted (logged): within half a second for its first crashes in a row, with a growing
delay only if it keeps crashing (supervisor.py). SIGTERM / Ctrl-C stops the services, then the broker, NATS and
PostgreSQL, in that order, within 15 s, and removes ``endpoints.json``. One ``up`` per home: a second one is refused.

This module does the I/O around the plan and tells the operator how it goes: it takes the home lock, starts the
embedded servers, gathers the facts (`StackFacts`), asks ``plan.py`` what to run and has ``supervisor.py`` run it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import functools
import json
import os
import secrets
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO, TypeVar
from urllib.parse import urlsplit

import asyncpg
import nats

from tradebus_contracts.streams import ALL_STREAMS
from tradebus_runtime import vault
from tradebus_runtime.health import NotHealthy
from tradebus_runtime.identity import nats_servers
from tradebus_runtime.keys import KeyFileError

from .credentials import SCHEMA as CREDENTIALS_SCHEMA
from .embedded import EmbeddedNats, EmbeddedPostgres, EmbeddedServerError, embedded_nats_servers, free_ports, port_open
from .home import endpoints_path, write_endpoints
from .identities import PG_ROLES, SecretFileError, StackIdentities, ensure_identities, secret_file
from .keys import AUDIT_KEY_NAME, ensure_signing_key
from .natsconf import auth_config
from .plan import ALPACA_URLS, BrokerKind, Mode, StackFacts, StackPlan, WebhookSubscription, plan_stack
from .provision import jetstream_ready, provision_nats, provision_postgres
from .supervisor import StartFailed, Supervisor

SERVER_STOP_S = 2.5
WEBHOOK_SECRET_FILE = "webhook.secret"
A = TypeVar("A")
B = TypeVar("B")


class UpError(RuntimeError):
    """The stack cannot come up; the message tells the person what to do."""


@dataclass
class UpOptions:
    home: Path
    ticket_port: int = 8000
    live: bool = False
    nats_url: str | None = None
    database_url: str | None = None
    fsync_always: bool = True
    nats_cluster: int = 1  # embedded nats-servers forming one JetStream cluster (streams with that many replicas)
    out: TextIO = sys.stdout


class HomeLock:
    """An flock on ``$TRADEBUS_HOME/up.lock``: two runners on one home would fight over the same data."""

    def __init__(self, home: Path) -> None:
        self.path = home / "up.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise UpError(
                f"another `tradectl up` is already running on {self.path.parent} (pid {holder}); "
                "stop it first (Ctrl-C in its terminal, or kill that pid) or use another --home"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Stack:
    """One ``tradectl up``: the home lock and the embedded servers, then a supervisor running the plan."""

    def __init__(self, opts: UpOptions) -> None:
        self.opts = opts
        self.home = opts.home
        self.mode: Mode = "live" if opts.live else "paper"
        self.stopping = asyncio.Event()
        self.lock = HomeLock(self.home)
        self.servers: list[EmbeddedNats | EmbeddedPostgres] = []  # the embedded ones started, in stop order
        self._superuser: StackIdentities | None = None  # the embedded PostgreSQL's superuser, once it is secured
        self.supervisor = Supervisor(self.stopping, self.say)

    def say(self, text: str) -> None:
        print(text, file=self.opts.out, flush=True)

    # ---- start -------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self.lock.acquire()
        endpoints_path(self.home).unlink(missing_ok=True)
        self.say(f"tradebus: starting in {self.home} (mode: {self.mode})")
        facts = await self._gather_facts()
        plan = plan_stack(facts)
        for directory in plan.directories:
            directory.mkdir(parents=True, exist_ok=True)
        if plan.simulator is not None:
            await self.supervisor.start([plan.simulator])
            self.say(f"  ✓ alpaca-sim             {facts.broker_url} "
                     "(simulated paper broker; no Alpaca credentials configured)")
        if port_open("127.0.0.1", facts.ticket_port):
            raise UpError(f"port {facts.ticket_port} is already in use; set TRADEBUS_TICKET_PORT or --ticket-port")
        try:
            await self.supervisor.start(
                plan.services,
                on_spawned=lambda child, pid: self.say(f"  … {child.name:<22} starting (pid {pid})"),
                on_healthy=lambda child: self.say(f"  ✓ {child.name:<22} healthy"),
            )
        except NotHealthy as exc:
            raise UpError(f"{exc}; see the logs in {plan.logs_dir}") from None
        if plan.webhooks is not None:
            await asyncio.to_thread(subscribe_webhooks, plan.webhooks)
            self.say(f"  ✓ webhooks               alpaca-sim → {plan.webhooks.target_url} (signed)")
        self._say_ready(plan, write_endpoints(self.home, dict(plan.endpoints)))

    async def _gather_facts(self) -> StackFacts:
        """Everything the plan needs that takes I/O: the servers' URLs, the broker, free ports, the signing key."""
        nats_url, database_url = await _both(self._nats_ready(), self._postgres_ready())
        broker = await self._choose_broker(database_url)
        simulator_port, webhook_port, spare_port = free_ports(3)
        return StackFacts(
            home=self.home,
            mode=self.mode,
            nats_url=nats_url,
            database_url=database_url,
            broker=broker,
            broker_url=ALPACA_URLS[self.mode] if broker == "alpaca" else f"http://127.0.0.1:{simulator_port}",
            ticket_port=self.opts.ticket_port or spare_port,
            webhook_port=webhook_port,
            signing_key=ensure_signing_key(self.home / "keys"),
            audit_key=ensure_signing_key(self.home / "keys", AUDIT_KEY_NAME),
            webhook_secret_path=ensure_webhook_secret(self.home / "keys"),
            bin_dir=Path(sys.executable).parent,
            base_env=dict(os.environ),
            nats_identities=None if self.opts.nats_url else self.identities,
            pg_identities=self._superuser,
        )

    async def _nats_ready(self) -> str:
        url = await self._start_nats()
        await self._provision_nats(url)
        return url

    async def _postgres_ready(self) -> str:
        url = await self._start_postgres()
        if not self.opts.database_url:
            await self._provision_postgres(url, self.identities)
            self._superuser = self.identities
        return url

    async def _choose_broker(self, database_url: str) -> BrokerKind:
        """Alpaca when credentials for this mode are stored, else the simulator (never for live trading)."""
        if not await self._stored_credentials(database_url):
            if self.opts.live:
                raise UpError("--live needs live Alpaca credentials: store them with `tradectl keys set --account "
                              "default --live` (refusing to trade real money without them)")
            return "simulator"
        self.say(f"  ✓ broker                 Alpaca {self.mode} (stored credentials of account 'default')")
        return "alpaca"

    async def _stored_credentials(self, database_url: str) -> bool:
        """Alpaca credentials stored for account 'default' in this mode? (names only: nothing is decrypted here)"""
        conn = await self._superuser_connect(database_url)
        try:
            await vault.ensure_table(conn, CREDENTIALS_SCHEMA)
            return any(c.account == "default" and c.mode == self.mode
                       for c in await vault.list_credentials(conn, CREDENTIALS_SCHEMA))
        finally:
            await conn.close()

    async def _superuser_connect(self, database_url: str) -> asyncpg.Connection:
        password = self._superuser.pg_superuser_password if self._superuser is not None else None
        return await asyncpg.connect(database_url, password=password)

    @functools.cached_property
    def identities(self) -> StackIdentities:
        """The stack's identities, made once under the home and read back after; the embedded servers know only
        these (read only when a server is embedded)."""
        return ensure_identities(self.home)

    async def _start_nats(self) -> str:
        if self.opts.nats_url:
            self.say(f"  ✓ nats                   {self.opts.nats_url} (external, from NATS_URL)")
            return self.opts.nats_url
        auth = auth_config(self.identities.nats_public_keys, self.identities.admin_bcrypt)
        servers = embedded_nats_servers(self.home / "nats", self.opts.nats_cluster, auth, self.opts.fsync_always)
        self.servers.extend(servers)
        urls = await asyncio.gather(*(asyncio.to_thread(server.start) for server in servers))
        url = ",".join(urls)
        fsync = "always" if self.opts.fsync_always else "default"
        shape = "" if len(servers) == 1 else f", a cluster of {len(servers)}"
        self.say(f"  ✓ nats                   {url} (embedded, JetStream{shape}, fsync {fsync}, "
                 f"a user per service)")
        return url

    async def _start_postgres(self) -> str:
        if self.opts.database_url:
            shown = _hide_password(self.opts.database_url)
            self.say(f"  ✓ postgres               {shown} (external, from DATABASE_URL)")
            return self.opts.database_url
        # never widen a directory above the home (or the virtualenv): refuse, naming it, if PostgreSQL cannot pass
        server = EmbeddedPostgres(self.home / "postgres", widen_ancestors=False,
                                  superuser_password=self.identities.pg_superuser_password)
        self.servers.append(server)
        try:
            url = await asyncio.to_thread(server.start)
        except EmbeddedServerError as exc:
            raise UpError(str(exc)) from None
        self.say(f"  ✓ postgres               {url} (embedded, password authentication)")
        return url

    async def _provision_nats(self, url: str) -> None:
        """Streams, durable consumers and KV buckets, as the admin (the services may only use them)."""
        admin_url = url if self.opts.nats_url else self.identities.admin_url(url)
        nc = await nats.connect(nats_servers(admin_url), connect_timeout=5,
                                max_reconnect_attempts=3)
        try:
            replicas = self.opts.nats_cluster if not self.opts.nats_url else 1
            await jetstream_ready(nc.jetstream())  # a cluster that has just started elects its leader first
            await provision_nats(nc.jetstream(), replicas=replicas)
        finally:
            await nc.drain()
        self.say(f"  ✓ streams                {' '.join(s.name for s in ALL_STREAMS)}"
                 + (f" ({replicas} replicas)" if replicas > 1 else ""))

    async def _provision_postgres(self, url: str, identities: StackIdentities) -> None:
        """A login role and a schema per service, the operator's role, the audit trail insert-only."""
        conn = await asyncpg.connect(url, password=identities.pg_superuser_password)
        try:
            await provision_postgres(conn, urlsplit(url).path.lstrip("/"),
                                     {role: identities.pg_password(role) for role in PG_ROLES})
        finally:
            await conn.close()
        self.say("  ✓ roles                  one PostgreSQL role per service, each owning only its schema")

    def _say_ready(self, plan: StackPlan, endpoints_file: Path) -> None:
        endpoints = plan.endpoints
        broker = "Alpaca" if plan.simulator is None else "alpaca-sim"
        self.say("")
        self.say(f"tradebus is up and healthy — {'LIVE TRADING (real money)' if self.opts.live else 'PAPER TRADING'}")
        self.say(f"  ticket:    {endpoints['ticket_url']}")
        self.say(f"  broker:    {endpoints['broker_url']} ({broker})")
        self.say(f"  endpoints: {endpoints_file}")
        self.say(f"  logs:      {plan.logs_dir}")
        self.say("Press Ctrl-C to stop.")

    # ---- stop --------------------------------------------------------------------------------------------
    async def stop(self) -> None:
        self.stopping.set()
        if not self.lock.held:
            return  # we never owned this home: leave another runner's files alone
        endpoints_path(self.home).unlink(missing_ok=True)
        started = time.monotonic()
        await self.supervisor.stop()
        for server in self.servers:
            await asyncio.to_thread(server.stop, SERVER_STOP_S)
        self.lock.release()
        self.say(f"tradebus stopped ({time.monotonic() - started:.1f}s)")


def ensure_webhook_secret(directory: Path) -> Path:
    """webhook-ingest's ``whsec_`` secret (32 random bytes), created once, 0600 from the start; a copy that others
    can read is refused, as the master keyring is."""
    path = directory / WEBHOOK_SECRET_FILE
    try:
        secret_file(path, lambda: "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())
    except SecretFileError as exc:
        raise UpError(str(exc)) from None
    return path


def subscribe_webhooks(subscription: WebhookSubscription) -> None:
    """Have the simulator deliver every trade update to webhook-ingest, signed with the stack's secret."""
    body = {"url": subscription.target_url, "secret": subscription.secret_path.read_text().strip()}
    request = urllib.request.Request(subscription.admin_url, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10):
            pass
    except (urllib.error.URLError, OSError) as exc:
        raise UpError(f"the simulator refused its webhook subscription ({subscription.admin_url}): {exc}") from None


async def _both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Both at once (NATS starts and gets its streams while PostgreSQL starts). Should one fail, the other is let
    finish, so that every server started is in ``Stack.servers`` for the stop, and the first failure is raised."""
    one, two = await asyncio.gather(first, second, return_exceptions=True)
    for outcome in (one, two):
        if isinstance(outcome, BaseException):
            raise outcome
    return one, two  # type: ignore[return-value]


def _hide_password(dsn: str) -> str:
    if "@" not in dsn or "://" not in dsn:
        return dsn
    scheme, rest = dsn.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}{':***' if ':' in creds else ''}@{host}"


async def run_up(opts: UpOptions) -> int:
    stack = Stack(opts)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stack.stopping.set)
    try:
        start = asyncio.create_task(stack.start())
        stop_wait = asyncio.create_task(stack.stopping.wait())
        await asyncio.wait({start, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        if not start.done():  # Ctrl-C during start-up
            start.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await start
        else:
            stop_wait.cancel()
            start.result()
            await stack.supervisor.supervise()
        return 0
    except (UpError, StartFailed, KeyFileError, SecretFileError) as exc:
        print(f"tradectl up: {exc}", file=sys.stderr, flush=True)
        return 2
    finally:
        await stack.stop()
