"""``tradectl status [--json]``: one look at a running stack.

`gather` does the I/O, once each: every service's health report (``health.<service>`` for every service of
``tradebus_contracts.services.Service``, the list ``tradectl up`` runs, all asked at once), every durable consumer on
the tradebus streams (``consumer_info``: pending = ``num_pending`` + ``num_ack_pending``, and ``delivered.last_active``,
when the consumer was last handed an event), the last ``TradingStateChanged`` on CONTROL (none: ACTIVE), the newest
``AuditCheckpoint`` on AUDIT_CHECKPOINTS and AUDIT's last sequence. Mode and broker come from ``endpoints.json``.
A durable consumer belongs to the service whose name it carries (``risk-service``, ``risk-service-fills``).

Everything printed is decided by pure functions of those facts (`service_rows`, `summary`, `render`, `as_json`,
`exit_code`), unit-tested with plain values. Exit 0 when every service reports ``ok``, 1 otherwise (one that does
not answer, or is starting, degraded or failing), 2 when NATS cannot be reached.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

import nats
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from tradebus_contracts import TradingState, TradingStateChanged
from tradebus_contracts.codec import decode
from tradebus_contracts.events import AuditCheckpoint
from tradebus_contracts.services import Service
from tradebus_contracts.streams import ALL_STREAMS, AUDIT, CONTROL
from tradebus_contracts.streams import AUDIT_CHECKPOINTS as CHECKPOINT_STREAM
from tradebus_contracts.subjects import AUDIT_CHECKPOINTS, TRADING_STATE
from tradebus_runtime import health

from . import access
from .home import FoundHome
from .plan import ALPACA_URLS, SIMULATOR
from .tables import text_table

SERVICES: tuple[str, ...] = tuple(Service)
NO_ANSWER = "no answer"
COLUMNS = ("SERVICE", "HEALTH", "UP", "CONSUMER", "STREAM", "PENDING", "LAST EVENT", "NOTE")


# --- the facts ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Consumer:
    """One durable consumer as JetStream reports it."""

    stream: str
    durable: str
    pending: int  # not delivered yet + delivered but not acknowledged
    last_active: datetime | None  # when it was last handed an event (None: never)


@dataclass(frozen=True)
class StatusFacts:
    """Everything `gather` found out; ``unreadable`` names what could not be read (shown, not fatal)."""

    now: datetime
    home: FoundHome
    nats_url: str
    nats_from_env: bool
    endpoints: Mapping[str, Any] | None
    health: Mapping[str, Mapping[str, Any] | None]  # per service, in SERVICES order; None: no answer
    consumers: tuple[Consumer, ...] = ()
    trading_state: TradingStateChanged | None = None  # None: never set, so ACTIVE
    checkpoint: AuditCheckpoint | None = None
    audit_last_seq: int | None = None
    unreadable: Mapping[str, str] = field(default_factory=dict)


# --- the pure part -----------------------------------------------------------------------------------------------


def ago(seconds: float | None) -> str:
    """A compact age: ``0s``, ``42s``, ``5m``, ``3h``, ``2d`` (``-`` when unknown)."""
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


def owner(durable: str, services: Sequence[str] = SERVICES) -> str | None:
    """The service a durable consumer belongs to: ``risk-service-fills`` -> ``risk-service`` (longest name wins)."""
    matches = [s for s in services if durable == s or durable.startswith(f"{s}-")]
    return max(matches, key=len, default=None)


def health_status(report: Mapping[str, Any] | None) -> str:
    return NO_ANSWER if report is None else str(report.get("status", "?"))


def is_healthy(report: Mapping[str, Any] | None) -> bool:
    return health_status(report) == "ok"


def problems(report: Mapping[str, Any] | None) -> list[str]:
    """What is wrong, from the report: each failing check by name, each degraded one with its reason."""
    if report is None:
        return []
    degraded: Mapping[str, str] = report.get("degraded") or {}
    checks: Mapping[str, bool] = report.get("checks") or {}
    failing = [f"{name} failing" for name, passed in checks.items() if not passed and name not in degraded]
    return failing + [f"{name}: {reason}" for name, reason in degraded.items()]


@dataclass(frozen=True)
class ServiceRow:
    """One line of the table: a service and one of its durable consumers (or none)."""

    service: str
    health: str
    uptime_s: float | None
    consumer: Consumer | None
    last_event_age_s: float | None
    note: str


def service_rows(facts: StatusFacts) -> list[ServiceRow]:
    """A row per durable consumer of each service (a service without one gets a single row), services in order."""
    rows: list[ServiceRow] = []
    for service, report in facts.health.items():
        status = health_status(report)
        uptime = report.get("uptime_s") if report is not None else None
        note = "; ".join(problems(report))
        mine = sorted((c for c in facts.consumers if owner(c.durable, tuple(facts.health)) == service),
                      key=lambda c: c.durable)
        for consumer in mine or [None]:
            age = None
            if consumer is not None and consumer.last_active is not None:
                age = (facts.now - consumer.last_active).total_seconds()
            rows.append(ServiceRow(service, status, uptime if isinstance(uptime, int | float) else None, consumer,
                                   age, note))
    return rows


def exit_code(facts: StatusFacts) -> int:
    return 0 if all(is_healthy(r) for r in facts.health.values()) else 1


def broker_kind(url: str) -> str:
    return "Alpaca" if url in ALPACA_URLS.values() else SIMULATOR


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def trading_state_text(facts: StatusFacts) -> str:
    if "trading_state" in facts.unreadable:
        return f"UNKNOWN ({facts.unreadable['trading_state']})"
    change = facts.trading_state
    if change is None:
        return f"{TradingState.ACTIVE.value.upper()} (never changed)"
    when = f"{_utc(change.occurred_at)}, {ago((facts.now - change.occurred_at).total_seconds())} ago"
    return f"{change.state.value.upper()}: {change.reason} (by {change.changed_by}, {when})"


def checkpoint_text(facts: StatusFacts) -> str:
    if "checkpoint" in facts.unreadable:
        return f"unknown ({facts.unreadable['checkpoint']})"
    head = "" if facts.audit_last_seq is None else f"; AUDIT at seq {facts.audit_last_seq}"
    cp = facts.checkpoint
    if cp is None:
        return f"none yet{head}"
    age = ago((facts.now - cp.signed_at).total_seconds())
    return f"seq {cp.seq}, signed {_utc(cp.signed_at)} ({age} ago, key {cp.key_id}){head}"


def summary(facts: StatusFacts) -> list[tuple[str, str]]:
    """The stack-wide facts above the table, as (label, value)."""
    endpoints = facts.endpoints or {}
    running = "" if facts.endpoints is not None else ": no endpoints.json (no stack started here)"
    broker = str(endpoints.get("broker_url") or "")
    return [
        ("home", f"{facts.home.path} ({facts.home.how()}){running}"),
        ("nats", facts.nats_url + (" ($NATS_URL)" if facts.nats_from_env else "")),
        ("mode", str(endpoints.get("mode") or "-").upper()),
        ("broker", f"{broker} ({broker_kind(broker)})" if broker else "-"),
        ("trading state", trading_state_text(facts)),
        ("audit checkpoint", checkpoint_text(facts)),
    ]


def render(facts: StatusFacts) -> str:
    pairs = summary(facts)
    width = max(len(label) for label, _ in pairs)
    out = [f"{label.ljust(width)}  {value}" for label, value in pairs]
    cells = []
    previous = None
    for row in service_rows(facts):
        first = row.service != previous
        previous = row.service
        c = row.consumer
        cells.append((row.service if first else "", row.health if first else "",
                      ago(row.uptime_s) if first and row.uptime_s is not None else "",
                      c.durable if c else "-", c.stream if c else "", str(c.pending) if c else "",
                      ago(row.last_event_age_s) + " ago" if row.last_event_age_s is not None else ("never" if c else ""),
                      row.note if first else ""))
    out += ["", *text_table(COLUMNS, cells, right={2, 5, 6})]
    unhealthy = [s for s, r in facts.health.items() if not is_healthy(r)]
    out += ["", f"NOT HEALTHY: {', '.join(unhealthy)}" if unhealthy else f"all {len(facts.health)} services healthy"]
    return "\n".join(out)


def as_json(facts: StatusFacts) -> dict[str, Any]:
    endpoints = facts.endpoints or {}
    services = []
    for service, report in facts.health.items():
        rows = [r for r in service_rows(facts) if r.service == service and r.consumer is not None]
        services.append({
            "service": service,
            "status": health_status(report),
            "healthy": is_healthy(report),
            "problems": problems(report),
            "consumers": [{"durable": r.consumer.durable, "stream": r.consumer.stream, "pending": r.consumer.pending,
                           "last_active": r.consumer.last_active.isoformat() if r.consumer.last_active else None,
                           "last_event_age_s": r.last_event_age_s} for r in rows if r.consumer is not None],
            "report": report,
        })
    cp = facts.checkpoint
    return {
        "as_of": facts.now.isoformat(),
        "home": {"path": str(facts.home.path), "how": facts.home.how()},
        "nats_url": facts.nats_url,
        "mode": endpoints.get("mode"),
        "broker_url": endpoints.get("broker_url"),
        "trading_state": _trading_state_json(facts),
        "audit": {
            "checkpoint_seq": cp.seq if cp else None,
            "checkpoint_signed_at": cp.signed_at.isoformat() if cp else None,
            "checkpoint_key_id": cp.key_id if cp else None,
            "audit_last_seq": facts.audit_last_seq,
        },
        "unreadable": dict(facts.unreadable),
        "services": services,
        "healthy": exit_code(facts) == 0,
    }


def _trading_state_json(facts: StatusFacts) -> dict[str, Any]:
    if "trading_state" in facts.unreadable:
        return {"state": None, "error": facts.unreadable["trading_state"]}
    change = facts.trading_state
    if change is None:
        return {"state": TradingState.ACTIVE.value, "reason": None, "changed_by": None, "changed_at": None}
    return {"state": change.state.value, "reason": change.reason, "changed_by": change.changed_by,
            "changed_at": change.occurred_at.isoformat()}


# --- the I/O -----------------------------------------------------------------------------------------------------


@dataclass
class _Read:
    consumers: list[Consumer] = field(default_factory=list)
    trading_state: TradingStateChanged | None = None
    checkpoint: AuditCheckpoint | None = None
    audit_last_seq: int | None = None
    unreadable: dict[str, str] = field(default_factory=dict)


async def _consumers(js: JetStreamContext) -> list[Consumer]:
    found = []
    for stream in ALL_STREAMS:
        try:
            infos = await js.consumers_info(stream.name)
        except NotFoundError:
            continue
        for info in infos:
            if not info.config.durable_name:
                continue  # an ephemeral reader (tail, the audit recorder): nobody's backlog
            last = info.delivered.last_active if info.delivered else None
            found.append(Consumer(stream.name, info.config.durable_name,
                                  (info.num_pending or 0) + (info.num_ack_pending or 0), last))
    return found


async def _read_streams(js: JetStreamContext) -> _Read:
    read = _Read(consumers=await _consumers(js))
    try:
        last = await js.get_last_msg(CONTROL.name, TRADING_STATE)
        read.trading_state = decode(last.data or b"", TradingStateChanged)
    except NotFoundError:
        pass  # never set: ACTIVE (what the risk service assumes too)
    except Exception as exc:
        read.unreadable["trading_state"] = f"{type(exc).__name__}: {exc}"
    try:
        last = await js.get_last_msg(CHECKPOINT_STREAM.name, AUDIT_CHECKPOINTS)
        read.checkpoint = decode(last.data or b"", AuditCheckpoint)
    except NotFoundError:
        pass  # none signed yet
    except Exception as exc:
        read.unreadable["checkpoint"] = f"{type(exc).__name__}: {exc}"
    try:
        read.audit_last_seq = (await js.stream_info(AUDIT.name)).state.last_seq
    except Exception:
        read.audit_last_seq = None
    return read


async def gather(nats_url: str, nats_from_env: bool, home: FoundHome, endpoints: Mapping[str, Any] | None,
                 services: Sequence[str] = SERVICES) -> StatusFacts:
    async def quiet(_exc: Exception) -> None:  # a failed connect is reported once, by the command
        return None

    nc = await access.nats_connect(nats_url, name="tradectl-status", connect_timeout=5, max_reconnect_attempts=1,
                            error_cb=quiet)
    try:
        reports, read = await asyncio.gather(
            asyncio.gather(*(health.ask(nc, s, timeout=2.0) for s in services)),
            _read_streams(nc.jetstream(timeout=5)))
    finally:
        await nc.close()
    return StatusFacts(now=datetime.now(UTC), home=home, nats_url=nats_url, nats_from_env=nats_from_env,
                       endpoints=endpoints, health=dict(zip(services, reports)), consumers=tuple(read.consumers),
                       trading_state=read.trading_state, checkpoint=read.checkpoint,
                       audit_last_seq=read.audit_last_seq, unreadable=read.unreadable)


def run_status(nats_url: str, nats_from_env: bool, home: FoundHome, endpoints: Mapping[str, Any] | None,
               as_json_out: bool, out: TextIO = sys.stdout) -> int:
    try:
        facts = asyncio.run(gather(nats_url, nats_from_env, home, endpoints))
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        print(f"tradectl status: cannot reach NATS at {nats_url} ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 2
    print(json.dumps(as_json(facts), indent=2) if as_json_out else render(facts), file=out)
    return exit_code(facts)
