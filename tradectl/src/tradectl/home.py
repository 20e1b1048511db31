"""``$TRADEBUS_HOME``: where the local stack keeps its data, logs, lock and ``endpoints.json``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ENDPOINT_KEYS = ("nats_url", "database_url", "ticket_url", "webhook_url", "broker_url", "mode")


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """--home, else $TRADEBUS_HOME, else ./.tradebus; always absolute."""
    raw = explicit or os.environ.get("TRADEBUS_HOME") or ".tradebus"
    return Path(raw).expanduser().resolve()


def endpoints_path(home: Path) -> Path:
    return home / "endpoints.json"


def write_endpoints(home: Path, endpoints: dict[str, str]) -> Path:
    """Write atomically (temp file + rename): a reader never sees half a file."""
    missing = [k for k in ENDPOINT_KEYS if k not in endpoints]
    if missing:
        raise ValueError(f"endpoints.json would lack {missing}")
    path = endpoints_path(home)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(endpoints, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def read_endpoints(home: Path) -> dict[str, Any] | None:
    path = endpoints_path(home)
    if not path.exists():
        return None
    return json.loads(path.read_text())


def endpoint_for_cli(key: str, env_var: str, home_arg: str | None = None) -> str:
    """For operator commands: ``$ENV_VAR``, else the running stack's endpoints.json, else a clear error."""
    if os.environ.get(env_var):
        return os.environ[env_var]
    home = resolve_home(home_arg)
    endpoints = read_endpoints(home)
    if endpoints is None or not endpoints.get(key):
        raise SystemExit(
            f"tradectl: no {env_var} set and no running stack found ({endpoints_path(home)} does not exist); "
            f"start one with `make up` or set {env_var}"
        )
    return str(endpoints[key])


def nats_url_for_cli(home_arg: str | None = None) -> str:
    return endpoint_for_cli("nats_url", "NATS_URL", home_arg)


def database_url_for_cli(home_arg: str | None = None) -> str:
    return endpoint_for_cli("database_url", "DATABASE_URL", home_arg)
