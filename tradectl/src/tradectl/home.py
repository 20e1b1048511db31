"""``$TRADEBUS_HOME``: where the local stack keeps its data, logs, lock and ``endpoints.json``, and how a command
finds it: ``--home``, else ``$TRADEBUS_HOME``, else the nearest ``.tradebus/`` from the current directory up (as git
finds ``.git/``), else ``./.tradebus`` (where ``tradectl up`` makes a new one)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from . import access

ENDPOINT_KEYS = ("nats_url", "database_url", "ticket_url", "webhook_url", "broker_url", "mode")
HOME_DIR = ".tradebus"

HomeSource = Literal["--home", "TRADEBUS_HOME", "found", "default"]


@dataclass(frozen=True)
class FoundHome:
    """Which home a command uses and how it was chosen. ``searched``: the directories where a ``.tradebus/`` was
    looked for, from the current one up (empty when ``--home`` or ``$TRADEBUS_HOME`` named it)."""

    path: Path
    source: HomeSource
    searched: tuple[Path, ...] = ()

    def how(self) -> str:
        """How the home was chosen, for the operator: ``--home``, ``$TRADEBUS_HOME``, ``nearest .tradebus/ up
        from /x/y``, or ``./.tradebus (none found)``."""
        if self.source == "--home":
            return "--home"
        if self.source == "TRADEBUS_HOME":
            return "$TRADEBUS_HOME"
        if self.source == "found":
            return f"nearest {HOME_DIR}/ up from {self.searched[0]}"
        return f"./{HOME_DIR} (no {HOME_DIR}/ found)"


def locate_home(explicit: str | os.PathLike[str] | None = None, *, cwd: Path | None = None,
                environ: Mapping[str, str] | None = None) -> FoundHome:
    """--home, else $TRADEBUS_HOME, else the nearest ``.tradebus/`` directory from ``cwd`` up, else ``cwd/.tradebus``;
    always absolute. ``cwd`` and ``environ`` default to the process's own."""
    env = os.environ if environ is None else environ
    if explicit:
        return FoundHome(Path(explicit).expanduser().resolve(), "--home")
    if env.get("TRADEBUS_HOME"):
        return FoundHome(Path(env["TRADEBUS_HOME"]).expanduser().resolve(), "TRADEBUS_HOME")
    start = (cwd or Path.cwd()).resolve()
    searched = (start, *start.parents)
    for depth, directory in enumerate(searched):
        if (directory / HOME_DIR).is_dir():
            return FoundHome((directory / HOME_DIR).resolve(), "found", searched[:depth + 1])
    return FoundHome(start / HOME_DIR, "default", searched)


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The home every command uses (see `locate_home`); ``tradectl up`` makes ``./.tradebus`` when none is found."""
    return locate_home(explicit).path


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
    """For operator commands: ``$ENV_VAR``, else the running stack's endpoints.json (and from then on the operator's
    identity kept in that home: `access`), else a clear error."""
    if os.environ.get(env_var):
        return os.environ[env_var]
    found = locate_home(home_arg)
    endpoints = read_endpoints(found.path)
    if endpoints is None or not endpoints.get(key):
        raise SystemExit(no_stack_message(found, env_var))
    access.use_home(found.path)  # its servers know the operator by the secrets kept in that home
    return str(endpoints[key])


def no_stack_message(found: FoundHome, env_var: str) -> str:
    """Where a command looked for a running stack, and how to point it at one."""
    head = f"tradectl: no {env_var} set and no running stack found"
    another = "or point tradectl at another with --home DIR or TRADEBUS_HOME=DIR"
    missing = f"{endpoints_path(found.path)} does not exist"
    if found.source in ("--home", "TRADEBUS_HOME"):
        return (f"{head} in {found.path} (from {found.how()}): {missing}; start one there with "
                f"`tradectl up --home {found.path}` (`make up` uses ./.tradebus), {another}")
    if found.source == "found":
        return (f"{head} in {found.path} (the {found.how()}): {missing}; start it with `make up` (or `tradectl up`) "
                f"in {found.searched[-1]}, {another}")
    return (f"{head}: --home not given, TRADEBUS_HOME not set, and no {HOME_DIR}/ directory in {found.searched[0]} "
            f"or any directory above it; point tradectl at one with --home DIR or TRADEBUS_HOME=DIR (or set "
            f"{env_var}), or start one with `make up`")


def nats_url_for_cli(home_arg: str | None = None) -> str:
    return endpoint_for_cli("nats_url", "NATS_URL", home_arg)


def database_url_for_cli(home_arg: str | None = None) -> str:
    return endpoint_for_cli("database_url", "DATABASE_URL", home_arg)
