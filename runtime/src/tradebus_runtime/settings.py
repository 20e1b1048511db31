"""Service settings: one frozen pydantic-settings class per service, environment first.

Every service subclasses `ServiceSettings`; the fields here are the ones every process needs. Values are
read from the environment (``NATS_URL``, ``DATABASE_URL``, ``TRADEBUS_HOME``, ``LOG_LEVEL``...), validated
once at start, and never mutated. Defaults are the safe ones: paper mode, local servers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Settings every tradebus service shares."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", env_prefix="", case_sensitive=False)

    nats_url: str = Field(default="nats://127.0.0.1:4222", description="NATS server URL(s), comma separated")
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/tradebus", description="PostgreSQL DSN of this service"
    )
    nats_nkey_seed_file: Path | None = Field(
        default=None, description="this service's NATS nkey seed (a secured server); unset: connect without one"
    )
    tradebus_home: Path = Field(default=Path(".tradebus"), description="state directory of the local stack")
    log_level: str = Field(default="info")
    log_format: str = Field(default="json", description="json (default) or console")
    shutdown_timeout_s: float = Field(default=8.0, gt=0)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        value = value.lower()
        if value not in {"debug", "info", "warning", "error"}:
            raise ValueError(f"log_level must be debug, info, warning or error, got {value!r}")
        return value

    @field_validator("log_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value not in {"json", "console"}:
            raise ValueError(f"log_format must be json or console, got {value!r}")
        return value


S = TypeVar("S", bound=ServiceSettings)


def load_settings(cls: type[S], service: str) -> S:
    """Read and validate a service's settings; a bad or missing value stops the process with a clear message
    naming the environment variable, never a traceback."""
    try:
        return cls()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]).upper() if error["loc"] else "?"
            problems.append(f"  {name}: {error['msg']}")
        raise SystemExit(f"{service}: invalid settings (environment):\n" + "\n".join(problems)) from None
