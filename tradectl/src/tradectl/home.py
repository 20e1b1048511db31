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


def nats_url_for_cli(home_arg: str | None = None) -> str:
    """NATS for operator commands: $NATS_URL, else the running stack's endpoints.json, else a clear error."""
    if os.environ.get("NATS_URL"):
        return os.environ["NATS_URL"]
    home = resolve_home(home_arg)
    endpoints = read_endpoints(home)
    if endpoints is None:
        raise SystemExit(
            f"tradectl: no NATS_URL set and no running stack found ({endpoints_path(home)} does not exist); "
            "start one with `make up` or set NATS_URL"
        )
    return str(endpoints["nats_url"])
