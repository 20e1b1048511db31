"""Running a whole local stack (`tradectl up`) from tests: a temp home, its output read until it is healthy."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

TRADECTL = str(Path(sys.executable).parent / "tradectl")


def stack_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh user: embedded servers (no NATS_URL/DATABASE_URL), this home."""
    env = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "DATABASE_URL"}}
    env["TRADEBUS_HOME"] = str(home)
    env.update(extra)
    return env


def exit_reason(proc: subprocess.Popen[bytes] | subprocess.Popen[str] | None) -> str | None:
    """For `wait_until_healthy`'s ``exited``: why a process started by a test is gone (None while it runs)."""
    if proc is None or proc.poll() is None:
        return None
    return f"exited with code {proc.returncode}"


def read_lines_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> list[str]:
    if proc.stdout is None:
        raise ValueError("read_lines_until needs a process started with stdout=subprocess.PIPE")
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    raise AssertionError(f"{marker!r} not seen; output so far:\n" + "\n".join(lines))


@contextmanager
def running_stack(home: Path, *args: str, timeout: float = 120) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """`tradectl up --ticket-port 0` in ``home``; yields (process, output so far); kills whatever is left after.

    ``home``'s parent is the caller's throw-away directory (``mkdtemp``: 0700). As root, PostgreSQL runs as an
    unprivileged user who must pass through it, and `up` never widens a directory it did not create: so it is
    opened here for passing through (o+x), and nothing above it."""
    if os.geteuid() == 0:
        home.parent.chmod(stat.S_IMODE(home.parent.stat().st_mode) | stat.S_IXOTH)
    proc = subprocess.Popen([TRADECTL, "up", "--ticket-port", "0", *args], env=stack_env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield proc, read_lines_until(proc, "Press Ctrl-C to stop", timeout)
    finally:
        if proc.poll() is None:
            for child in psutil.Process(proc.pid).children(recursive=True):
                child.kill()
            proc.kill()
            proc.wait()


def stack_endpoints(home: Path) -> dict[str, str]:
    """The running stack's ``endpoints.json`` as a test uses it: ``nats_url`` with the admin's user and password in
    it. The stack is secured (a NATS user per service); a test that places orders or reads streams acts as the admin,
    the break-glass identity, since it plays several parts (the ticket, an observer, the operator)."""
    import json

    from .identities import ensure_identities

    endpoints = json.loads((home / "endpoints.json").read_text())
    return {**endpoints, "nats_url": ensure_identities(home).admin_url(endpoints["nats_url"])}


async def wait_for_reference_data(nats_url: str, symbol: str = "AAPL", timeout: float = 20.0) -> None:
    """Until the gateway has put a quote for ``symbol`` and the account into REFDATA (risk rejects until then)."""
    import nats

    from tradebus_contracts.refdata import ACCOUNT_KEY, REFDATA_BUCKET, quote_key
    from tradebus_runtime.identity import nats_servers

    nc = await nats.connect(nats_servers(nats_url))
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                kv = await nc.jetstream().key_value(REFDATA_BUCKET)
                await kv.get(quote_key(symbol))
                await kv.get(ACCOUNT_KEY)
                return
            except Exception:
                await asyncio.sleep(0.2)
    finally:
        await nc.drain()
    raise AssertionError(f"no reference data for {symbol} within {timeout:.0f}s")
