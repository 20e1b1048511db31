"""Structured JSON logging with secret redaction.

Every log line is one JSON object (structlog). Two things keep secrets out of the logs:

* keys that name secret material (``*key*``, ``*secret*``, ``*token*``, ``*password*``, ``*signature*``...)
  have their values replaced by ``"[REDACTED]"`` wherever they appear, nested dicts included;
* any value registered with `register_secret` is masked wherever it appears inside any string value,
  exception text and tracebacks included (a broker error that echoes a key id is caught here).

Tracebacks are rendered without local variables (``show_locals=False``): locals are where secrets hide.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any

import structlog

REDACTED = "[REDACTED]"

# Key names whose values are secret material. Matching is on the lower-cased key.
_SECRET_KEY_PATTERN = re.compile(
    r"(secret|password|passwd|token|api[_-]?key|key[_-]?id|private|signature|authorization|credential|master[_-]?key"
    r"|^key$|_key$|^apca)",
)
# Key names that contain "key" but hold no secret (ids of public things).
_PUBLIC_KEYS = frozenset({"key_id", "signing_key_id", "kid", "idempotency_key", "public_key", "public_keys"})

_registered: set[str] = set()
_registered_pattern: re.Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """Mask ``value`` wherever it appears in a log line from now on (ignored if shorter than 4 characters)."""
    global _registered_pattern
    if not value or len(value) < 4 or value in _registered:
        return
    _registered.add(value)
    alternatives = sorted(_registered, key=len, reverse=True)
    _registered_pattern = re.compile("|".join(re.escape(s) for s in alternatives))


def clear_registered_secrets() -> None:
    """Forget registered secrets (tests only)."""
    global _registered_pattern
    _registered.clear()
    _registered_pattern = None


def is_secret_key(name: str) -> bool:
    lowered = name.lower()
    return lowered not in _PUBLIC_KEYS and bool(_SECRET_KEY_PATTERN.search(lowered))


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        if _registered_pattern is not None:
            return _registered_pattern.sub(REDACTED, value)
        return value
    if isinstance(value, Mapping):
        return {k: (REDACTED if isinstance(k, str) and is_secret_key(k) else _scrub(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_scrub(v) for v in value]
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return _scrub(str(value))


def redact_secrets(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the last line of defence before a line is written."""
    return {k: (REDACTED if is_secret_key(k) else _scrub(v)) for k, v in event_dict.items()}


def configure_logging(service: str, level: str = "info", fmt: str = "json", stream: Any = None) -> None:
    """Configure structlog (and the stdlib root logger, for libraries) for one process."""
    numeric = getattr(logging, level.upper())
    out = stream if stream is not None else sys.stdout
    renderer: Any
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    else:
        renderer = structlog.processors.JSONRenderer()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.ExceptionRenderer(structlog.tracebacks.ExceptionDictTransformer(show_locals=False)),
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries (asyncpg, nats, uvicorn) log through the stdlib: send their records through the same chain.
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.ExceptionRenderer(
                    structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
                ),
                redact_secrets,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(numeric, logging.INFO))


def get_logger(name: str | None = None, **bound: Any) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name, **bound)
