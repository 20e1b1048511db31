"""Running a whole local stack (`tradectl up`) from tests: a temp home, its output read until it is healthy."""

from __future__ import annotations

import os
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


def read_lines_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
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
    """`tradectl up --ticket-port 0` in ``home``; yields (process, output so far); kills whatever is left after."""
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
