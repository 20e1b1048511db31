"""The plan of a local stack: what ``tradectl up`` runs, decided without running anything.

`plan_stack` turns `StackFacts` (URLs, ports, the signing key, where the binaries are: gathered beforehand by
``up.py``, which does the I/O) into a `StackPlan`: every child with its argv, environment, log file, health check
and stop group, and the content of ``endpoints.json``. It is pure (no processes, sockets, files or clock), so
what runs with which settings is unit-tested with plain values; ``supervisor.py`` runs the result, and ``up.py``
makes the one request the plan asks for after start-up (the simulator's webhooks to webhook-ingest).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from tradebus_contracts.services import OPERATOR, Service
from tradebus_runtime.vault import ENV_MASTER_KEY

from .identities import StackIdentities, pg_role
from .keys import SigningKeyFiles

Mode = Literal["paper", "live"]
BrokerKind = Literal["simulator", "alpaca"]

SIMULATOR = "alpaca-sim"
ALPACA_URLS: Mapping[Mode, str] = MappingProxyType(
    {"live": "https://api.alpaca.markets", "paper": "https://paper-api.alpaca.markets"}
)
SERVICE_STOP_S = 7.0
SIMULATOR_STOP_S = 2.0
# Services stop first: they still talk to the broker while they drain.
SERVICES_STOP_GROUP = 0
SIMULATOR_STOP_GROUP = 1
# The children that may inherit the credential vault's master key (TRADEBUS_MASTER_KEY) from the runner: only the
# order gateway decrypts broker credentials (order_gateway.credentials.resolve_credentials); no other child gets it.
MASTER_KEY_READERS = frozenset({Service.GATEWAY.value})


@dataclass(frozen=True)
class StackFacts:
    """What the plan depends on, found out by I/O before planning."""

    home: Path
    mode: Mode
    nats_url: str
    database_url: str
    broker: BrokerKind
    broker_url: str  # the simulator's URL, or Alpaca's API for the mode (ALPACA_URLS)
    ticket_port: int
    webhook_port: int
    signing_key: SigningKeyFiles
    audit_key: SigningKeyFiles  # the audit recorder's checkpoint key pair (tradectl audit verify trusts its .pub)
    webhook_secret_path: Path  # the 0600 file of webhook-ingest's whsec_ secret (the simulator signs with it too)
    bin_dir: Path  # where the console scripts of the services and the simulator are installed
    base_env: Mapping[str, str]  # the runner's own environment, which every child inherits (the master key: one)
    # the stack's identities when its NATS / PostgreSQL are the embedded, secured ones (None: servers of the user's
    # own, through NATS_URL / DATABASE_URL, reached as configured there)
    nats_identities: StackIdentities | None = None
    pg_identities: StackIdentities | None = None


@dataclass(frozen=True)
class NatsHealth:
    """Healthy when the child answers ``health.<name>`` on this NATS with status ok (the services); asked as the
    operator (``seed_file``) on a secured server."""

    nats_url: str
    seed_file: Path | None = None


@dataclass(frozen=True)
class HttpHealth:
    """Healthy when this URL answers 200 (the simulator, which is not on NATS)."""

    url: str


@dataclass(frozen=True)
class ChildPlan:
    """One process to run: the supervisor starts, restarts and stops it exactly as described here."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    log_path: Path
    health: NatsHealth | HttpHealth
    stop_group: int  # lower groups are stopped (and waited for) first
    stop_timeout_s: float  # SIGTERM, then SIGKILL after this long


@dataclass(frozen=True)
class WebhookSubscription:
    """Once the simulator and webhook-ingest are healthy: ask the simulator (``POST {admin_url}``) to deliver every
    trade update to ``target_url``, signed with the secret in ``secret_path``."""

    admin_url: str
    target_url: str
    secret_path: Path


@dataclass(frozen=True)
class StackPlan:
    simulator: ChildPlan | None  # None when Alpaca itself is the broker
    services: tuple[ChildPlan, ...]  # in start order
    webhooks: WebhookSubscription | None  # the simulator's fill webhooks to webhook-ingest (None with Alpaca)
    endpoints: Mapping[str, str]  # what endpoints.json says once everything is healthy
    logs_dir: Path
    directories: tuple[Path, ...]  # to exist before any child starts


def logs_dir(home: Path) -> Path:
    return home / "logs"


def plan_stack(facts: StackFacts) -> StackPlan:
    simulator = _simulator(facts) if facts.broker == "simulator" else None
    state_dirs = () if simulator is None else (_simulator_state(facts.home).parent,)
    endpoints = _endpoints(facts)
    webhooks = None if simulator is None else WebhookSubscription(
        f"{facts.broker_url}/admin/webhooks", endpoints["webhook_url"], facts.webhook_secret_path)
    return StackPlan(
        simulator=simulator,
        services=_services(facts),
        webhooks=webhooks,
        endpoints=MappingProxyType(endpoints),
        logs_dir=logs_dir(facts.home),
        directories=(logs_dir(facts.home), *state_dirs),
    )


def _endpoints(facts: StackFacts) -> dict[str, str]:
    return {
        "nats_url": facts.nats_url,
        "database_url": _database_url(facts, OPERATOR),  # the operator's role; its password stays in the home
        "ticket_url": f"http://127.0.0.1:{facts.ticket_port}",
        "webhook_url": f"http://127.0.0.1:{facts.webhook_port}/webhooks/fills",
        "broker_url": facts.broker_url,
        "mode": facts.mode,
    }


def _services(facts: StackFacts) -> tuple[ChildPlan, ...]:
    common = {
        "NATS_URL": facts.nats_url,
        "TRADEBUS_HOME": str(facts.home),
        "TRADEBUS_MODE": facts.mode,
        "TRADEBUS_BROKER": facts.broker,
        "PYTHONUNBUFFERED": "1",
    }
    gateway_env = {"GATEWAY_TRUSTED_KEYS": facts.signing_key.public_b64}
    if facts.broker == "simulator":
        gateway_env["BROKER_URL"] = facts.broker_url
    # (service, extra arguments, extra environment), in start order
    services: list[tuple[Service, list[str], dict[str, str]]] = [
        # first: the audit trail is written from the first event on (it reads AUDIT from the start anyway)
        (Service.AUDIT_RECORDER, [], {"AUDIT_SIGNING_KEY_PATH": str(facts.audit_key.private_path)}),
        (Service.RISK, [], {"RISK_SIGNING_KEY_PATH": str(facts.signing_key.private_path)}),
        (Service.GATEWAY, ["--live"] if facts.mode == "live" else [], gateway_env),
        (Service.POSITION_SYNC, [], {}),
        (Service.WEBHOOK_INGEST, [], {"WEBHOOK_PORT": str(facts.webhook_port),
                                      "WEBHOOK_SECRETS_FILE": str(facts.webhook_secret_path)}),
        (Service.TICKET_API, [], {"TICKET_PORT": str(facts.ticket_port)}),
    ]
    health = NatsHealth(facts.nats_url, _seed_file(facts, OPERATOR))
    return tuple(
        _child(facts, str(name), args, {**common, **_identity_env(facts, name), **extra}, health,
               SERVICES_STOP_GROUP, SERVICE_STOP_S)
        for name, args, extra in services
    )


def _identity_env(facts: StackFacts, identity: str) -> dict[str, str]:
    """The child's own way in, and no one else's: its database URL (its role, no password), its password file, its
    NATS seed file."""
    env = {"DATABASE_URL": _database_url(facts, identity)}
    if facts.pg_identities is not None:
        env["PGPASSFILE"] = str(facts.pg_identities.pgpass_file(pg_role(identity)))
    seed = _seed_file(facts, identity)
    if seed is not None:
        env["NATS_NKEY_SEED_FILE"] = str(seed)
    return env


def _seed_file(facts: StackFacts, identity: str) -> Path | None:
    return facts.nats_identities.seed_file(identity) if facts.nats_identities is not None else None


def _database_url(facts: StackFacts, identity: str) -> str:
    """``facts.database_url`` as ``identity``'s role when the database is the secured embedded one."""
    if facts.pg_identities is None:
        return facts.database_url
    parts = urlsplit(facts.database_url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{pg_role(identity)}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _simulator(facts: StackFacts) -> ChildPlan:
    url = urlsplit(facts.broker_url)
    args = ["--host", str(url.hostname), "--port", str(url.port), "--state", str(_simulator_state(facts.home))]
    return _child(facts, SIMULATOR, args, {"PYTHONUNBUFFERED": "1"}, HttpHealth(f"{facts.broker_url}/admin/health"),
                  SIMULATOR_STOP_GROUP, SIMULATOR_STOP_S)


def _simulator_state(home: Path) -> Path:
    return home / SIMULATOR / "state.json"


# Ways in that a child never inherits from the runner: each gets its own (`_identity_env`) or none.
NOT_INHERITED = frozenset({"NATS_NKEY_SEED_FILE", "PGPASSFILE", "PGPASSWORD", "DATABASE_URL"})


def _child(facts: StackFacts, name: str, args: list[str], env: dict[str, str], health: NatsHealth | HttpHealth,
           stop_group: int, stop_timeout_s: float) -> ChildPlan:
    inherited = {k: v for k, v in facts.base_env.items()
                 if (k != ENV_MASTER_KEY or name in MASTER_KEY_READERS) and k not in NOT_INHERITED}
    return ChildPlan(
        name=name,
        argv=(str(facts.bin_dir / name), *args),
        env=MappingProxyType({**inherited, **env}),
        log_path=logs_dir(facts.home) / f"{name}.log",
        health=health,
        stop_group=stop_group,
        stop_timeout_s=stop_timeout_s,
    )
