"""What stands in front of every Alpaca route: credentials, the per-key rate limit and injected faults."""

from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass
from typing import Any, Callable

from .errors import RATE_LIMITED, UNAUTHORIZED, BrokerError, invalid


class Credentials:
    """Any key pair is let in (a sandbox) unless the simulator was started with a fixed pair."""

    def __init__(self, key_id: str | None = None, secret_key: str | None = None) -> None:
        self.key_id, self.secret_key = key_id, secret_key

    def check(self, key_id: str | None, secret_key: str | None) -> str:
        if not key_id or not secret_key:
            raise BrokerError(401, UNAUTHORIZED, "request is not authorized")
        if self.key_id is not None and (key_id != self.key_id or secret_key != self.secret_key):
            raise BrokerError(401, UNAUTHORIZED, "request is not authorized")
        return key_id


class RateLimiter:
    """Alpaca's per-key budget of requests per minute, in fixed one-minute windows."""

    def __init__(self, per_minute: int = 200, clock: Callable[[], float] = time.time) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._windows: dict[str, tuple[int, int]] = {}

    def hit(self, key: str) -> dict[str, str]:
        now = self._clock()
        window = int(now // 60)
        start, used = self._windows.get(key, (window, 0))
        if start != window:
            start, used = window, 0
        used += 1
        self._windows[key] = (start, used)
        headers = {
            "X-RateLimit-Limit": str(self.per_minute),
            "X-RateLimit-Remaining": str(max(self.per_minute - used, 0)),
            "X-RateLimit-Reset": str((start + 1) * 60),
        }
        if used > self.per_minute:
            raise BrokerError(429, RATE_LIMITED, "rate limit exceeded", _headers=headers)
        return headers

    def reset(self) -> None:
        self._windows.clear()


@dataclass
class Fault:
    method: str
    path: str
    status: int | None
    times: int
    delay_ms: int
    after_effect: bool

    def matches(self, method: str, path: str) -> bool:
        if self.method not in ("*", method):
            return False
        if any(c in self.path for c in "*?["):
            return fnmatch.fnmatchcase(path, self.path)
        return path.startswith(self.path)

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "status": self.status, "times": self.times,
                "delay_ms": self.delay_ms, "after_effect": self.after_effect}


def parse_fault(body: Any) -> Fault:
    """POST /admin/faults body. `times` 0 = until cleared; no `status` = latency only."""
    if not isinstance(body, dict):
        raise invalid("request body must be a JSON object")
    path = body.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise invalid("path must start with /")
    method = str(body.get("method") or "*").upper()
    status, times, delay = body.get("status"), body.get("times", 1), body.get("delay_ms", 0)
    for name, value in (("status", status), ("times", times), ("delay_ms", delay)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise invalid(f"{name} must be a non-negative integer")
    if status is not None and not 400 <= status <= 599:
        raise invalid("status must be an HTTP error status (400-599)")
    if status is None and not delay:
        raise invalid("a fault needs a status, a delay_ms, or both")
    after_effect = body.get("after_effect", False)
    if not isinstance(after_effect, bool):
        raise invalid("after_effect must be a boolean")
    return Fault(method, path, status, 1 if times is None else times, delay or 0, after_effect)


class FaultBook:
    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self.faults.append(fault)

    def clear(self) -> None:
        self.faults.clear()

    def take(self, method: str, path: str, after_effect: bool | None = None) -> Fault | None:
        """The first matching fault, used up by one request (times 0 never runs out)."""
        for fault in self.faults:
            if after_effect is not None and fault.after_effect != after_effect:
                continue
            if fault.matches(method, path):
                if fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                return fault
        return None


def fault_error(status: int) -> BrokerError:
    return BrokerError(status, status * 100000 if status < 1000 else status, f"injected fault: HTTP {status}")


