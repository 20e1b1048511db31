"""The chaos harness (issue 11): the real stack's order path driven through faults, and its guarantees checked after.

What runs in each chaos test, all real processes except the simulator:

* NATS and PostgreSQL — the session's servers (root ``conftest.py``), or a test's own (the root conftest's
  `own_nats`, `own_postgres`) when the test restarts them;
* alpaca-sim in a thread of the test process (``alpaca_sim.testing``), so a test can also swap its rate limiter;
* risk-service and two order-gateway replicas on the same database and the same durable consumers, with the
  argv and environment ``tradectl up`` plans for them (``tradectl.plan.plan_stack``) plus the chaos settings below,
  run by `ChaosSupervisor`, which restarts a child that exits after ``tradectl.supervisor.FAST_DELAY_S`` as the
  runner does.

A `Storm` requests orders on the bus (``OrderRequested``: risk decides and signs, the gateways submit), publishes a
halt (``tradectl.control.set_trading_state``) after ``HALT_AT`` of them, and runs the test's faults meanwhile. Then
`Observer.settle` polls, for at most ``CHAOS_SETTLE_S``, until the evidence is final — the simulator's orders over
its REST API, the RISK, ORDERS, FILLS and CONTROL streams, the gateway's ``orders`` and ``broker_calls`` tables —
and `Verdict` states the guarantees:

(a) the broker holds exactly one order per approval and none without one (an approval that could not be used —
    halted, expired — has none, and its order ended with ``SubmissionFailed``);
(b) no order is left ``pending`` (or without a row at all) in ``order_gateway.orders`` once the storm settled;
(c) every execution is counted once: unique execution ids on FILLS, and per order the fills add up to the broker's
    ``filled_qty``;
(d) nothing is submitted after the halt: no broker order created (and no approval issued) later than the halt's
    ``occurred_at`` + `Storm.halt_allowance_s`.

Sizes come from the environment, so the same storms are the small suite of ``make test`` and the long run:
``CHAOS_ORDERS`` (60 per storm), ``CHAOS_RATE`` (orders requested per second, 6), ``CHAOS_SETTLE_S`` (60),
``CHAOS_SEED`` (random; printed), ``CHAOS_SUMMARY`` (the JSON file every storm's summary goes to,
``/tmp/tradebus-chaos-summary.json``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import nats
import psutil
import pytest
from nats.js.errors import NotFoundError, ServiceUnavailableError

from alpaca_sim.app import SimSettings
from alpaca_sim.errors import RATE_LIMITED, BrokerError
from alpaca_sim.guards import RateLimiter
from alpaca_sim.testing import RunningSimulator, simulator_in_thread
from order_gateway.broker import parse_time
from tradebus_contracts import (
    FillReported,
    RiskApproved,
    SubmissionFailed,
    TradingState,
    TradingStateChanged,
    client_order_id_for,
    decode_event,
    encode_event,
    subject_for,
)
from tradebus_contracts.orders import FINAL_STATUSES
from tradebus_contracts.subjects import TRADING_STATE, subject_filter
from tradebus_runtime.crashpoints import CRASH_POINTS_ENV
from tradebus_runtime.identity import nats_servers
from tradectl.control import set_trading_state
from tradectl.embedded import EmbeddedNats, EmbeddedPostgres, die_with_parent, embedded_nats_servers, stop_process
from tradectl.keys import ensure_signing_key
from tradectl.plan import ChildPlan, StackFacts, plan_stack
from tradectl.provision import jetstream_ready, provision_nats
from tradectl.supervisor import FAST_DELAY_S
from tradectl.testing import stack_env, wait_for_reference_data

ORDERS = int(os.environ.get("CHAOS_ORDERS", "60"))
RATE = float(os.environ.get("CHAOS_RATE", "6"))
SETTLE_S = float(os.environ.get("CHAOS_SETTLE_S", "60"))
SEED = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(1 << 31))
SUMMARY_PATH = Path(os.environ.get("CHAOS_SUMMARY", "/tmp/tradebus-chaos-summary.json"))
# The halt goes out after this share of a storm's orders (the rest must be refused), and faults strike in the first
# half of the flow (`Storm.moments`): what they leave behind — messages a dead or stalled replica held come back
# after ack_wait (5 s) — is mostly worked off before the halt, and the halt meets whatever is still in the air.
HALT_AT = 0.85
# Base allowance of guarantee (d), in seconds. The gateway reads the halt before every POST, so a broker order
# created after the halt can only come from a POST that passed that check before the halt reached the replica:
# NATS delivery of the halt to both replicas' followers (milliseconds), plus one POST already under way — the
# gateway's thread-pool hop, the HTTP round trip and the simulator's handling on a loaded 2-core machine (tens of
# milliseconds, hundreds at worst). 1 s covers that with room; a storm that makes the broker hold POSTs adds the
# longest delay it injected (`Storm.broker_fault`), since a POST sent just before the halt lands that much later.
HALT_ALLOWANCE_S = 1.0
SYMBOLS = ("AAPL", "MSFT", "KO", "F", "INTC", "BAC")
CAPPED = {"AAPL": 1, "KO": 1}  # liquidity caps: orders of 2-3 shares there fill in several executions
OBSERVER_KEY = ("chaos-observer", "chaos-observer-secret")  # the test's own broker key (never throttled)
BIN = Path(sys.executable).parent
BIG = "1000000000"

# The longest a storm makes the simulator hold a POST is 3 s: a POST the gateway gave up on cannot land later than
# that, so the gateway's landing margin (30 s by default, for the real Alpaca) is 5 s here. A pending row whose
# approval can no longer be sent (halted) is failed by the sweeper once the approval has expired (30 s, risk's
# default TTL) and the landing window after its last POST has passed: `SETTLE_S` must outlast that.
LANDING_MARGIN_S = 5
# Risk limits loose enough that every order of a storm is approved (only the halt refuses), risk's default approval
# TTL, and the gateway fast at tracking: quick polls and sweeps, no client-side throttle beyond the simulator's, REST
# quotes only (two replicas with one key would fight over the market-data socket: Alpaca allows one per key).
RISK_ENV = {
    "RISK_MAX_ORDER_NOTIONAL": BIG, "RISK_MAX_ORDER_QTY": BIG, "RISK_MAX_POSITION_QTY": BIG,
    "RISK_MAX_POSITION_NOTIONAL": BIG, "RISK_MAX_ACCOUNT_GROSS_EXPOSURE": BIG, "RISK_MAX_OPEN_ORDERS": BIG,
    "RISK_MAX_OPEN_ORDERS_PER_SYMBOL": BIG, "RISK_MAX_DAILY_NOTIONAL": BIG, "RISK_MAX_DAILY_NOTIONAL_PER_SYMBOL": BIG,
    "RISK_THROTTLE_MAX_ORDERS": BIG,
}
GATEWAY_ENV = {
    "GATEWAY_RATE_LIMIT_PER_MIN": "100000", "GATEWAY_POLL_INTERVAL_S": "0.5", "GATEWAY_SWEEP_AFTER_S": "2",
    "GATEWAY_QUOTE_INTERVAL_S": "1", "GATEWAY_QUOTE_SYMBOLS": ",".join(SYMBOLS), "GATEWAY_QUOTE_STREAM": "false",
    "GATEWAY_BROKER_TIMEOUT_S": "10", "GATEWAY_LANDING_MARGIN_S": str(LANDING_MARGIN_S),
}
SUMMARIES: list[dict[str, Any]] = []


def storm_timeout(orders: int = ORDERS) -> float:
    """pytest-timeout for one storm: start-up, the flow with its faults, the settle time, teardown."""
    return 120 + 3 * orders / RATE + SETTLE_S


# --- processes --------------------------------------------------------------------------------------------------


@dataclass
class Life:
    """One run of a child process: from spawn to exit."""

    pid: int
    spawned_at: float  # epoch seconds
    log_offset: int
    ended_at: float | None = None
    exit_code: int | None = None
    killed: bool = False  # by the storm (kill -9), as opposed to exiting by itself
    armed: str = ""  # its TRADEBUS_CRASH_POINTS (runtime/crashpoints.py)


Arming = Callable[[], str]  # the TRADEBUS_CRASH_POINTS of a child's next life


class ChaosChild:
    """A service process as the plan describes it, with every life it had and its log."""

    def __init__(self, plan: ChildPlan, arming: Arming | None = None) -> None:
        self.plan = plan
        self.arming = arming  # each life's crash points, in turn (else the plan's)
        self.proc: subprocess.Popen[bytes] | None = None
        self.lives: list[Life] = []
        self.paused = False

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def spawn(self) -> None:
        path = self.plan.log_path
        path.parent.mkdir(parents=True, exist_ok=True)
        offset = path.stat().st_size if path.exists() else 0
        env = dict(self.plan.env)
        if self.arming is not None:
            env[CRASH_POINTS_ENV] = self.arming()
        with path.open("ab") as log:
            self.proc = subprocess.Popen(list(self.plan.argv), env=env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        self.lives.append(Life(self.proc.pid, time.time(), offset, armed=env.get(CRASH_POINTS_ENV, "")))

    def log_lines(self, life: Life | None = None) -> Iterator[dict[str, Any]]:
        """The JSON log lines of one life (all of them without ``life``)."""
        path = self.plan.log_path
        if not path.exists():
            return
        start = life.log_offset if life else 0
        following = [x.log_offset for x in self.lives if x.log_offset > start]
        with path.open("rb") as f:
            f.seek(start)
            data = f.read((min(following) - start) if following and life else -1)
        for line in data.splitlines():
            if line.startswith(b"{"):
                with contextlib.suppress(ValueError):
                    yield json.loads(line)

    def first(self, life: Life, event: str) -> float | None:
        """When (epoch seconds) this life first logged ``event``."""
        for line in self.log_lines(life):
            if line.get("event") == event and "timestamp" in line:
                return datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00")).timestamp()
        return None

    def grep(self, *needles: str, limit: int = 12) -> list[str]:
        """Log lines (raw) that contain every needle: evidence for a failure message."""
        path = self.plan.log_path
        if not path.exists():
            return []
        hits = [line for line in path.read_text(errors="replace").splitlines() if all(n in line for n in needles)]
        return hits[:limit]

    def crash_point_death(self, life: Life) -> str | None:
        """The crash point at which this life ended by a SIGKILL it sent itself (its last word names it:
        runtime/crashpoints.py); None when it ended otherwise."""
        if life.killed or life.exit_code != -signal.SIGKILL or not life.armed:
            return None
        struck = [line.get("point") for line in self.log_lines(life) if line.get("event") == "crash_point.struck"]
        return str(struck[-1]) if struck else None

    def tail(self, chars: int = 3000) -> str:
        path = self.plan.log_path
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""


class ChaosSupervisor:
    """Keeps the children running as ``tradectl up`` does: a child that exits (or is killed) is started again after
    ``FAST_DELAY_S`` (0.5 s), the runner's delay for the first crashes in a row. Unlike the runner it never backs off:
    a storm kills on purpose, and a child that keeps dying by itself shows up in the summary's unexpected exits."""

    def __init__(self, children: list[ChaosChild]) -> None:
        self.children = children
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for child in self.children:
            child.spawn()
        self._tasks = [asyncio.create_task(self._watch(c), name=f"supervise:{c.name}") for c in self.children]

    async def _watch(self, child: ChaosChild) -> None:
        while not self._stopping:
            assert child.proc is not None
            code = child.proc.poll()
            if code is None:
                await asyncio.sleep(0.05)
                continue
            life = child.lives[-1]
            life.ended_at, life.exit_code = time.time(), code
            await asyncio.sleep(FAST_DELAY_S)
            if not self._stopping:
                child.spawn()

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for child in self.children:
            if child.proc is not None and child.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    if child.paused:
                        child.proc.send_signal(signal.SIGCONT)
                    child.proc.send_signal(signal.SIGTERM)
        for child in self.children:
            if child.proc is not None:
                await asyncio.to_thread(stop_process, child.proc, signal.SIGTERM, 8.0)

    def unexpected_exits(self) -> list[dict[str, Any]]:
        return [{"child": c.name, "exit_code": life.exit_code, "at": life.ended_at}
                for c in self.children for life in c.lives
                if life.ended_at is not None and not life.killed and c.crash_point_death(life) is None]

    def crash_point_deaths(self) -> Counter[str]:
        """Deaths at crash points, by point."""
        return Counter(point for c in self.children for life in c.lives
                       if (point := c.crash_point_death(life)) is not None)


# --- the rig: simulator, risk, two gateway replicas --------------------------------------------------------------


def service_plans(home: Path, nats_url: str, database_url: str, broker_url: str,
                  gateway_env: dict[str, str], risk_env: dict[str, str]) -> list[ChildPlan]:
    """risk-service and two order-gateway replicas, as ``tradectl up`` plans them, with the chaos settings."""
    keys = ensure_signing_key(home / "keys")
    facts = StackFacts(home=home, mode="paper", nats_url=nats_url, database_url=database_url, broker="simulator",
                       broker_url=broker_url, ticket_port=0, webhook_port=0, signing_key=keys, audit_key=keys,
                       webhook_secret_path=home / "keys" / "webhook.secret", bin_dir=BIN, base_env=stack_env(home))
    planned = {child.name: child for child in plan_stack(facts).services}
    risk, gateway = planned["risk-service"], planned["order-gateway"]
    gateway = replace(gateway, env={**gateway.env, **GATEWAY_ENV, **gateway_env})
    return [replace(risk, env={**risk.env, **RISK_ENV, **risk_env}),
            *(replace(gateway, name=f"order-gateway-{x}", log_path=gateway.log_path.with_name(f"order-gateway-{x}.log"))
              for x in "ab")]


@dataclass
class Rig:
    nats_url: str
    database_url: str
    sim: RunningSimulator
    home: Path
    risk: ChaosChild
    gateways: tuple[ChaosChild, ChaosChild]
    supervisor: ChaosSupervisor

    @property
    def children(self) -> list[ChaosChild]:
        return [self.risk, *self.gateways]

    async def ready(self, timeout: float = 60.0) -> None:
        """Every child has logged ``service.ready`` in its current life (one that exits meanwhile is started again
        by the supervisor, as ``tradectl up`` would, and shows in the summary), and REFDATA has every symbol."""
        deadline = time.monotonic() + timeout
        for child in self.children:
            while child.first(child.lives[-1], "service.ready") is None:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{child.name} not ready within {timeout:.0f}s:\n{child.tail()}")
                await asyncio.sleep(0.1)
        for symbol in SYMBOLS:
            await wait_for_reference_data(self.nats_url, symbol, timeout=max(1.0, deadline - time.monotonic()))


@pytest.fixture
def chaos_sim() -> Iterator[RunningSimulator]:
    """alpaca-sim: fast ticks, a billion dollars of cash, a rate limit no storm reaches (faults are injected)."""
    settings = SimSettings(tick_seconds=0.1, seed=SEED % 1000, rate_limit=1_000_000, cash=Decimal(BIG))
    with simulator_in_thread(settings) as running:
        yield running


@pytest.fixture
def gateway_env() -> dict[str, str]:
    """Extra environment of both gateway replicas (override in a module)."""
    return {}


@pytest.fixture
def risk_env() -> dict[str, str]:
    """Extra environment of risk-service (override in a module)."""
    return {}


@pytest.fixture
def gateway_arming() -> Arming | None:
    """The crash points of each new life of either gateway replica, asked at every spawn (override in a module);
    None: the plan's environment (``gateway_env``)."""
    return None


@contextlib.asynccontextmanager
async def running_rig(sim: RunningSimulator, home: Path, nats_url: str, database_url: str,
                      gateway_env: dict[str, str], risk_env: dict[str, str],
                      gateway_arming: Arming | None = None) -> AsyncIterator[Rig]:
    """risk-service and two gateway replicas started, supervised and ready; stopped on the way out."""
    risk, *gateways = service_plans(home, nats_url, database_url, sim.url, gateway_env, risk_env)
    children = [ChaosChild(risk), *(ChaosChild(p, gateway_arming) for p in gateways)]
    rig = Rig(nats_url, database_url, sim, home, children[0], (children[1], children[2]), ChaosSupervisor(children))
    rig.supervisor.start()
    try:
        await rig.ready()
        async with httpx.AsyncClient(base_url=sim.url, timeout=10) as http:
            for symbol, cap in CAPPED.items():
                (await http.post("/admin/liquidity", json={"symbol": symbol, "max_fill_qty": cap})).raise_for_status()
        yield rig
    finally:
        await rig.supervisor.stop()


# The rig on the servers it needs: each fixture depends on its servers, so it is stopped before they are.
@pytest.fixture
async def rig(chaos_sim: RunningSimulator, tmp_path: Path, nats_url: str, database_url: str,
              gateway_env: dict[str, str], risk_env: dict[str, str],
              gateway_arming: Arming | None) -> AsyncIterator[Rig]:
    """The rig on the session's NATS and a fresh database."""
    async with running_rig(chaos_sim, tmp_path / "home", nats_url, database_url, gateway_env, risk_env,
                           gateway_arming) as running:
        yield running


@pytest.fixture
async def rig_own_nats(chaos_sim: RunningSimulator, tmp_path: Path, own_nats: EmbeddedNats, database_url: str,
                       gateway_env: dict[str, str], risk_env: dict[str, str]) -> AsyncIterator[Rig]:
    """The rig on a NATS server of the test's own (`own_nats`), to restart."""
    async with running_rig(chaos_sim, tmp_path / "home", own_nats.url, database_url, gateway_env,
                           risk_env) as running:
        yield running


@pytest.fixture
async def rig_own_postgres(chaos_sim: RunningSimulator, tmp_path: Path, nats_url: str,
                           own_postgres: EmbeddedPostgres, gateway_env: dict[str, str],
                           risk_env: dict[str, str]) -> AsyncIterator[Rig]:
    """The rig on a PostgreSQL server of the test's own (`own_postgres`), to restart."""
    async with running_rig(chaos_sim, tmp_path / "home", nats_url, own_postgres.url(), gateway_env,
                           risk_env) as running:
        yield running


@pytest.fixture
async def nats_cluster() -> AsyncIterator[list[EmbeddedNats]]:
    """Three nats-servers of the test's own as one JetStream cluster (as ``tradectl up --nats-cluster 3`` runs them),
    the streams, durable consumers and KV buckets provisioned with three replicas."""
    root = Path(tempfile.mkdtemp(prefix="tradebus-cluster-"))
    root.chmod(0o711)
    servers = embedded_nats_servers(root, 3, auth=None, fsync_always=False)
    try:
        await asyncio.gather(*(asyncio.to_thread(s.start) for s in servers))
        await provision_cluster(",".join(s.url for s in servers))
        yield servers
    finally:
        for server in servers:
            await asyncio.to_thread(server.stop)
        shutil.rmtree(root, ignore_errors=True)


async def provision_cluster(url: str, timeout: float = 60.0) -> None:
    """Once the cluster has a JetStream leader (`jetstream_ready`): everything provisioned with three replicas."""
    nc = await nats.connect(nats_servers(url))
    try:
        await jetstream_ready(nc.jetstream(), timeout)
        await provision_nats(nc.jetstream(timeout=10), replicas=3)
    finally:
        await nc.close()


@pytest.fixture
async def rig_nats_cluster(chaos_sim: RunningSimulator, tmp_path: Path, nats_cluster: list[EmbeddedNats],
                           database_url: str, gateway_env: dict[str, str],
                           risk_env: dict[str, str]) -> AsyncIterator[Rig]:
    """The rig on a three-server NATS cluster; every process connects with all three URLs."""
    url = ",".join(s.url for s in nats_cluster)
    async with running_rig(chaos_sim, tmp_path / "home", url, database_url, gateway_env, risk_env) as running:
        yield running


# --- the storm ----------------------------------------------------------------------------------------------------


class ThrottlingLimiter(RateLimiter):
    """The simulator's rate limiter for a while: the next ``refusals`` requests of any key but the observer's are
    answered 429 with ``Retry-After`` (seconds), then the real limiter again. (``/admin/faults`` can answer 429, but
    with no header: this is the only way to make the simulator send ``Retry-After``.)"""

    def __init__(self, inner: RateLimiter, refusals: int, retry_after_s: int) -> None:
        super().__init__(inner.per_minute)
        self.inner = inner
        self.refusals = refusals
        self.retry_after_s = retry_after_s

    def hit(self, key: str) -> dict[str, str]:
        if key != OBSERVER_KEY[0] and self.refusals > 0:
            self.refusals -= 1
            raise BrokerError(429, RATE_LIMITED, "rate limit exceeded",
                              _headers={"Retry-After": str(self.retry_after_s)})
        return self.inner.hit(key)

    def reset(self) -> None:
        self.inner.reset()


@dataclass
class Restart:
    """A server restarted by a storm (NATS, PostgreSQL): when it listened again."""

    what: str
    stopped_at: float
    started_at: float


class Storm:
    """Orders requested at ``RATE`` while the test's faults run, a halt after ``HALT_AT`` of them (or later, see `run`);
    what was done."""

    def __init__(self, name: str, rig: Rig, make_request: Callable[..., Any]) -> None:
        self.name = name
        self.rig = rig
        self.make_request = make_request
        self.rng = random.Random(f"{SEED}:{name}")
        self.requested: list[Any] = []
        self.faults: Counter[str] = Counter()
        self.server_restarts: list[Restart] = []
        self.max_broker_delay_s = 0.0
        self.halt_sent_at: float | None = None
        self.started_at = 0.0
        self.flow_s = 0.0
        self.settle_s = 0.0
        self.notes: list[str] = []

    # ---- the flow ---------------------------------------------------------------------------------------------
    async def run(self, orders: int, faults: Callable[[Storm, float], Awaitable[None]], *,
                  halt: bool = True, halt_once: Callable[[], bool] | None = None) -> None:
        """Request ``orders`` orders over ``orders / RATE`` seconds while ``faults(storm, duration)`` runs.
        ``halt_once``: the halt waits until it is true, the orders flowing on meanwhile (one more before the halt for
        each one it waits, up to twice ``orders`` in all); as many follow the halt either way."""
        duration = orders / RATE
        self.started_at = time.time()
        halt_after = int(orders * HALT_AT) if halt else None
        await asyncio.gather(self._drive(orders, halt_after, halt_once), faults(self, duration))
        self.flow_s = time.time() - self.started_at

    async def _drive(self, orders: int, halt_after: int | None, halt_once: Callable[[], bool] | None) -> None:
        nc = await nats.connect(nats_servers(self.rig.nats_url), max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        js = nc.jetstream()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        limit, i = 2 * orders, 0
        try:
            while i < orders:
                if i == halt_after and halt_once is not None and orders < limit and not halt_once():
                    halt_after, orders = halt_after + 1, orders + 1
                if i == halt_after:
                    await self._halt()
                symbol = SYMBOLS[i % len(SYMBOLS)]
                request = self.make_request(symbol=symbol, type="market", limit_price=None,
                                            qty=Decimal(self.rng.choice((1, 2, 3))), producer="chaos")
                await _publish_until_stored(js, request)
                self.requested.append(request)
                i += 1
                await asyncio.sleep(max(0.0, t0 + i / RATE - loop.time()))
        finally:
            await nc.close()

    async def _halt(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                self.halt_sent_at = time.time()
                await set_trading_state(self.rig.nats_url, TradingState.HALTED, f"chaos storm {self.name}")
                return
            except Exception as exc:  # NATS away (a restart storm): the halt is sent again, as an operator would
                if time.monotonic() > deadline:
                    raise
                self.notes.append(f"halt publish retried: {type(exc).__name__}")
                await asyncio.sleep(0.3)

    # ---- faults -----------------------------------------------------------------------------------------------
    def moments(self, n: int, duration: float, start: float = 0.05, end: float = 0.5) -> list[float]:
        """``n`` random moments of the flow (seconds from its start), sorted."""
        return sorted(self.rng.uniform(start * duration, end * duration) for _ in range(n))

    async def at(self, moment: float) -> None:
        await asyncio.sleep(max(0.0, self.started_at + moment - time.time()))

    async def each(self, moments: list[float], action: Callable[[int], Awaitable[None]]) -> None:
        for i, moment in enumerate(moments):
            await self.at(moment)
            await action(i)

    async def kill9(self, child: ChaosChild) -> None:
        """kill -9 now; the supervisor starts it again after FAST_DELAY_S."""
        child.lives[-1].killed = True
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGKILL)
        self.faults[f"kill -9 {child.name.removesuffix('-a').removesuffix('-b')}"] += 1

    async def pause(self, child: ChaosChild, seconds: float) -> None:
        """SIGSTOP for ``seconds``, then SIGCONT."""
        os.kill(child.pid, signal.SIGSTOP)
        child.paused = True
        self.faults["SIGSTOP gateway replica"] += 1
        try:
            await asyncio.sleep(seconds)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGCONT)
            child.paused = False

    async def broker_fault(self, kind: str, **fault: Any) -> None:
        """``POST /admin/faults`` with this body (counted under ``kind`` as many times as it may hit)."""
        async with httpx.AsyncClient(base_url=self.rig.sim.url, timeout=10) as http:
            (await http.post("/admin/faults", json=fault)).raise_for_status()
        self.faults[kind] += fault.get("times", 1)
        self.max_broker_delay_s = max(self.max_broker_delay_s, fault.get("delay_ms", 0) / 1000)

    def throttle(self, refusals: int, retry_after_s: int) -> None:
        """The next ``refusals`` broker requests of the gateways answered 429 with ``Retry-After``."""
        sim = self.rig.sim.sim
        inner = sim.rate_limiter.inner if isinstance(sim.rate_limiter, ThrottlingLimiter) else sim.rate_limiter
        sim.rate_limiter = ThrottlingLimiter(inner, refusals, retry_after_s)
        self.faults["429 Retry-After"] += refusals

    async def restart_server(self, what: str, server: EmbeddedNats | EmbeddedPostgres, down_s: float) -> None:
        """Stop the server (NATS: SIGTERM; PostgreSQL: fast shutdown), ``down_s`` later start it on the same port
        and data directory."""
        stopped_at = time.time()
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(down_s)
        await asyncio.to_thread(server.start)
        self.server_restarts.append(Restart(what, stopped_at, time.time()))
        self.faults[f"restart {what}"] += 1

    async def kill_server(self, what: str, server: EmbeddedNats, down_s: float) -> None:
        """kill -9 a server of a cluster, ``down_s`` later start it again on the same port and store."""
        stopped_at = time.time()
        assert server.proc is not None
        server.proc.kill()
        await asyncio.to_thread(server.proc.wait)
        server.proc = None
        await asyncio.sleep(down_s)
        await asyncio.to_thread(server.start)
        self.server_restarts.append(Restart(what, stopped_at, time.time()))
        self.faults[f"kill -9 {what}"] += 1

    async def lease_holder(self, timeout: float = 5.0) -> ChaosChild | None:
        """The gateway replica holding a broker lease on a pending order (a POST under way), if one shows up: its
        session advisory lock (store.broker_lease) → the backend's client port → the replica owning that socket."""
        deadline = time.monotonic() + timeout
        conn = await asyncpg.connect(self.rig.database_url)
        try:
            while time.monotonic() < deadline:
                ports = {r["client_port"] for r in await conn.fetch(
                    """SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                       JOIN order_gateway.orders o
                         ON l.objid = hashtext('order-gateway-broker:' || o.order_id::text)::oid
                       WHERE l.locktype = 'advisory' AND l.granted AND o.state = 'pending'""")}
                for gateway in self.rig.gateways:
                    with contextlib.suppress(psutil.Error):
                        mine = {c.laddr.port for c in psutil.Process(gateway.pid).net_connections(kind="tcp")}
                        if ports & mine:
                            return gateway
                await asyncio.sleep(0.02)
        finally:
            await conn.close()
        return None

    @property
    def halt_allowance_s(self) -> float:
        return HALT_ALLOWANCE_S + self.max_broker_delay_s

    # ---- after the storm ------------------------------------------------------------------------------------------
    async def verdict(self, settle_s: float = SETTLE_S) -> Verdict:
        started = time.time()
        verdict = await Observer(self).settle(settle_s)
        self.settle_s = time.time() - started
        summary = self.summary(verdict)
        SUMMARIES.append(summary)
        _write_summaries()
        print(f"\nchaos storm {self.name}: {json.dumps(summary, default=str)}")
        return verdict

    def assert_guarantees(self, verdict: Verdict, *, extra: list[str] | None = None) -> None:
        """(a)-(d) with the evidence: what broke, and the log lines of the orders concerned."""
        problems: list[str] = []

        def show(title: str, items: Any) -> None:
            if items:
                listed = list(items.items()) if isinstance(items, dict) else list(items)
                problems.append(f"{title} ({len(listed)}): {listed[:8]}")

        show("(a) broker orders without an approval", verdict.unapproved)
        show("(a) approvals with more than one broker order", verdict.duplicates)
        show("(a) approvals with no broker order and no SubmissionFailed for an unusable approval", verdict.lost)
        show("(b) orders not settled in order_gateway.orders", verdict.stuck)
        show("(liveness) order requests risk never answered", verdict.undecided)
        show("(c) execution ids reported more than once", verdict.duplicate_executions)
        show("(c) fills that do not add up to the broker's filled_qty", verdict.fill_mismatches)
        show(f"(d) broker orders created after the halt + {verdict.halt_allowance_s:g}s", verdict.after_halt)
        show(f"(d) approvals issued after the halt + {verdict.halt_allowance_s:g}s", verdict.approved_after_halt)
        problems += extra or []
        if self.halt_sent_at is not None and not verdict.halts:
            problems.append("(d) the halt is not on the CONTROL stream")
        if problems:
            evidence = []
            for order_id in list(verdict.lost)[:3]:
                evidence.append(f"order {order_id}: row {verdict.rows.get(order_id)}")
                for child in self.rig.gateways:
                    evidence += [f"  {child.name}: {line}" for line in child.grep(str(order_id), limit=6)]
            pytest.fail(f"storm {self.name} (seed {SEED}) broke a guarantee:\n" + "\n".join(problems)
                        + ("\nevidence:\n" + "\n".join(evidence) if evidence else ""), pytrace=False)

    def recoveries(self, verdict: Verdict) -> list[dict[str, Any]]:
        """Per restart: seconds from the process (server) start to its health (service.ready) and to the first
        successful submit after it (for risk: its first approval issued after it; for a server: the first broker
        order created after it, by either replica)."""
        out: list[dict[str, Any]] = []
        created = sorted(verdict.created_at.values())
        for child in self.rig.children:
            for life in child.lives[1:]:
                ready = child.first(life, "service.ready")
                if child is self.rig.risk:
                    firsts = [a.issued_at.timestamp() for a in verdict.approvals.values()
                              if a.issued_at.timestamp() >= life.spawned_at]
                    first = min(firsts) if firsts else None
                else:
                    first = child.first(life, "gateway.submitted")
                out.append({"what": child.name, "ready_s": _since(life.spawned_at, ready),
                            "first_submit_s": _since(life.spawned_at, first)})
        for restart in self.server_restarts:
            after = [t for t in created if t >= restart.started_at]
            before = [t for t in created if t < restart.stopped_at]
            since_stop = [t for t in created if t >= restart.stopped_at]
            # the order path's pause as the broker saw it: the gap between the broker orders around the fault
            pause = since_stop[0] - before[-1] if before and since_stop else None
            out.append({"what": restart.what, "down_s": round(restart.started_at - restart.stopped_at, 2),
                        "first_submit_s": _since(restart.started_at, after[0] if after else None),
                        "submit_pause_s": round(pause, 2) if pause is not None else None})
        return out

    def _crash_point_faults(self) -> dict[str, int]:
        """The deaths at crash points, one entry per point."""
        return {f"kill -9 at {point}": n for point, n in sorted(self.rig.supervisor.crash_point_deaths().items())}

    def summary(self, verdict: Verdict) -> dict[str, Any]:
        recoveries = self.recoveries(verdict)
        submit_times = [r["first_submit_s"] for r in recoveries if r.get("first_submit_s") is not None]
        return {
            "storm": self.name, "seed": SEED, "orders": len(self.requested), "approved": len(verdict.approvals),
            "rejected": len(verdict.rejected),
            "broker_orders": len(verdict.broker), "unusable_approvals": dict(Counter(verdict.unusable.values())),
            "faults": dict(self.faults) | self._crash_point_faults(), "duplicates": len(verdict.duplicates) + len(verdict.duplicate_executions),
            "duplicate_client_order_id_422": len(verdict.duplicate_422), "without_approval": len(verdict.unapproved),
            "lost": len(verdict.lost) + len(verdict.undecided), "stuck": len(verdict.stuck), "fill_mismatches": len(verdict.fill_mismatches),
            "fills": len(verdict.fills), "after_halt": len(verdict.after_halt) + len(verdict.approved_after_halt),
            "halt_allowance_s": self.halt_allowance_s, "dead_letters": verdict.dead_letters,
            "recoveries": recoveries,
            "recovery_first_submit_s_max": max(submit_times) if submit_times else None,
            "unexpected_exits": self.rig.supervisor.unexpected_exits(), "flow_s": round(self.flow_s, 1),
            "settle_s": round(self.settle_s, 1), "settled": verdict.settled, "notes": self.notes,
        }


def _since(start: float, end: float | None) -> float | None:
    return None if end is None else round(end - start, 2)


async def _publish_until_stored(js: Any, event: Any, timeout: float = 60.0) -> None:
    """Publish until JetStream acknowledges it (a NATS restart in between: the same Nats-Msg-Id, stored once)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await js.publish(subject_for(event), encode_event(event), headers={"Nats-Msg-Id": str(event.event_id)},
                             timeout=2)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def _write_summaries() -> None:
    SUMMARY_PATH.write_text(json.dumps({"seed": SEED, "orders_per_storm": ORDERS, "rate_per_s": RATE,
                                        "storms": SUMMARIES}, indent=2, default=str))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not SUMMARIES:
        return
    terminalreporter.section("chaos storms")
    for s in SUMMARIES:
        terminalreporter.write_line(
            f"{s['storm']}: orders {s['orders']}, approved {s['approved']}, broker orders {s['broker_orders']}, "
            f"faults {s['faults']}, duplicates {s['duplicates']}, lost {s['lost']}, stuck {s['stuck']}, "
            f"after halt {s['after_halt']}, slowest recovery {s['recovery_first_submit_s_max']} s")
    terminalreporter.write_line(f"(seed {SEED}; every figure in {SUMMARY_PATH})")


# --- the evidence and the guarantees ---------------------------------------------------------------------------


@dataclass
class Verdict:
    """What the broker, the streams and the gateway's tables say once the storm settled, and what breaks a
    guarantee (each list empty when it holds)."""

    requested: list[UUID]
    rejected: set[UUID]
    approvals: dict[UUID, RiskApproved]
    failures: dict[UUID, list[SubmissionFailed]]
    fills: list[FillReported]
    broker: list[dict[str, Any]]
    rows: dict[UUID, dict[str, Any]]
    duplicate_422: list[dict[str, Any]]
    halts: list[TradingStateChanged]
    dead_letters: int
    halt_allowance_s: float
    created_at: dict[str, float] = field(default_factory=dict)
    undecided: list[UUID] = field(default_factory=list)  # requested, and risk never answered
    unapproved: list[str] = field(default_factory=list)  # (a) broker orders no approval asked for
    duplicates: dict[str, int] = field(default_factory=dict)  # (a) client_order_id -> broker orders (> 1)
    lost: list[UUID] = field(default_factory=list)  # (a) approved, not at the broker, and not ended as unusable
    unusable: dict[UUID, str] = field(default_factory=dict)  # approved, never sent, ended with SubmissionFailed
    stuck: list[str] = field(default_factory=list)  # (b)
    duplicate_executions: dict[str, int] = field(default_factory=dict)  # (c)
    fill_mismatches: list[str] = field(default_factory=list)  # (c)
    after_halt: list[str] = field(default_factory=list)  # (d) broker orders created too late
    approved_after_halt: list[str] = field(default_factory=list)  # (d) approvals issued too late
    settled: bool = False

    def __post_init__(self) -> None:
        by_coid: dict[str, list[dict[str, Any]]] = {}
        for order in self.broker:
            by_coid.setdefault(order["client_order_id"], []).append(order)
            self.created_at[order["client_order_id"]] = parse_time(order["created_at"]).timestamp()
        expected = {client_order_id_for(order_id): order_id for order_id in self.approvals}
        self.unapproved = sorted(set(by_coid) - set(expected))
        self.duplicates = {coid: len(orders) for coid, orders in by_coid.items() if len(orders) > 1}
        for coid, order_id in expected.items():
            if coid in by_coid:
                continue
            row, failed = self.rows.get(order_id), self.failures.get(order_id)
            if row is not None and row["state"] == "failed" and failed and _unusable(failed[0].message):
                self.unusable[order_id] = _unusable(failed[0].message)
            else:
                self.lost.append(order_id)
        for order_id in self.approvals:
            row = self.rows.get(order_id)
            if row is None:
                self.stuck.append(f"{order_id}: approved, no row in order_gateway.orders")
            elif row["state"] == "pending":
                self.stuck.append(f"{order_id}: pending since {row['updated_at']}")
        executions = Counter(f.execution_id for f in self.fills)
        self.duplicate_executions = {x: n for x, n in executions.items() if n > 1}
        filled: Counter[str] = Counter()
        for fill in self.fills:
            filled[fill.client_order_id] += fill.qty
        for coid, orders in by_coid.items():
            broker_qty = Decimal(orders[0]["filled_qty"] or 0)
            if orders[0]["status"] not in FINAL_STATUSES:
                self.fill_mismatches.append(f"{coid}: still {orders[0]['status']} at the broker")
            elif filled[coid] != broker_qty:
                self.fill_mismatches.append(f"{coid}: FillReported add up to {filled[coid]}, broker filled {broker_qty}")
        for coid in set(filled) - set(by_coid):
            self.fill_mismatches.append(f"{coid}: fills reported for an order the broker does not have")
        if self.halts:
            limit = self.halts[0].occurred_at.timestamp() + self.halt_allowance_s
            self.after_halt = [f"{coid} created {t - limit + self.halt_allowance_s:+.3f}s after the halt"
                               for coid, t in self.created_at.items() if t > limit]
            self.approved_after_halt = [f"{a.order_id} issued {a.issued_at.timestamp() - limit:+.3f}s past allowance"
                                        for a in self.approvals.values() if a.issued_at.timestamp() > limit]
        self.undecided = [o for o in self.requested if o not in self.approvals and o not in self.rejected]
        self.settled = not (self.lost or self.stuck or self.fill_mismatches or self.undecided)


def _unusable(message: str) -> str | None:
    """Why an approval was legitimately never sent (the gateway's messages for it), else None."""
    text = message.lower()
    if "halted" in text:
        return "halted"
    if "expired" in text:
        return "expired"
    return None


class Observer:
    """Reads the evidence: incrementally from the streams, whole from the broker and the database."""

    def __init__(self, storm: Storm) -> None:
        self.storm = storm
        self.approvals: dict[UUID, RiskApproved] = {}
        self.rejected: set[UUID] = set()
        self.failures: dict[UUID, list[SubmissionFailed]] = {}
        self.fills: list[FillReported] = []
        self.halts: list[TradingStateChanged] = []
        self._next: dict[tuple[str, str], int] = {}

    async def settle(self, timeout: float) -> Verdict:
        deadline = time.monotonic() + timeout
        nc = await nats.connect(nats_servers(self.storm.rig.nats_url), max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        try:
            while True:
                try:
                    verdict = await self.collect(nc)
                except (nats.errors.TimeoutError, nats.errors.NoRespondersError, ServiceUnavailableError) as exc:
                    # the observer, not the system under test: a stream whose leader is still being elected after a
                    # server's restart does not answer for a moment; ask again until the deadline (nothing was
                    # consumed: a read that failed half-way is read again from where it started)
                    if time.monotonic() > deadline:
                        raise
                    print(f"observer: {type(exc).__name__} while reading the streams, asking again")
                    await asyncio.sleep(1.0)
                    continue
                if verdict.settled or time.monotonic() > deadline:
                    return verdict
                await asyncio.sleep(1.0)
        finally:
            await nc.close()

    async def collect(self, nc: Any) -> Verdict:
        js = nc.jetstream()
        for event in await self._read(js, "RISK", subject_filter("risk.approved")):
            self.approvals.setdefault(event.order_id, event)
        self.rejected |= {e.order_id for e in await self._read(js, "RISK", subject_filter("risk.rejected"))}
        for event in await self._read(js, "ORDERS", subject_filter("orders.failed")):
            self.failures.setdefault(event.order_id, []).append(event)
        self.fills += await self._read(js, "FILLS", subject_filter("fills"))
        self.halts += [e for e in await self._read(js, "CONTROL", TRADING_STATE) if e.state is TradingState.HALTED]
        dead_letters = len(await self._read(js, "DLQ", subject_filter("dlq"), decode=False))
        conn = await asyncpg.connect(self.storm.rig.database_url)
        try:
            rows = {r["order_id"]: dict(r) for r in await conn.fetch("SELECT * FROM order_gateway.orders")}
            duplicate_422 = [dict(r) for r in await conn.fetch(
                """SELECT * FROM order_gateway.broker_calls
                   WHERE http_status = 422 AND message ILIKE '%client_order_id%'""")]
        finally:
            await conn.close()
        return Verdict([r.order_id for r in self.storm.requested], set(self.rejected), dict(self.approvals), dict(self.failures), list(self.fills), await self._broker_orders(),
                       rows, duplicate_422, list(self.halts), dead_letters, self.storm.halt_allowance_s)

    async def _read(self, js: Any, stream: str, subject: str, *, decode: bool = True) -> list[Any]:
        """The messages of ``subject`` on ``stream`` not read yet."""
        key = (stream, subject)
        out: list[Any] = []
        seq = self._next.get(key, 1)
        while True:
            try:
                raw = await js.get_msg(stream, seq=seq, subject=subject, next=True)
            except NotFoundError:
                break
            out.append(decode_event(raw.data) if decode else raw.data)
            seq = raw.seq + 1
        self._next[key] = seq
        return out

    async def _broker_orders(self) -> list[dict[str, Any]]:
        """Every order the simulator holds, through its REST API, oldest first (pages of 500 by creation time)."""
        headers = {"APCA-API-KEY-ID": OBSERVER_KEY[0], "APCA-API-SECRET-KEY": OBSERVER_KEY[1]}
        seen: dict[str, dict[str, Any]] = {}
        after: str | None = None
        async with httpx.AsyncClient(base_url=self.storm.rig.sim.url, timeout=30, headers=headers) as http:
            while True:
                params = {"status": "all", "limit": 500, "direction": "asc"} | ({"after": after} if after else {})
                r = await http.get("/v2/orders", params=params)
                r.raise_for_status()
                page = r.json()
                fresh = [o for o in page if o["id"] not in seen]
                seen.update((o["id"], o) for o in page)
                if len(page) < 500 or not fresh:
                    return list(seen.values())
                # ``after`` is exclusive: one microsecond before the last one, so a tie on it is read again (kept once)
                last = parse_time(page[-1]["created_at"])
                after = (last - timedelta(microseconds=1)).isoformat().replace("+00:00", "Z")


# --- fixtures and hooks for the chaos tests ------------------------------------------------------------------------

HERE = Path(__file__).resolve().parent


@pytest.fixture
def chaos_orders() -> int:
    """How many orders each storm requests (``CHAOS_ORDERS``)."""
    return ORDERS


@pytest.fixture
def new_storm(order_requested: Callable[..., Any]) -> Callable[[str, Rig], Storm]:
    """``new_storm(name, rig)``: a storm whose orders are the root conftest's ``order_requested`` (market orders)."""

    def make(name: str, rig: Rig) -> Storm:
        return Storm(name, rig, order_requested)

    return make


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every chaos test may run as long as its storm needs (pytest-timeout's 120 s is the small suite's bound)."""
    for item in items:
        if Path(str(item.path)).resolve().is_relative_to(HERE):
            item.add_marker(pytest.mark.timeout(storm_timeout()))
