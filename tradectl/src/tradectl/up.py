"""``tradectl up``: the whole stack on one machine, each service its own process.

Order of start: embedded NATS (JetStream, fsync always) and PostgreSQL unless NATS_URL / DATABASE_URL point
elsewhere; the streams; the broker (alpaca-sim unless Alpaca credentials are configured); then every service.
``endpoints.json`` is written only once every child reports healthy. A child that dies is restarted with
exponential backoff (logged). SIGTERM / Ctrl-C stops the services, then the broker, NATS and PostgreSQL, in
that order, within 15 s, and removes ``endpoints.json``. One ``up`` per home: a second one is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import asyncpg
import nats

from tradebus_runtime import vault
from tradebus_runtime.bus import ensure_streams
from tradebus_runtime.health import NotHealthy, wait_until_healthy

from .credentials import SCHEMA as CREDENTIALS_SCHEMA
from .embedded import EmbeddedNats, EmbeddedPostgres, die_with_parent, free_port, port_open
from .home import endpoints_path, write_endpoints
from .keys import ensure_signing_key

SERVICE_STOP_S = 7.0
BROKER_STOP_S = 2.0
SERVER_STOP_S = 2.5
HEALTH_TIMEOUT_S = 60.0
MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 60.0


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
    out: TextIO = sys.stdout


@dataclass
class Child:
    """One supervised process: a service or the simulator."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    health: str  # "nats" (health.<name> request) or an http URL answering 200
    proc: asyncio.subprocess.Process | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff_s: float = 1.0

    async def spawn(self) -> None:
        log = self.log_path.open("ab")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )
        finally:
            log.close()
        self.started_at = time.monotonic()

    async def terminate(self, timeout: float) -> int | None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return None if proc is None else proc.returncode
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            return await proc.wait()


def _bin(name: str) -> str:
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise UpError(f"{name} is not installed in this environment ({path}); run `make up` from the repository")
    return str(path)


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
    def __init__(self, opts: UpOptions) -> None:
        self.opts = opts
        self.home = opts.home
        self.logs = self.home / "logs"
        self.nats: EmbeddedNats | None = None
        self.pg: EmbeddedPostgres | None = None
        self.children: list[Child] = []
        self.endpoints: dict[str, str] = {}
        self.stopping = asyncio.Event()
        self.lock = HomeLock(self.home)

    def say(self, text: str) -> None:
        print(text, file=self.opts.out, flush=True)

    # ---- start -------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self.lock.acquire()
        self.logs.mkdir(parents=True, exist_ok=True)
        endpoints_path(self.home).unlink(missing_ok=True)
        mode = "live" if self.opts.live else "paper"
        self.say(f"tradebus: starting in {self.home} (mode: {mode})")
        nats_url = await self._start_nats()
        database_url = await self._start_postgres()
        await self._declare_streams(nats_url)
        use_alpaca = await self._stored_credentials(database_url, mode)
        if self.opts.live and not use_alpaca:
            raise UpError("--live needs live Alpaca credentials: store them with "
                          "`tradectl keys set --account default --live` (refusing to trade real money without them)")
        if use_alpaca:
            broker_url, broker_kind = "", "alpaca"
            self.say(f"  ✓ broker                 Alpaca {mode} (stored credentials of account 'default')")
        else:
            broker_url, broker_kind = await self._start_broker(), "simulator"
        ticket_port = self.opts.ticket_port or free_port()
        if port_open("127.0.0.1", ticket_port):
            raise UpError(f"port {ticket_port} is already in use; set TRADEBUS_TICKET_PORT or --ticket-port")
        webhook_port = free_port()
        self.endpoints = {
            "nats_url": nats_url,
            "database_url": database_url,
            "ticket_url": f"http://127.0.0.1:{ticket_port}",
            "webhook_url": f"http://127.0.0.1:{webhook_port}/webhooks/fills",
            "broker_url": broker_url or ("https://api.alpaca.markets" if self.opts.live
                                         else "https://paper-api.alpaca.markets"),
            "mode": mode,
        }
        base_env = {
            **os.environ,
            "NATS_URL": nats_url,
            "DATABASE_URL": database_url,
            "TRADEBUS_HOME": str(self.home),
            "TRADEBUS_MODE": mode,
            "TRADEBUS_BROKER": broker_kind,
            "PYTHONUNBUFFERED": "1",
        }
        signing = ensure_signing_key(self.home / "keys")
        gateway_env = {"GATEWAY_TRUSTED_KEYS": signing.public_b64}
        if broker_url:
            gateway_env["BROKER_URL"] = broker_url
        services = [
            ("risk-service", [], {"RISK_SIGNING_KEY_PATH": str(signing.private_path)}),
            ("order-gateway", ["--live"] if self.opts.live else [], gateway_env),
            ("position-sync-service", [], {}),
            ("webhook-ingest", [], {"WEBHOOK_PORT": str(webhook_port)}),
            ("ticket-api", [], {"TICKET_PORT": str(ticket_port)}),
        ]
        for name, args, extra in services:
            child = Child(name, [_bin(name), *args], {**base_env, **extra}, self.logs / f"{name}.log", "nats")
            self.children.append(child)
            await child.spawn()
            self.say(f"  … {name:<22} starting (pid {child.proc.pid if child.proc else '?'})")
        await self._wait_healthy(nats_url, [c for c in self.children if c.health == "nats"])
        path = write_endpoints(self.home, self.endpoints)
        self.say("")
        self.say(f"tradebus is up and healthy — {'LIVE TRADING (real money)' if self.opts.live else 'PAPER TRADING'}")
        self.say(f"  ticket:    {self.endpoints['ticket_url']}")
        self.say(f"  broker:    {self.endpoints['broker_url']} ({'alpaca-sim' if broker_kind == 'simulator' else 'Alpaca'})")
        self.say(f"  endpoints: {path}")
        self.say(f"  logs:      {self.logs}")
        self.say("Press Ctrl-C to stop.")

    async def _stored_credentials(self, database_url: str, mode: str) -> bool:
        """Alpaca credentials stored for account 'default' in this mode? (names only: nothing is decrypted here)"""
        conn = await asyncpg.connect(database_url)
        try:
            await vault.ensure_table(conn, CREDENTIALS_SCHEMA)
            return any(c.account == "default" and c.mode == mode
                       for c in await vault.list_credentials(conn, CREDENTIALS_SCHEMA))
        finally:
            await conn.close()

    async def _start_nats(self) -> str:
        if self.opts.nats_url:
            self.say(f"  ✓ nats                   {self.opts.nats_url} (external, from NATS_URL)")
            return self.opts.nats_url
        self.nats = EmbeddedNats(self.home / "nats", fsync_always=self.opts.fsync_always)
        url = await asyncio.to_thread(self.nats.start)
        self.say(f"  ✓ nats                   {url} (embedded, JetStream, fsync {'always' if self.opts.fsync_always else 'default'})")
        return url

    async def _start_postgres(self) -> str:
        if self.opts.database_url:
            self.say(f"  ✓ postgres               {_hide_password(self.opts.database_url)} (external, from DATABASE_URL)")
            return self.opts.database_url
        self.pg = EmbeddedPostgres(self.home / "postgres")
        url = await asyncio.to_thread(self.pg.start)
        self.say(f"  ✓ postgres               {url} (embedded)")
        return url

    async def _declare_streams(self, url: str) -> None:
        nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=3)
        try:
            await ensure_streams(nc.jetstream())
        finally:
            await nc.drain()
        self.say("  ✓ streams                ORDERS RISK FILLS POSITIONS CONTROL DLQ AUDIT")

    async def _start_broker(self) -> str:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        state = self.home / "alpaca-sim" / "state.json"
        state.parent.mkdir(parents=True, exist_ok=True)
        child = Child(
            "alpaca-sim",
            [_bin("alpaca-sim"), "--host", "127.0.0.1", "--port", str(port), "--state", str(state)],
            {**os.environ, "PYTHONUNBUFFERED": "1"},
            self.logs / "alpaca-sim.log",
            f"{url}/admin/health",
        )
        self.children.append(child)
        await child.spawn()
        await self._wait_http(child)
        self.say(f"  ✓ alpaca-sim             {url} (simulated paper broker; no Alpaca credentials configured)")
        return url

    async def _wait_http(self, child: Child) -> None:
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while time.monotonic() < deadline:
            if child.proc is not None and child.proc.returncode is not None:
                raise UpError(f"{child.name} exited with {child.proc.returncode} during start; see {child.log_path}")
            if await asyncio.to_thread(_http_ok, child.health):
                return
            await asyncio.sleep(0.1)
        raise UpError(f"{child.name} did not become healthy within {HEALTH_TIMEOUT_S:.0f}s; see {child.log_path}")

    async def _wait_healthy(self, url: str, children: list[Child]) -> None:
        by_name = {c.name: c for c in children}

        def exited(name: str) -> str | None:
            proc = by_name[name].proc
            if proc is None or proc.returncode is None:
                return None
            return f"exited with {proc.returncode} during start; see {by_name[name].log_path}"

        try:
            await wait_until_healthy(url, by_name, HEALTH_TIMEOUT_S, exited=exited,
                                     on_healthy=lambda name: self.say(f"  ✓ {name:<22} healthy"))
        except NotHealthy as exc:
            raise UpError(f"{exc}; see the logs in {self.logs}") from None

    # ---- supervise ---------------------------------------------------------------------------------------
    async def supervise(self) -> None:
        """Restart children that die, with backoff, until asked to stop."""
        stop_wait = asyncio.create_task(self.stopping.wait())
        try:
            while not self.stopping.is_set():
                waits = {asyncio.create_task(c.proc.wait()): c for c in self.children if c.proc is not None}
                done, _ = await asyncio.wait({stop_wait, *waits}, return_when=asyncio.FIRST_COMPLETED)
                for task in waits:
                    task.cancel()
                if self.stopping.is_set():
                    break
                for task in done:
                    child = waits.get(task)
                    if child is not None:
                        await self._restart(child)
        finally:
            stop_wait.cancel()

    async def _restart(self, child: Child) -> None:
        code = child.proc.returncode if child.proc else None
        if time.monotonic() - child.started_at > STABLE_AFTER_S:
            child.backoff_s = 1.0
        delay = child.backoff_s
        child.backoff_s = min(child.backoff_s * 2, MAX_BACKOFF_S)
        child.restarts += 1
        self.say(f"  ! {child.name} exited with code {code}; restarting in {delay:.0f}s (restart #{child.restarts}, log {child.log_path})")
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=delay)
            return  # stop requested during the backoff
        except TimeoutError:
            pass
        await child.spawn()

    # ---- stop --------------------------------------------------------------------------------------------
    async def stop(self) -> None:
        self.stopping.set()
        if not self.lock.held:
            return  # we never owned this home: leave another runner's files alone
        endpoints_path(self.home).unlink(missing_ok=True)
        started = time.monotonic()
        services = [c for c in self.children if c.name != "alpaca-sim"]
        broker = [c for c in self.children if c.name == "alpaca-sim"]
        await asyncio.gather(*(c.terminate(SERVICE_STOP_S) for c in services))
        await asyncio.gather(*(c.terminate(BROKER_STOP_S) for c in broker))
        if self.nats is not None:
            await asyncio.to_thread(self.nats.stop, SERVER_STOP_S)
        if self.pg is not None:
            await asyncio.to_thread(self.pg.stop, SERVER_STOP_S)
        self.lock.release()
        self.say(f"tradebus stopped ({time.monotonic() - started:.1f}s)")


def _hide_password(dsn: str) -> str:
    if "@" not in dsn or "://" not in dsn:
        return dsn
    scheme, rest = dsn.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}{':***' if ':' in creds else ''}@{host}"


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - a local URL we built
            return resp.status == 200
    except Exception:
        return False


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
            await stack.supervise()
        return 0
    except UpError as exc:
        print(f"tradectl up: {exc}", file=sys.stderr, flush=True)
        return 2
    finally:
        await stack.stop()
