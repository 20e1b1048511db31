"""How the operator's commands sign in: as the ``tradectl`` identity of the stack they found.

A stack started by ``tradectl up`` keeps the operator's NATS nkey seed and PostgreSQL password file under its home
(identities.py). Once a command has found its home (home.py), every connection it opens goes through
`nats_connect` / `pg_connect`, which add those; without them (a server of one's own through ``NATS_URL`` /
``DATABASE_URL``, or an unsecured one) they connect as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import nats
from nats.aio.client import Client as NatsClient

from tradebus_contracts.permissions import ADMIN
from tradebus_contracts.services import OPERATOR
from tradebus_runtime.identity import identity_options, nats_servers

from .identities import nats_seed_path, pg_role, secrets_dir, with_credentials


@dataclass(frozen=True)
class OperatorIdentity:
    seed_file: Path | None
    passfile: Path | None
    admin_password_file: Path | None = None  # break-glass acts only (``dlq replay``)


_current = OperatorIdentity(None, None)


def use_home(home: Path) -> None:
    """Sign in as the operator of the stack in ``home`` from now on (where its secrets exist)."""
    seed = nats_seed_path(secrets_dir(home), OPERATOR)
    passfile = secrets_dir(home) / "postgres" / f"{pg_role(OPERATOR)}.pgpass"
    admin = secrets_dir(home) / "nats" / f"{ADMIN}.password"
    use(OperatorIdentity(*(p if p.exists() else None for p in (seed, passfile, admin))))


def use(identity: OperatorIdentity) -> None:
    """Sign in as ``identity`` from now on (a worker process is handed its parent's `current`)."""
    global _current
    _current = identity


def current() -> OperatorIdentity:
    return _current


async def nats_connect(url: str, *, as_admin: bool = False, **options: Any) -> NatsClient:
    """Connect as the operator; ``as_admin``: as the unrestricted admin, for the acts only it may do (republishing
    another service's event: ``dlq replay``)."""
    if as_admin and _current.admin_password_file is not None:
        password = _current.admin_password_file.read_text().strip()
        return await nats.connect(nats_servers(with_credentials(url, ADMIN, password)), **options)
    return await nats.connect(nats_servers(url), **{**identity_options(OPERATOR, _current.seed_file), **options})


async def pg_connect(dsn: str, **options: Any) -> asyncpg.Connection:
    if _current.passfile is not None:
        options.setdefault("passfile", str(_current.passfile))
    return await asyncpg.connect(dsn, **options)
