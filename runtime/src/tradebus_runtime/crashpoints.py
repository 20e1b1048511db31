"""Named crash points: ``kill -9`` of the process at an exact step, for the chaos suite (tests/chaos/).

A random ``kill -9`` rarely lands between two particular statements. The steps where a crash is hardest to survive
are named in the code — ``crash_point("gateway.before_post")`` — and the ``TRADEBUS_CRASH_POINTS`` setting arms
them: ``name:N`` (comma-separated) makes the process send itself ``SIGKILL`` the N-th time it passes that point in
this life (the supervisor starts it again, and the count starts over, so an armed point strikes again every N
passes). Unset — always, outside the chaos suite — a point is one dictionary lookup and nothing else.

The signal is the real one: no ``finally`` runs, no buffer is flushed, no socket closed politely, exactly as when
an operator or the OOM killer ends the process. (The idea is FoundationDB's BUGGIFY, cut down to what we need.) Just
before it, the point says which it was: one JSON line (``"event": "crash_point.struck"``, the point, the pass) in a
single unbuffered write to stderr, on a line of its own — so the log of the life it ends says why it ended, and a
chaos storm can count its deaths by point.
"""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from datetime import UTC, datetime

__all__ = ["CRASH_POINTS_ENV", "crash_point", "parse_crash_points"]

CRASH_POINTS_ENV = "TRADEBUS_CRASH_POINTS"


def parse_crash_points(text: str) -> dict[str, int]:
    """``"gateway.before_post:5,gateway.after_post:7"`` -> ``{"gateway.before_post": 5, ...}``."""
    armed: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, every = item.rpartition(":")
        if not sep or not name or not every.isdigit() or int(every) < 1:
            raise ValueError(f"{CRASH_POINTS_ENV}: {item!r} is not name:N with N >= 1")
        armed[name] = int(every)
    return armed


_ARMED = parse_crash_points(os.environ.get(CRASH_POINTS_ENV, ""))
_passes: Counter[str] = Counter()


def crash_point(name: str) -> None:
    """Die here (SIGKILL to ourselves) if this point is armed and its turn has come."""
    every = _ARMED.get(name)
    if every is None:
        return
    _passes[name] += 1
    if _passes[name] % every == 0:
        _say_struck(name, _passes[name])
        os.kill(os.getpid(), signal.SIGKILL)


def _say_struck(name: str, passes: int) -> None:
    """The last word of the life: which point, written past every buffer (the kill follows at once)."""
    line = json.dumps({"event": "crash_point.struck", "point": name, "pass": passes, "pid": os.getpid(),
                       "level": "critical", "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z")})
    os.write(2, f"\n{line}\n".encode())
